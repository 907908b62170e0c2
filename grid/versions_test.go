package grid_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"

	"safegrid/grid"
	"safegrid/grid/testdb"
)

// unversioned are the tables no kept answer reads: they have no data-version trigger. The
// notification tables (migration 00013) and the photo tables (00015) are read only by routes
// whose answers are not kept.
var unversioned = []string{"sessions", "audit_log", "data_versions", "goose_db_version", "spatial_ref_sys",
	"notify_outbox", "notifications", "webhooks", "webhook_deliveries", "webhook_attempts", "hazard_reminders",
	"photo_uploads", "photos",
	// written only by imports and the licences load, read only by the dossier, which is not kept
	"enterprise_risk_levels", "enterprise_licences",
	// the risk assessment (migration 00019): snapshots are append-only and answers read
	// from one are keyed by its id
	"risk_configs", "risk_snapshots", "risk_runs", "risk_cells", "risk_areas", "risk_zones", "risk_zone_areas", "risk_warnings"}

// Every table of the schema but those moves its counter up with each statement that
// writes it, in the writing transaction (a rolled-back write leaves the counter alone),
// also with the ordinary triggers off as in the import's bulk path.
func TestEveryTableBumpsItsVersion(t *testing.T) {
	st := testdb.New(t, nil)
	ctx := context.Background()
	rows, _ := testdb.DB(st).Query(ctx, `SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' AND NOT tablename = ANY($1) ORDER BY 1`, unversioned)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(tables) < 14 {
		t.Fatalf("tables %v: %v", tables, err)
	}
	var mayReplica bool
	if err := testdb.DB(st).QueryRow(ctx, `SELECT has_parameter_privilege('session_replication_role', 'SET')`).Scan(&mayReplica); err != nil {
		t.Fatal(err)
	}
	counters := map[string]bool{}
	for _, table := range tables {
		counters[grid.VersionName(table)] = true
	}
	if len(counters) != len(grid.VersionNames()) {
		t.Errorf("counters %v, grid.VersionNames() %v", counters, grid.VersionNames())
	}
	for _, n := range grid.VersionNames() {
		if !counters[n] {
			t.Errorf("grid.VersionNames() has %s, which no table bumps", n)
		}
	}
	for _, table := range tables {
		name := grid.VersionName(table)
		before, err := st.DataVersions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := before.Counts[name]; !ok {
			t.Errorf("%s: no counter %q", table, name)
			continue
		}
		// A statement that writes no row still runs the statement-level trigger.
		if _, err := testdb.DB(st).Exec(ctx, `DELETE FROM `+table+` WHERE false`); err != nil {
			t.Fatal(err)
		}
		after, err := st.DataVersions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for n, v := range after.Counts {
			if moved := v != before.Counts[n]; moved != (n == name) || v < before.Counts[n] {
				t.Errorf("after writing %s: %s went from %d to %d", table, n, before.Counts[n], v)
			}
		}
		k0, _ := before.Key(name)
		k1, _ := after.Key(name)
		if k0 == k1 {
			t.Errorf("%s: key %q did not change", table, k0)
		}
		errRollback := errors.New("roll back")
		err = pgx.BeginFunc(ctx, testdb.DB(st), func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE false`); err != nil {
				return err
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Fatal(err)
		}
		again, _ := st.DataVersions(ctx)
		if again.Counts[name] != after.Counts[name] {
			t.Errorf("%s: a rolled-back write moved %s from %d to %d", table, name, after.Counts[name], again.Counts[name])
		}
		// session_replication_role = replica silences ordinary triggers; these are ALWAYS.
		if !mayReplica {
			continue
		}
		err = pgx.BeginFunc(ctx, testdb.DB(st), func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SET LOCAL session_replication_role = replica`); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE false`)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if replica, _ := st.DataVersions(ctx); replica.Counts[name] <= again.Counts[name] {
			t.Errorf("%s: no step with session_replication_role = replica", table)
		}
	}
}

func TestVersionsKey(t *testing.T) {
	v := grid.Versions{Counts: map[string]int64{"hazards": 3, "enterprises": 7, "grid": 1}}
	k, ok := v.Key("grid", "enterprises", "grid")
	if !ok || k != "enterprises=7;grid=1;" {
		t.Errorf("Key = %q, %v", k, ok)
	}
	all, ok := v.Key()
	if !ok || all != "enterprises=7;grid=1;hazards=3;" {
		t.Errorf("Key() = %q, %v", all, ok)
	}
	if _, ok := v.Key("enterprises", "pipelines"); ok {
		t.Error("a name without a counter gave a key")
	}
	if _, ok := (grid.Versions{Counts: map[string]int64{}}).Key(); ok {
		t.Error("no counters gave a key")
	}
}
