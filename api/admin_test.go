package api

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"safegrid/geo"
	"safegrid/grid"
	"safegrid/grid/supervise"
	"safegrid/grid/testdb"
)

func unitOf(t *testing.T, body []byte) supervise.UnitDetail {
	t.Helper()
	var u supervise.UnitDetail
	if err := json.Unmarshal(body, &u); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	return u
}

func TestGridUnits(t *testing.T) {
	ls := newLifecycleServer(t) // W1 (wang) holds the cells of westSouth and westNorth
	a, b := cellOf(orb.Point{121.43, 31.12}), cellOf(orb.Point{121.43, 31.13})
	unit := func(code, street string, cells ...string) string {
		js, _ := json.Marshal(map[string]any{"code": code, "name": code + "网格", "street_code": street, "cells": cells})
		return string(js)
	}

	for _, user := range []string{"pei", "zhou", "wang"} {
		resp, body := ls.as(t, user, "POST", "/api/v1/grid/units", unit("W2", westStreet, a))
		problemOf(t, resp, body, 403)
		resp, body = ls.as(t, user, "GET", "/api/v1/grid/units", "")
		problemOf(t, resp, body, 403)
	}

	resp, body := ls.as(t, "ann", "POST", "/api/v1/grid/units", unit("W2", westStreet, a, a))
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	if u := unitOf(t, body); u.Code != "W2" || u.Cells != 1 || !slices.Equal(u.CellIDs, []string{a}) || u.Officer != nil {
		t.Errorf("created %+v", u)
	}

	// A cell outside the street: 422 naming the cell.
	east := cellOf(eastPoint)
	resp, body = ls.as(t, "ann", "POST", "/api/v1/grid/units", unit("W3", westStreet, b, east))
	p := problemOf(t, resp, body, 422)
	if len(p.Errors) != 1 || !strings.Contains(p.Errors[0].Reason, east) || !strings.Contains(p.Errors[0].Reason, eastStreet) {
		t.Errorf("a cell in another street: %+v", p)
	}
	// A cell of another unit: 409 naming the cell and its unit.
	resp, body = ls.as(t, "ann", "POST", "/api/v1/grid/units", unit("W3", westStreet, b, cellOf(westSouth)))
	if p := problemOf(t, resp, body, 409); !strings.Contains(p.Detail, cellOf(westSouth)) || !strings.Contains(p.Detail, "W1") {
		t.Errorf("a cell in two units: %+v", p)
	}
	// Not resolution 9, not a cell, no cells, an unknown street, an existing code.
	coarse := geo.PointCell(westSouth, 8).String()
	resp, body = ls.as(t, "ann", "POST", "/api/v1/grid/units", unit("W3", westStreet, b, coarse, "zzz"))
	if p := problemOf(t, resp, body, 422); !slices.Equal(fields(p), []string{"cells[1]", "cells[2]"}) || !strings.Contains(p.Detail, "resolution 8") {
		t.Errorf("bad cells: %+v", p)
	}
	resp, body = ls.as(t, "ann", "POST", "/api/v1/grid/units", unit("W3", westStreet))
	problemOf(t, resp, body, 422)
	resp, body = ls.as(t, "ann", "POST", "/api/v1/grid/units", unit("W3", "310104999", b))
	if p := problemOf(t, resp, body, 422); !slices.Equal(fields(p), []string{"street_code"}) {
		t.Errorf("unknown street: %+v", p)
	}
	resp, body = ls.as(t, "ann", "POST", "/api/v1/grid/units", unit("W2", westStreet, b))
	problemOf(t, resp, body, 409)
	if n := testdb.Count(t, ls.st, `SELECT count(*) FROM grid_units WHERE code = 'W3'`); n != 0 {
		t.Errorf("a refused unit was written")
	}

	// Replace the cells; the officer stays.
	resp, body = ls.as(t, "ann", "PUT", "/api/v1/grid/units/W2", unit("", westStreet, a, b))
	if u := unitOf(t, body); resp.StatusCode != 200 || u.Cells != 2 {
		t.Errorf("update: %d %s", resp.StatusCode, body)
	}
	resp, body = ls.as(t, "ann", "PUT", "/api/v1/grid/units/W9", unit("", westStreet, a))
	problemOf(t, resp, body, 404)
	resp, body = ls.as(t, "ann", "PUT", "/api/v1/grid/units/W2", unit("W5", westStreet, a))
	problemOf(t, resp, body, 422)
	resp, body = ls.as(t, "ann", "PUT", "/api/v1/grid/units/W2", unit("", eastStreet, a))
	problemOf(t, resp, body, 422) // the cells are in the west street

	// Officers.
	resp, body = ls.as(t, "ann", "POST", "/api/v1/grid/units/W2/officer", `{"officer":"zhao"}`)
	if u := unitOf(t, body); resp.StatusCode != 200 || u.Officer == nil || *u.Officer != "zhao" {
		t.Errorf("assign: %d %s", resp.StatusCode, body)
	}
	resp, body = ls.as(t, "ann", "POST", "/api/v1/grid/units/W2/officer", `{"officer":"zhou"}`)
	problemOf(t, resp, body, 422) // a street office user is not an officer
	resp, body = ls.as(t, "wang", "POST", "/api/v1/grid/units/W2/officer", `{"officer":"wang"}`)
	problemOf(t, resp, body, 403)
	resp, body = ls.as(t, "ann", "POST", "/api/v1/grid/units/W9/officer", `{"officer":"zhao"}`)
	problemOf(t, resp, body, 404)
	resp, _ = ls.as(t, "ann", "DELETE", "/api/v1/grid/units/W2/officer", "")
	if resp.StatusCode != 204 {
		t.Errorf("unassign: %d", resp.StatusCode)
	}
	resp, body = ls.as(t, "ann", "GET", "/api/v1/grid/units/W2", "")
	if u := unitOf(t, body); u.Officer != nil {
		t.Errorf("after unassign: %s", body)
	}

	// The list, by street.
	var page supervise.UnitPage
	resp, body = ls.as(t, "ann", "GET", "/api/v1/grid/units?street="+westStreet, "")
	_ = json.Unmarshal(body, &page)
	if resp.StatusCode != 200 || page.Total != 2 || len(page.Items) != 2 || page.Items[0].Code != "W1" ||
		page.Items[0].Officer == nil || *page.Items[0].Officer != "wang" || page.Items[0].Cells != 2 {
		t.Errorf("west units: %s", body)
	}
	_, body = ls.as(t, "ann", "GET", "/api/v1/grid/units?street="+eastStreet, "")
	if !strings.Contains(string(body), `"total":0`) || !strings.Contains(string(body), `"items":[]`) {
		t.Errorf("east units: %s", body)
	}
	resp, body = ls.as(t, "ann", "GET", "/api/v1/grid/units?limit=1&offset=1", "")
	_ = json.Unmarshal(body, &page)
	if page.Total != 2 || len(page.Items) != 1 || page.Items[0].Code != "W2" {
		t.Errorf("second page: %s", body)
	}

	resp, _ = ls.as(t, "ann", "DELETE", "/api/v1/grid/units/W2", "")
	if resp.StatusCode != 204 {
		t.Errorf("delete: %d", resp.StatusCode)
	}
	resp, body = ls.as(t, "ann", "DELETE", "/api/v1/grid/units/W2", "")
	problemOf(t, resp, body, 404)
	if n := testdb.Count(t, ls.st, `SELECT count(*) FROM grid_cells WHERE unit_code = 'W2'`); n != 0 {
		t.Errorf("%d cells left behind", n)
	}
	for action, n := range map[string]int{"unit_create": 2, "unit_update": 1, "unit_delete": 1, "assign": 2, "unassign": 1} {
		if got := testdb.Count(t, ls.st, `SELECT count(*) FROM audit_log WHERE action = $1`, action); got != n {
			t.Errorf("%d %s audit records, want %d", got, action, n)
		}
	}
}

