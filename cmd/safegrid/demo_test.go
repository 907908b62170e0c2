package main

import (
	"context"
	"strings"
	"testing"

	"safegrid/grid/testdb"
)

// The demo loads the whole city into an empty database; loading it again (as a second
// `make run` does) changes nothing, and --force updates in place without duplicates.
func TestDemoLoadsOnceAndReloadsInPlace(t *testing.T) {
	if testing.Short() {
		t.Skip("loads the whole demo city")
	}
	st := testdb.New(t, nil)
	url := testdb.URL(t, st)
	out, err := run(t, url, "demo")
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	if !strings.Contains(out, "demo logins") || !strings.Contains(out, DemoPassword) || !strings.Contains(out, "district   district_310") {
		t.Errorf("demo output lacks the logins:\n%s", out)
	}
	ctx := context.Background()
	tables := []string{"areas", "enterprises", "pipelines", "gas_occupancy_sites", "fire_stations", "fishing_ports", "underground_spaces", "hazards", "hazard_history", "users", "grid_units", "grid_cells", "inspections", "enterprise_licences", "risk_zones", "risk_zone_areas", "risk_snapshots"}
	counts := func() map[string]int {
		m := map[string]int{}
		for _, tb := range tables {
			m[tb] = countRows(t, st, tb)
		}
		return m
	}
	first := counts()
	for _, check := range []struct {
		what string
		sql  string
		want func(int) bool
	}{
		{"districts", `SELECT count(*) FROM areas WHERE level = 'district'`, func(n int) bool { return n == 16 }},
		{"streets", `SELECT count(*) FROM areas WHERE level = 'street'`, func(n int) bool { return n >= 200 && n <= 234 }},
		{"synthetic streets", `SELECT count(*) FROM areas WHERE level <> 'district' AND NOT synthetic`, func(n int) bool { return n == 0 }},
		{"enterprises", `SELECT count(*) FROM enterprises`, func(n int) bool { return n >= 19000 && n <= 21000 }},
		{"untagged enterprises", `SELECT count(*) FROM enterprises WHERE street_code IS NULL OR community_code IS NULL`, func(n int) bool { return n == 0 }},
		{"chemical cluster in 金山/奉贤", `SELECT count(*) FROM enterprises WHERE industry LIKE '危化品%' AND district_code IN ('310116', '310120')`, func(n int) bool { return n >= 300 }},
		{"occupancy sites on gas pipes", `SELECT count(*) FROM gas_occupancy_sites o WHERE EXISTS (SELECT 1 FROM pipelines p WHERE p.code = o.pipeline_code AND p.medium = 'gas' AND ST_DWithin(p.geom::geography, o.geom::geography, 1))`, func(n int) bool { return n == 255 }},
		{"fire stations", `SELECT count(*) FROM fire_stations`, func(n int) bool { return n >= 150 && n <= 190 }},
		{"fishing vessels", `SELECT sum(vessels) FROM fishing_ports`, func(n int) bool { return n == 409 }},
		{"横沙渔港", `SELECT count(*) FROM fishing_ports WHERE name = '横沙渔港'`, func(n int) bool { return n == 1 }},
		{"overdue hazards", `SELECT count(*) FROM hazards WHERE deadline < DATE '2026-11-01' AND status NOT IN ('verified', 'closed')`, func(n int) bool { return n > 0 }},
		{"units without officer", `SELECT count(*) FROM grid_units WHERE officer_id IS NULL`, func(n int) bool { return n == 0 }},
		{"enterprises outside every grid cell", `SELECT count(*) FROM enterprises e WHERE NOT EXISTS (SELECT 1 FROM grid_cells g WHERE g.h3 = e.h3)`, func(n int) bool { return n == 0 }},
		// check-in: the inspection history is each cell's officer's, mostly located
		{"inspections", `SELECT count(*) FROM inspections`, func(n int) bool { return n >= 20000 }},
		{"inspections without an officer", `SELECT count(*) FROM inspections WHERE officer_id IS NULL`, func(n int) bool { return n == 0 }},
		{"located check-ins (%)", `SELECT (100 * avg((checkin = 'located')::int))::int FROM inspections`, func(n int) bool { return n >= 70 && n <= 90 }},
		{"far check-ins", `SELECT count(*) FROM inspections WHERE checkin = 'far' AND checkin_distance_m > 200`, func(n int) bool { return n > 1000 }},
		{"unlocated check-ins", `SELECT count(*) FROM inspections WHERE checkin = 'unlocated' AND checkin_geom IS NULL`, func(n int) bool { return n > 1000 }},
		// licences: every hazardous-chemical enterprise holds one; some expired or expiring on the reference date
		{"hazardous-chemical enterprises without a licence", `SELECT count(*) FROM enterprises e WHERE e.industry LIKE '危化品%'
			AND NOT EXISTS (SELECT 1 FROM enterprise_licences l WHERE l.district_code = e.district_code AND l.uscc = e.uscc)`, func(n int) bool { return n == 0 }},
		{"licences of other enterprises", `SELECT count(*) FROM enterprise_licences l JOIN enterprises e USING (district_code, uscc) WHERE e.industry NOT LIKE '危化品%'`, func(n int) bool { return n > 100 }},
		{"licences expired on the reference date (%)", `SELECT (100 * avg((valid_until < DATE '2026-11-01')::int))::int FROM enterprise_licences`, func(n int) bool { return n >= 5 && n <= 15 }},
		{"licences expiring within 30 days of it", `SELECT count(*) FROM enterprise_licences WHERE valid_until BETWEEN DATE '2026-11-01' AND DATE '2026-12-01'`, func(n int) bool { return n > 20 }},
		{"roles", `SELECT count(DISTINCT role) FROM users`, func(n int) bool { return n == 5 }},
		{"districts without a bureau user", `SELECT count(*) FROM areas a WHERE a.level = 'district'
			AND NOT EXISTS (SELECT 1 FROM users u WHERE u.role = 'district' AND u.district_code = a.code AND u.username = 'district_' || a.code)`, func(n int) bool { return n == 0 }},
		// the joint-control zone 联动联控区 of the Hangzhou Bay chemical belt
		{"zone hangzhou-bay: 金山 and 奉贤", `SELECT count(*) FROM risk_zones z JOIN risk_zone_areas za ON za.zone_code = z.code
			WHERE z.code = 'hangzhou-bay' AND z.name LIKE '杭州湾北岸化工联动联控区%' AND z.geom IS NULL AND za.area_code IN ('310116', '310120')`, func(n int) bool { return n == 2 }},
		{"other zone areas", `SELECT count(*) FROM risk_zone_areas WHERE zone_code <> 'hangzhou-bay' OR area_code NOT IN ('310116', '310120')`, func(n int) bool { return n == 0 }},
		// risk: four monthly snapshots back-filled up to the reference date, with red cells in the chemical belt
		{"demo risk snapshots", `SELECT count(*) FROM risk_snapshots WHERE trigger = 'demo'
			AND taken_on IN ('2026-08-01', '2026-09-01', '2026-10-01', '2026-11-01') AND cells > 1000`, func(n int) bool { return n == 4 }},
		{"red-scoring cells in 金山/奉贤 (%)", `SELECT (100 * avg((district_code IN ('310116', '310120'))::int))::int FROM risk_cells
			WHERE score_colour = 'red' AND snapshot_id = (SELECT max(id) FROM risk_snapshots)`, func(n int) bool { return n >= 40 }},
		{"bureau users of 金山/奉贤", `SELECT count(*) FROM users WHERE username IN ('district_310116', 'district_310120') AND role = 'district'`, func(n int) bool { return n == 2 }},
	} {
		var n int
		if err := testdb.DB(st).QueryRow(ctx, check.sql).Scan(&n); err != nil {
			t.Fatalf("%s: %v", check.what, err)
		}
		if !check.want(n) {
			t.Errorf("%s: %d", check.what, n)
		}
	}

	out, err = run(t, url, "demo")
	if err != nil || !strings.Contains(out, "already loaded") {
		t.Fatalf("second demo: %v\n%s", err, out)
	}
	if _, err := run(t, url, "demo", "--force"); err != nil {
		t.Fatal(err)
	}
	again := counts()
	for _, tb := range tables {
		if again[tb] != first[tb] {
			t.Errorf("%s: %d rows after --force, %d before", tb, again[tb], first[tb])
		}
	}
}
