package testdb

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/uber/h3-go/v4"

	"safegrid/geo"
	"safegrid/grid"
)

// AssessFixture is the officer assessment's (grid/assess) world, shared by its tests and
// api's. Two districts: 黄浦 310101 with streets A (310101001) and B (310101002), 徐汇
// 310104 with street C (310104001). Grid units: U1 (street A, officer off1), U2 (A, off2),
// U3 (B, off1: an officer across two streets), U4 (C, no officer). Users (password
// "password-<name>"): off1, off2, sta (street A), stb (street B), dist (district 310101),
// distx (district 310104), adm, plan.
//
// Enterprises, inspections and hazards are placed around November 2026 in Shanghai
// time, with month boundaries on both sides (docs/ASSESSMENT.md; the hand-checked
// figures are in grid/assess's tests):
//
//	E1 重大 U1: inspected 2026-10-20, 2026-11-10 located
//	E2 较大 U1: inspected 2026-10-05, then 2026-11-30T16:30Z (December 1st in Shanghai) located
//	E3 一般 U1: inspected 2026-09-15, 2026-11-30T15:30Z (November 30th in Shanghai) far
//	E4 低   U1: inspected 2026-08-10, 2026-11-20 inaccurate
//	E5 重大 U2: never inspected
//	E6 一般 U2: inspected 2026-10-31T16:10Z (November 1st in Shanghai) located
//	E7 较大 U3: inspected 2026-10-31T15:50Z (October), 2026-11-15 unlocated
//	E8 一般 U4: inspected 2026-11-05 located
//	E9 重大 in no unit (street B): inspected 2026-11-05 located
//
// Hazards (reported; deadline; the history that matters; status now):
//
//	Z1 U1: 11-03; 11-20; verified 11-18, closed 11-25; closed
//	Z2 U1: 10-10; 11-10; verified 11-12; verified
//	Z3 U1: 11-25; today-3; rectifying (overdue now)
//	Z4 U2: 2026-11-30T16:30Z (December); today+10; reported
//	Z5 U2: 09-01; 11-30; verified 2026-11-30T15:59Z (November 30th in Shanghai); verified
//	Z6 U3: 11-02; 11-30; verified 11-20, rejected 11-22, verified 2026-11-30T16:30Z, closed 12-02; closed
//	Z7 U4: 11-05; today-1; assigned (overdue now)
//	Z8 in no unit (street B): 11-05; today-5; reported
type AssessFixture struct {
	Store *grid.Store
	Users map[string]int64 // username → id
	Today time.Time        // the Shanghai date the fixture's "today" deadlines count from
}

// The fixture's areas.
const (
	AssessDistrict  = "310101"
	AssessDistrictX = "310104"
	AssessStreetA   = "310101001"
	AssessStreetB   = "310101002"
	AssessStreetC   = "310104001"
)

