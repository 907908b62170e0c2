package main

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"safegrid/grid/testdb"
)

// serve's loop raises the hazard rules' warnings between recomputes: a major hazard
// installation's overdue 重大 hazard is warned within a run, once, with its messages queued.
func TestServeRaisesRiskHazardWarnings(t *testing.T) {
	st := testdb.New(t, testdb.RiskDistricts)
	ctx := context.Background()
	db := testdb.DB(st)
	testdb.NewRiskRows(t, st).Snapshot("2026-12-01", map[string]any{"rules": map[string]any{"major_hazard_overdue": map[string]any{"enabled": true}}})
	for _, q := range []string{
		`INSERT INTO enterprises (district_code, uscc, name, industry, risk_level, major_hazard, street_code, community_code, h3, geom)
VALUES ('310116', '91310116MA1FL00033', '金山石化', '危化品生产', '重大', true, '310116001', '310116001001', 0, ST_SetSRID(ST_MakePoint(121.25, 30.8), 4326))`,
		`INSERT INTO hazards (district_code, level, category, description, feature_kind, feature_code, street_code, community_code, h3, geom, deadline, reported_at)
VALUES ('310116', '重大', '消防', '储罐区消防通道堵塞', 'enterprises', '91310116MA1FL00033', '310116001', '310116001001', 0,
        ST_SetSRID(ST_MakePoint(121.25, 30.8), 4326), DATE '2020-01-01', '2019-12-01')`,
	} {
		if _, err := db.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		raiseRiskWarnings(rctx, st, 20*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))
		close(done)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for testdb.Count(t, st, `SELECT count(*) FROM risk_warnings`) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // a few more runs
	stop()
	<-done
	if n := testdb.Count(t, st, `SELECT count(*) FROM risk_warnings WHERE rule = 'major_hazard_overdue' AND district_code = '310116' AND snapshot_id IS NULL`); n != 1 {
		t.Errorf("%d warnings, want 1", n)
	}
	if n := testdb.Count(t, st, `SELECT count(*) FROM notify_outbox WHERE kind = 'risk_warning'
   AND (recipient_kind, recipient) IN (('street', '310116001'), ('district', '310116'))`); n != 2 {
		t.Errorf("%d messages, want the street's and the district's", n)
	}
}
