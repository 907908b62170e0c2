package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"safegrid/grid"
	"safegrid/grid/dossier"
	"safegrid/grid/testdb"
)

// addDistrictUser inserts a district bureau user in SQL (the users admin for the role is
// built elsewhere) and signs them in.
func addDistrictUser(t *testing.T, ts *testServer, name, district string) string {
	t.Helper()
	hash, err := grid.HashPassword("password-" + name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := testdb.DB(ts.st).Exec(context.Background(), `INSERT INTO users (username, role, district_code, password_hash) VALUES ($1, 'district', $2, $3)`,
		name, district, hash); err != nil {
		t.Fatal(err)
	}
	return ts.login(t, name)
}

func enterpriseID(t *testing.T, f *gridFixture, name string) int64 {
	t.Helper()
	var id int64
	if err := testdb.DB(f.ts.st).QueryRow(context.Background(), `SELECT id FROM enterprises WHERE uscc = $1`, f.uscc[name]).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestDossierAccess: every role that may see an enterprise gets its dossier, by id or USCC;
// the wrong officer, street office or district gets a 404 exactly like a missing
// enterprise's.
func TestDossierAccess(t *testing.T) {
	f := newGridFixture(t)
	if _, err := testdb.DB(f.ts.st).Exec(context.Background(), `INSERT INTO areas (code, name, geom) VALUES ('310104', '徐汇区', ST_Multi(ST_MakeEnvelope(121.40, 31.10, 121.50, 31.17, 4326)))`); err != nil {
		t.Fatal(err)
	}
	dis := addDistrictUser(t, f.ts, "dis1", "310101")
	other := addDistrictUser(t, f.ts, "dis2", "310104")
	path := func(key string) string { return "/api/v1/enterprises/" + key + "/dossier" }
	e1, e5, e6 := fmt.Sprint(enterpriseID(t, f, "E1")), fmt.Sprint(enterpriseID(t, f, "E5")), fmt.Sprint(enterpriseID(t, f, "E6"))
	type row struct {
		name, key string
		want      [7]int // anonymous, off1, sta, stb, planner, admin, district 310101; other district apart
	}
	auth := [7]string{"", f.off1, f.sta, f.stb, f.planner, f.admin, dis}
	for _, r := range []row{
		{"E1 (off1's cell, street A)", e1, [7]int{401, 200, 200, 404, 200, 200, 200}},
		{"E1 by USCC", f.uscc["E1"], [7]int{401, 200, 200, 404, 200, 200, 200}},
		{"E5 (another unit, street A)", e5, [7]int{401, 404, 200, 404, 200, 200, 200}},
		{"E6 (street B)", e6, [7]int{401, 404, 404, 200, 200, 200, 200}},
		{"E6 by USCC", f.uscc["E6"], [7]int{401, 404, 404, 200, 200, 200, 200}},
		{"no such enterprise", "999999", [7]int{401, 404, 404, 404, 404, 404, 404}},
		{"no such USCC", testUSCC(t, 99), [7]int{401, 404, 404, 404, 404, 404, 404}},
	} {
		for i, a := range auth {
			var h []string
			if a != "" {
				h = []string{"Authorization", a}
			}
			for _, suffix := range []string{"", "?format=xlsx"} {
				resp, body := f.ts.do(t, "GET", path(r.key)+suffix, "", h...)
				if resp.StatusCode != r.want[i] {
					t.Errorf("%s%s as %d: %d %s", r.name, suffix, i, resp.StatusCode, body)
				}
				if resp.StatusCode == 404 && !strings.Contains(string(body), `"enterprise `) {
					t.Errorf("%s as %d: 404 %s", r.name, i, body)
				}
			}
		}
		resp, _ := f.ts.do(t, "GET", path(r.key), "", "Authorization", other)
		if resp.StatusCode != 404 {
			t.Errorf("%s as another district: %d", r.name, resp.StatusCode)
		}
	}
	// Out of scope reads exactly like missing: the same problem but for the key.
	_, out := f.ts.do(t, "GET", path(e5), "", "Authorization", f.off1)
	_, missing := f.ts.do(t, "GET", path("999999"), "", "Authorization", f.off1)
	var p1, p2 problem
	_ = json.Unmarshal(out, &p1)
	_ = json.Unmarshal(missing, &p2)
	if p1.Status != 404 || p1.Title != p2.Title || strings.ReplaceAll(p1.Detail, e5, "999999") != p2.Detail {
		t.Errorf("out of scope %+v, missing %+v", p1, p2)
	}
}

// TestDossierAPI: the JSON holds E1's hazards (H1 tied to it, H2 lying at it), its nearby
// pipeline and fire station; the workbook has the same rows and a Content-Disposition.
func TestDossierAPI(t *testing.T) {
	f := newGridFixture(t)
	id := enterpriseID(t, f, "E1")
	var d dossier.Dossier
	if resp, body := f.get(t, f.off1, fmt.Sprintf("/api/v1/enterprises/%d/dossier", id), &d); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var codes []string
	for _, h := range d.Hazards {
		codes = append(codes, h.Code+":"+h.Link)
	}
	slices.Sort(codes)
	if !slices.Equal(codes, []string{"H1:feature", "H2:location"}) || d.Enterprise.USCC != f.uscc["E1"] || d.RadiusM != 500 ||
		d.Location.Unit == nil || d.Location.Unit.Code != "U1" || d.Location.Cell != f.c1.String() {
		t.Errorf("dossier %+v, hazards %v", d, codes)
	}
	if len(d.Pipelines) != 1 || d.Pipelines[0].Code != "P1" || len(d.FireStations) != 1 || d.FireStations[0].Code != "FS1" || !d.FireStations[0].InReach {
		t.Errorf("pipelines %+v, stations %+v", d.Pipelines, d.FireStations)
	}
	var wide dossier.Dossier
	f.get(t, f.off1, fmt.Sprintf("/api/v1/enterprises/%d/dossier?radius_m=2000", id), &wide)
	// OCC1 lies in c2, about 5.5 km from E1: beyond every radius.
	near := testdb.Count(t, f.ts.st, `SELECT count(*) FROM gas_occupancy_sites g, enterprises e WHERE e.id = $1 AND ST_DWithin(g.geom_m, e.geom_m, 2000)`, id)
	if wide.RadiusM != 2000 || len(wide.GasSites) != near || near != 0 || len(wide.Pipelines) != 1 {
		t.Errorf("radius 2000: %+v %+v", wide.GasSites, wide.Pipelines)
	}

	resp, body := f.ts.do(t, "GET", fmt.Sprintf("/api/v1/enterprises/%s/dossier?format=xlsx", f.uscc["E1"]), "", "Authorization", f.off1)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != mimeXLSX ||
		resp.Header.Get("Content-Disposition") != `attachment; filename="dossier-`+f.uscc["E1"]+`.xlsx"` {
		t.Fatalf("xlsx: %d %v", resp.StatusCode, resp.Header)
	}
	x, err := excelize.OpenReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	rows, _ := x.GetRows(dossier.SheetHazards)
	if len(rows) != len(d.Hazards)+1 {
		t.Errorf("hazards sheet: %d rows, JSON %d hazards", len(rows), len(d.Hazards))
	}
	for i, h := range d.Hazards {
		if rows[i+1][1] != h.Code {
			t.Errorf("hazard row %d: %v, JSON %s", i, rows[i+1], h.Code)
		}
	}
	rows, _ = x.GetRows(dossier.SheetStations)
	if len(rows) != 2 || rows[1][0] != "FS1" {
		t.Errorf("stations sheet %v", rows)
	}
}

// TestDossierBadInput: a bad id, radius or format is a 400 naming the parameter, never a 500.
func TestDossierBadInput(t *testing.T) {
	f := newGridFixture(t)
	id := enterpriseID(t, f, "E1")
	for _, tc := range []struct{ path, field string }{
		{"/api/v1/enterprises/abc/dossier", "id"},
		{"/api/v1/enterprises/0/dossier", "id"},
		{"/api/v1/enterprises/-1/dossier", "id"},
		{"/api/v1/enterprises/99999999999999999999/dossier", "id"},
		{"/api/v1/enterprises/91310100000000001%21/dossier", "id"},
		{fmt.Sprintf("/api/v1/enterprises/%d/dossier?radius_m=abc", id), "radius_m"},
		{fmt.Sprintf("/api/v1/enterprises/%d/dossier?radius_m=", id), "radius_m"},
		{fmt.Sprintf("/api/v1/enterprises/%d/dossier?radius_m=0", id), "radius_m"},
		{fmt.Sprintf("/api/v1/enterprises/%d/dossier?radius_m=-5", id), "radius_m"},
		{fmt.Sprintf("/api/v1/enterprises/%d/dossier?radius_m=2000.5", id), "radius_m"},
		{fmt.Sprintf("/api/v1/enterprises/%d/dossier?radius_m=NaN", id), "radius_m"},
		{fmt.Sprintf("/api/v1/enterprises/%d/dossier?radius_m=Inf", id), "radius_m"},
		{fmt.Sprintf("/api/v1/enterprises/%d/dossier?radius_m=1e400", id), "radius_m"},
		{fmt.Sprintf("/api/v1/enterprises/%d/dossier?format=pdf", id), "format"},
	} {
		resp, body := f.ts.do(t, "GET", tc.path, "", "Authorization", f.admin)
		var p problem
		_ = json.Unmarshal(body, &p)
		if resp.StatusCode != 400 || len(p.Errors) != 1 || p.Errors[0].Field != tc.field {
			t.Errorf("%s: %d %s", tc.path, resp.StatusCode, body)
		}
	}
}