// Assess loads AssessFixture into st (a fresh migrated database).
func Assess(t testing.TB, st *grid.Store) *AssessFixture {
	t.Helper()
	ctx := context.Background()
	db := DB(st)
	exec := fixtureExec(t, db)
	twoDistricts(t, db)

	f := &AssessFixture{Store: st}
	now := time.Now().In(grid.ShanghaiZone())
	f.Today = time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, grid.ShanghaiZone())
	f.Users = addUsers(t, db, []fixtureUser{
		{"off1", grid.RoleOfficer, "", ""}, {"off2", grid.RoleOfficer, "", ""},
		{"sta", grid.RoleStreet, AssessStreetA, ""}, {"stb", grid.RoleStreet, AssessStreetB, ""},
		{"dist", grid.RoleDistrict, "", AssessDistrict}, {"distx", grid.RoleDistrict, "", AssessDistrictX},
		{"adm", grid.RoleAdmin, "", ""}, {"plan", grid.RolePlanner, "", ""},
	})
	exec(`INSERT INTO grid_units (code, name, street_code, officer_id) VALUES
		('U1', '甲一网格', $1, $3), ('U2', '甲二网格', $1, $4), ('U3', '乙一网格', $2, $3), ('U4', '丙一网格', $5, NULL)`,
		AssessStreetA, AssessStreetB, f.Users["off1"], f.Users["off2"], AssessStreetC)
	cell := func(lon, lat float64) h3.Cell { return geo.PointCell(orb.Point{lon, lat}, geo.SupervisionRes) }
	cells := map[string]h3.Cell{
		"U1a": cell(121.43, 31.20), "U1b": cell(121.45, 31.25), "U2": cell(121.42, 31.26),
		"U3": cell(121.50, 31.22), "U4": cell(121.45, 31.14), "none": cell(121.52, 31.26),
	}
	for k, unit := range map[string]string{"U1a": "U1", "U1b": "U1", "U2": "U2", "U3": "U3", "U4": "U4"} {
		district := AssessDistrict
		if unit == "U4" {
			district = AssessDistrictX
		}
		exec(`INSERT INTO grid_cells (district_code, h3, unit_code) VALUES ($1, $2, $3)`, district, int64(cells[k]), unit)
	}
	at := func(c h3.Cell, dx float64) orb.Point {
		ll := h3.CellToLatLng(c)
		return orb.Point{ll.Lng + dx, ll.Lat}
	}
	const tagged = `FROM (SELECT ST_SetSRID(ST_MakePoint($1, $2), 4326) AS p) g, LATERAL area_tag(g.p) t`
	enterprise := func(n int, c h3.Cell, risk string) {
		p := at(c, 0.0001*float64(n%4))
		body := fmt.Sprintf("9131010%010d", 900+n)
		ch, err := geo.USCCCheckChar(body)
		if err != nil {
			t.Fatal(err)
		}
		exec(`INSERT INTO enterprises (district_code, uscc, name, industry, risk_level, street_code, community_code, h3, geom)
			SELECT t.district_code, $3, $4, '工贸', $5, t.street_code, t.community_code, $6, g.p `+tagged,
			p[0], p[1], body+string(ch), fmt.Sprintf("E%d", n), risk, int64(c))
	}
	inspect := func(n int, when, checkin string) {
		exec(`INSERT INTO inspections (district_code, enterprise_id, officer_id, inspected_at, result, h3, geom, checkin)
			SELECT district_code, id, $2, $3::timestamptz, 'passed', h3, geom, $4 FROM enterprises WHERE name = $1`,
			fmt.Sprintf("E%d", n), f.Users["off1"], when, checkin)
	}
	enterprise(1, cells["U1a"], "重大")
	enterprise(2, cells["U1a"], "较大")
	enterprise(3, cells["U1b"], "一般")
	enterprise(4, cells["U1b"], "低")
	enterprise(5, cells["U2"], "重大")
	enterprise(6, cells["U2"], "一般")
	enterprise(7, cells["U3"], "较大")
	enterprise(8, cells["U4"], "一般")
	enterprise(9, cells["none"], "重大")
	inspect(1, "2026-10-20 10:00+08", "located")
	inspect(1, "2026-11-10 10:00+08", "located")
	inspect(2, "2026-10-05 10:00+08", "located")
	inspect(2, "2026-11-30T16:30:00Z", "located")
	inspect(3, "2026-09-15 10:00+08", "unlocated")
	inspect(3, "2026-11-30T15:30:00Z", "far")
	inspect(4, "2026-08-10 10:00+08", "located")
	inspect(4, "2026-11-20 10:00+08", "inaccurate")
	inspect(6, "2026-10-31T16:10:00Z", "located")
	inspect(7, "2026-10-31T15:50:00Z", "located")
	inspect(7, "2026-11-15 10:00+08", "unlocated")
	inspect(8, "2026-11-05 10:00+08", "located")
	inspect(9, "2026-11-05 10:00+08", "located")

	day := func(d int) string { return f.Today.AddDate(0, 0, d).Format(time.DateOnly) }
	hazard := func(n int, c h3.Cell, reported, deadline, status string, history ...string) {
		t.Helper()
		p := at(c, -0.0001)
		var district string
		var id int64
		if err := db.QueryRow(ctx, `INSERT INTO hazards (district_code, code, level, category, description, status,
			deadline, reported_at, street_code, community_code, h3, geom)
			SELECT t.district_code, $3, '一般', '消防安全', $4, $5, $6::date, $7::timestamptz, t.street_code, t.community_code, $8, g.p `+tagged+`
			RETURNING district_code, id`, p[0], p[1], fmt.Sprintf("Z%d", n), fmt.Sprintf("隐患Z%d", n), status, deadline, reported, int64(c)).
			Scan(&district, &id); err != nil {
			t.Fatal(err)
		}
		from := ""
		steps := append([]string{"reported", reported}, history...)
		for i := 0; i+1 < len(steps); i += 2 {
			exec(`INSERT INTO hazard_history (district_code, hazard_id, from_status, to_status, actor, at)
				VALUES ($1, $2, nullif($3, ''), $4, 'sta', $5::timestamptz)`, district, id, from, steps[i], steps[i+1])
			from = steps[i]
		}
	}
	hazard(1, cells["U1a"], "2026-11-03 09:00+08", "2026-11-20", "closed",
		"registered", "2026-11-04 09:00+08", "assigned", "2026-11-05 09:00+08", "rectifying", "2026-11-06 09:00+08",
		"verified", "2026-11-18 09:00+08", "closed", "2026-11-25 09:00+08")
	hazard(2, cells["U1b"], "2026-10-10 09:00+08", "2026-11-10", "verified",
		"registered", "2026-10-11 09:00+08", "assigned", "2026-10-12 09:00+08", "rectifying", "2026-10-13 09:00+08",
		"verified", "2026-11-12 09:00+08")
	hazard(3, cells["U1a"], "2026-11-25 09:00+08", day(-3), "rectifying",
		"registered", "2026-11-25 10:00+08", "assigned", "2026-11-25 11:00+08", "rectifying", "2026-11-26 09:00+08")
	hazard(4, cells["U2"], "2026-11-30T16:30:00Z", day(10), "reported")
	hazard(5, cells["U2"], "2026-09-01 09:00+08", "2026-11-30", "verified",
		"registered", "2026-09-02 09:00+08", "assigned", "2026-09-03 09:00+08", "rectifying", "2026-09-04 09:00+08",
		"verified", "2026-11-30T15:59:00Z")
	hazard(6, cells["U3"], "2026-11-02 09:00+08", "2026-11-30", "closed",
		"registered", "2026-11-03 09:00+08", "assigned", "2026-11-04 09:00+08", "rectifying", "2026-11-05 09:00+08",
		"verified", "2026-11-20 09:00+08", "rectifying", "2026-11-22 09:00+08",
		"verified", "2026-11-30T16:30:00Z", "closed", "2026-12-02 09:00+08")
	hazard(7, cells["U4"], "2026-11-05 09:00+08", day(-1), "assigned",
		"registered", "2026-11-05 10:00+08", "assigned", "2026-11-05 11:00+08")
	hazard(8, cells["none"], "2026-11-05 09:00+08", day(-5), "reported")
	return f
}
