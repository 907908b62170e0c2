package risk_test

import (
	"context"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"

	"safegrid/grid"
	"safegrid/grid/risk"
	"safegrid/grid/testdb"
)

func TestRiskDefaultConfigValid(t *testing.T) {
	if err := risk.DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestRiskValidate: each refusal names its field by its JSON path under config.
func TestRiskValidate(t *testing.T) {
	for _, tc := range []struct {
		field string
		edit  func(c *risk.Config)
	}{
		{"config.enterprise.重大", func(c *risk.Config) { c.Enterprise["重大"] = -1 }},
		{"config.enterprise.较大", func(c *risk.Config) { c.Enterprise["较大"] = math.NaN() }},
		{"config.enterprise.一般", func(c *risk.Config) { c.Enterprise["一般"] = math.Inf(1) }},
		{"config.enterprise.低", func(c *risk.Config) { delete(c.Enterprise, "低") }},
		{"config.enterprise.极高", func(c *risk.Config) { c.Enterprise["极高"] = 1 }},
		{"config.major_hazard", func(c *risk.Config) { c.MajorHazard = -0.5 }},
		{"config.hazchem", func(c *risk.Config) { c.Hazchem = math.NaN() }},
		{"config.hazard.重大", func(c *risk.Config) { c.Hazard["重大"] = -3 }},
		{"config.hazard.较大", func(c *risk.Config) { c.Hazard["较大"] = 3 }},
		{"config.hazard_overdue", func(c *risk.Config) { c.HazardOverdue = 0.5 }},
		{"config.pipeline.次高压", func(c *risk.Config) { delete(c.Pipeline, "次高压") }},
		{"config.pipeline.超高压", func(c *risk.Config) { c.Pipeline["超高压"] = 1 }},
		{"config.gas_site.整治中", func(c *risk.Config) { c.GasSite["整治中"] = -1 }},
		{"config.gas_site.pending", func(c *risk.Config) { c.GasSite["pending"] = 1 }},
		{"config.underground.轨交站", func(c *risk.Config) { delete(c.Underground, "轨交站") }},
		{"config.underground.地下室", func(c *risk.Config) { c.Underground["地下室"] = 2 }},
		{"config.thresholds.street.orange", func(c *risk.Config) { c.Thresholds["street"] = risk.Thresholds{Red: 10, Orange: 5, Yellow: 5} }},
		{"config.thresholds.cell.red", func(c *risk.Config) { c.Thresholds["cell"] = risk.Thresholds{Red: 5, Orange: 6, Yellow: 1} }},
		{"config.thresholds.district.yellow", func(c *risk.Config) { c.Thresholds["district"] = risk.Thresholds{Red: 3, Orange: 2, Yellow: 0} }},
		{"config.thresholds.community", func(c *risk.Config) { delete(c.Thresholds, "community") }},
		{"config.thresholds.city", func(c *risk.Config) { c.Thresholds["city"] = risk.Thresholds{Red: 3, Orange: 2, Yellow: 1} }},
		{"config.spill.k", func(c *risk.Config) { c.Spill.K = 4 }},
		{"config.spill.k", func(c *risk.Config) { c.Spill.K = -1 }},
		{"config.spill.share", func(c *risk.Config) { c.Spill.Share = 1.5 }},
		{"config.fire.reach_minutes", func(c *risk.Config) { c.Fire.ReachMinutes = 0.5 }},
		{"config.fire.speed_kmh", func(c *risk.Config) { c.Fire.SpeedKmh = 201 }},
		{"config.fire.detour", func(c *risk.Config) { c.Fire.Detour = 0.9 }},
		{"config.fire.factor", func(c *risk.Config) { c.Fire.Factor = 11 }},
		{"config.rules.hazard_burst.cell_count", func(c *risk.Config) { c.Rules.HazardBurst.CellCount = 0 }},
		{"config.rules.hazard_burst.street_count", func(c *risk.Config) { c.Rules.HazardBurst.StreetCount = -2 }},
		{"config.rules.hazard_burst.days", func(c *risk.Config) { c.Rules.HazardBurst.Days = 366 }},
		{"config.rules.hazard_burst.days", func(c *risk.Config) { c.Rules.HazardBurst.Days = 0 }},
	} {
		c := risk.DefaultConfig()
		tc.edit(&c)
		err := c.Validate()
		var be *risk.BadInputError
		if !errors.As(err, &be) || len(be.Errors) != 1 || be.Errors[0].Field != tc.field || be.Errors[0].Reason == "" {
			t.Errorf("%s: %v, want one refusal naming it", tc.field, err)
		}
	}
	// Several faults: each named.
	c := risk.DefaultConfig()
	c.Enterprise["重大"] = -1
	c.Spill.Share = -1
	c.Thresholds = nil
	var be *risk.BadInputError
	if err := c.Validate(); !errors.As(err, &be) || len(be.Errors) != 6 {
		t.Errorf("three faults: %v", err)
	}
}

// TestRiskSetConfig: admins only, validated (a refused one changes nothing), audited in
// the same transaction, and then in force.
func TestRiskSetConfig(t *testing.T) {
	st := testdb.New(t, nil)
	svc := risk.New(st)
	ctx := context.Background()
	admin := &grid.Principal{Username: "admin1", Role: grid.RoleAdmin}
	cur, err := svc.CurrentConfig(ctx)
	if err != nil || cur.ID != 0 || cur.CreatedBy != "default" || cur.Config.Enterprise["重大"] != risk.DefaultConfig().Enterprise["重大"] {
		t.Fatalf("defaults: %+v %v", cur, err)
	}
	cfg := risk.DefaultConfig()
	cfg.Hazchem = 12
	for _, p := range []*grid.Principal{nil, {Username: "p", Role: grid.RolePlanner}, {Username: "o", Role: grid.RoleOfficer},
		{Username: "d", Role: grid.RoleDistrict, DistrictCode: "310104"}, {Username: "s", Role: grid.RoleStreet, StreetCode: "310104003"}} {
		if _, err := svc.SetConfig(ctx, p, cfg, ""); !errors.Is(err, grid.ErrForbidden) {
			t.Errorf("%+v: %v, want ErrForbidden", p, err)
		}
	}
	bad := risk.DefaultConfig()
	bad.Thresholds["street"] = risk.Thresholds{Red: 1, Orange: 2, Yellow: 3}
	_, err = svc.SetConfig(ctx, admin, bad, strings.Repeat("长", 501))
	var be *risk.BadInputError
	if !errors.As(err, &be) || len(be.Errors) != 3 {
		t.Fatalf("bad config and note: %v", err)
	}
	fields := map[string]bool{}
	for _, e := range be.Errors {
		fields[e.Field] = true
	}
	if !fields["note"] || !fields["config.thresholds.street.orange"] || !fields["config.thresholds.street.red"] {
		t.Errorf("fields %v", fields)
	}
	if _, err := svc.SetConfig(ctx, admin, cfg, "a\x00b"); !risk.IsBadInput(err) {
		t.Errorf("a NUL in the note: %v", err)
	}
	if n := testdb.Count(t, st, `SELECT count(*) FROM risk_configs`) + testdb.Count(t, st, `SELECT count(*) FROM audit_log WHERE action = 'risk_config'`); n != 0 {
		t.Fatalf("refusals wrote %d rows", n)
	}
	rec, err := svc.SetConfig(ctx, admin, cfg, "  hazchem 12 ")
	if err != nil || rec.ID == 0 || rec.Note != "hazchem 12" || rec.CreatedBy != "admin1" {
		t.Fatalf("set: %+v %v", rec, err)
	}
	if n := testdb.Count(t, st, `SELECT count(*) FROM audit_log WHERE action = 'risk_config' AND actor = 'admin1' AND target = $1
AND (details->'config'->>'hazchem')::float8 = 12`, strconv.FormatInt(rec.ID, 10)); n != 1 {
		t.Errorf("%d audit records", n)
	}
	cur, err = svc.CurrentConfig(ctx)
	if err != nil || cur.ID != rec.ID || cur.Config.Hazchem != 12 || cur.Note != "hazchem 12" {
		t.Errorf("current: %+v %v", cur, err)
	}
}