func addEnterprise(t *testing.T, st *grid.Store, n int, risk string, p orb.Point) {
	t.Helper()
	_, err := testdb.DB(st).Exec(context.Background(), `INSERT INTO enterprises (district_code, uscc, name, industry, risk_level, street_code, community_code, h3, geom)
SELECT a.district_code, $1, $2, '工贸', $3, a.street_code, a.community_code, $4, q.p
  FROM (SELECT ST_SetSRID(ST_MakePoint($5::float8, $6::float8), 4326) AS p) q, LATERAL area_tag(q.p) a`,
		fmt.Sprintf("9131010400000000%02d", n), fmt.Sprintf("测试%d公司", n), risk, int64(geo.PointCell(p, geo.SupervisionRes)), p[0], p[1])
	if err != nil {
		t.Fatal(err)
	}
}

func TestGridAudit(t *testing.T) {
	ls := newLifecycleServer(t) // W1 (wang) holds the cells of westSouth and westNorth; zhao has none
	ctx := context.Background()
	if err := supervise.New(ls.st).CreateUnit(ctx, "test", supervise.UnitSpec{Code: "E1", Name: "东一网格", StreetCode: eastStreet, Cells: []string{cellOf(eastPoint)}}); err != nil {
		t.Fatal(err)
	}
	addEnterprise(t, ls.st, 1, "重大", westSouth)                // W1
	addEnterprise(t, ls.st, 2, "低", westNorth)                 // W1
	addEnterprise(t, ls.st, 3, "较大", eastPoint)                // E1, no officer
	addEnterprise(t, ls.st, 4, "一般", orb.Point{121.43, 31.11}) // in no unit

	resp, body := ls.as(t, "zhou", "GET", "/api/v1/grid/audit", "")
	problemOf(t, resp, body, 403)
	resp, body = ls.as(t, "ann", "GET", "/api/v1/grid/audit", "")
	if resp.StatusCode != 200 {
		t.Fatalf("audit: %d %s\n%s", resp.StatusCode, body, ls.logs)
	}
	var a supervise.GridAudit
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatal(err)
	}
	ue := a.UnsupervisedEnterprises
	if ue.Total != 2 || len(ue.Items) != 2 || ue.Items[0].RiskLevel != "较大" || ue.Items[0].Unit == nil || *ue.Items[0].Unit != "E1" ||
		ue.Items[1].RiskLevel != "一般" || ue.Items[1].Unit != nil {
		t.Errorf("unsupervised enterprises %+v", ue)
	}
	if uc := a.UncoveredCommunities; uc.Total != 1 || uc.Items[0].Code != "310104004001" || uc.Items[0].Enterprises != 1 {
		t.Errorf("uncovered communities %+v", uc)
	}
	if uw := a.UnitsWithoutOfficer; uw.Total != 1 || uw.Items[0].Code != "E1" || uw.Items[0].Enterprises != 1 {
		t.Errorf("units without officer %+v", uw)
	}
	want := []supervise.OfficerWorkload{{Officer: "wang", Units: 1, Cells: 2, Enterprises: 2, Weighted: 5}, {Officer: "zhao"}}
	if w := a.Workloads; w.Total != 2 || !slices.Equal(w.Items, want) {
		t.Errorf("workloads %+v", w)
	}

	// One street, one item per page.
	resp, body = ls.as(t, "ann", "GET", "/api/v1/grid/audit?limit=1&offset=1", "")
	_ = json.Unmarshal(body, &a)
	if a.UnsupervisedEnterprises.Total != 2 || len(a.UnsupervisedEnterprises.Items) != 1 || a.UnsupervisedEnterprises.Items[0].RiskLevel != "一般" ||
		len(a.UncoveredCommunities.Items) != 0 || a.Workloads.Items[0].Officer != "zhao" {
		t.Errorf("second page: %s", body)
	}
	_, body = ls.as(t, "ann", "GET", "/api/v1/grid/audit?street="+eastStreet, "")
	_ = json.Unmarshal(body, &a)
	if a.UnsupervisedEnterprises.Total != 1 || a.UncoveredCommunities.Total != 1 || a.UnitsWithoutOfficer.Total != 1 || a.Workloads.Total != 0 {
		t.Errorf("east street: %s", body)
	}

	// Assigning E1 covers the east.
	if err := supervise.New(ls.st).AssignUnit(ctx, "test", "E1", "zhao"); err != nil {
		t.Fatal(err)
	}
	_, body = ls.as(t, "ann", "GET", "/api/v1/grid/audit", "")
	_ = json.Unmarshal(body, &a)
	if a.UnsupervisedEnterprises.Total != 1 || a.UncoveredCommunities.Total != 0 || a.UnitsWithoutOfficer.Total != 0 ||
		a.Workloads.Items[0] != (supervise.OfficerWorkload{Officer: "wang", Units: 1, Cells: 2, Enterprises: 2, Weighted: 5}) ||
		a.Workloads.Items[1] != (supervise.OfficerWorkload{Officer: "zhao", Units: 1, Cells: 1, Enterprises: 1, Weighted: 3}) {
		t.Errorf("after assigning E1: %s", body)
	}
}

// The access matrix rows of the admin, import and lifecycle endpoints: who gets through
// the role check (anything but 401/403) and who is refused with which code.
func TestAccessMatrixAdminAndLifecycle(t *testing.T) {
	ls := newLifecycleServer(t)
	west := addHazard(t, ls.st, "一般", westSouth)
	east := addHazard(t, ls.st, "一般", eastPoint)
	hz := func(id int64, suffix string) string { return fmt.Sprintf("/api/v1/hazards/%d%s", id, suffix) }
	const reg = `{"to":"registered","version":1}`
	type row struct {
		method, path, body string
		want               map[string]int // role user → status; 0 means "let through" (not 401/403)
	}
	admin := map[string]int{"ann": 0, "pei": 403, "zhou": 403, "li": 403, "wang": 403, "zhao": 403, "": 401}
	rows := []row{
		{"GET", "/api/v1/grid/units", "", admin},
		{"POST", "/api/v1/grid/units", `{}`, admin},
		{"GET", "/api/v1/grid/units/W1", "", admin},
		{"PUT", "/api/v1/grid/units/W1", `{}`, admin},
		{"DELETE", "/api/v1/grid/units/W9", "", admin},
		{"POST", "/api/v1/grid/units/W1/officer", `{}`, admin},
		{"DELETE", "/api/v1/grid/units/W9/officer", "", admin},
		{"GET", "/api/v1/grid/audit", "", admin},
		{"POST", "/api/v1/import/enterprises", "", admin},
		// Reading a hazard: everyone in scope.
		{"GET", hz(west, ""), "", map[string]int{"ann": 200, "pei": 200, "zhou": 200, "li": 404, "wang": 200, "zhao": 404, "": 401}},
		{"GET", hz(east, ""), "", map[string]int{"ann": 200, "pei": 200, "zhou": 404, "li": 200, "wang": 404, "zhao": 404, "": 401}},
		// Registering: street offices of the hazard's street and admins; planners and
		// officers never (the officer in scope is refused by the role table); out of scope is
		// not found.
		{"POST", hz(west, "/transition"), reg, map[string]int{"pei": 403, "li": 404, "wang": 403, "zhao": 404, "": 401}},
		{"POST", hz(east, "/transition"), reg, map[string]int{"pei": 403, "zhou": 404, "wang": 404, "zhao": 404, "": 401}},
	}
	for _, r := range rows {
		for user, want := range r.want {
			var resp, body = ls.do(t, r.method, r.path, r.body, "Authorization", ls.auth[user], "Content-Type", "application/json")
			got := resp.StatusCode
			if want == 0 && (got == 401 || got == 403) || want != 0 && got != want {
				t.Errorf("%s %s as %q: %d, want %d: %s", r.method, r.path, user, got, want, body)
			}
		}
	}
}
