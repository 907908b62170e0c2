package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkt"
	"github.com/uber/h3-go/v4"

	"safegrid/geo"
	"safegrid/grid"
	"safegrid/grid/supervise"
	"safegrid/grid/testdb"
)

// gridFixture is a small hand-made world: district 310101 with street A (310101001:
// communities A1 310101001001 south, A2 310101001002 north) and street B (310101002:
// community B1). Grid unit U1 (street A, cells c1 in A1 and c2 in A2) belongs to officer
// off1; unit U2 (cell c3, A1) and unit U3 (cell c4, street B) have no officer.
//
//	enterprises: E1 c1 重大 never inspected; E2 c1 一般 inspected 10 days ago;
//	             E3 c2 较大 inspected 40 days ago; E4 c2 低 inspected 120 days ago;
//	             E5 c3 重大 never inspected; E6 c4 一般
//	pipeline P1 from c1 to c2; underground space UG1 and occupancy site OCC1 in c2;
//	fire station FS1 in c1
//	hazards (reported 2026-10-01 + 5 days × n): H1 c1 重大 reported, deadline past, tied to E1;
//	         H2 c1 一般 closed, past; H3 c2 一般 rectifying, future; H4 c2 一般 verified, past;
//	         H5 c3 重大 assigned, past; H6 c4 一般 reported (street B)
type gridFixture struct {
	ts                  *testServer
	c1, c2, c3, c4      h3.Cell
	uscc                map[string]string // E1..E6
	hazardID            map[string]int64  // H1..H6
	off1, sta, stb      string            // bearer headers
	admin, planner      string
	streetA, streetB    string
	communityA1, commA2 string
}

func centre(c h3.Cell, dx, dy float64) orb.Point {
	ll := h3.CellToLatLng(c)
	return orb.Point{ll.Lng + dx, ll.Lat + dy}
}

func testUSCC(t testing.TB, n int) string {
	t.Helper()
	body := fmt.Sprintf("9131010%010d", n)
	c, err := geo.USCCCheckChar(body)
	if err != nil {
		t.Fatal(err)
	}
	return body + string(c)
}

func newGridFixture(t testing.TB) *gridFixture {
	t.Helper()
	return newGridFixtureOn(t, newTestServer(t, nil))
}

// newGridFixtureOn loads the fixture into ts's fresh database.
func newGridFixtureOn(t testing.TB, ts *testServer) *gridFixture {
	t.Helper()
	ctx := context.Background()
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := testdb.DB(ts.st).Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	box := func(code, name string, x0, y0, x1, y1 float64) {
		exec(`INSERT INTO areas (code, name, geom) VALUES ($1, $2, ST_Multi(ST_MakeEnvelope($3, $4, $5, $6, 4326)))`, code, name, x0, y0, x1, y1)
	}
	box("310101", "黄浦区", 121.40, 31.18, 121.55, 31.28)
	box("310101001", "甲街道", 121.40, 31.18, 121.475, 31.28)
	box("310101002", "乙街道", 121.475, 31.18, 121.55, 31.28)
	box("310101001001", "甲一居委", 121.40, 31.18, 121.475, 31.23)
	box("310101001002", "甲二居委", 121.40, 31.23, 121.475, 31.28)
	box("310101002001", "乙一居委", 121.475, 31.18, 121.55, 31.28)
	exec(`INSERT INTO area_parts (code, level, geom) SELECT code, level, (ST_Dump(geom)).geom FROM areas`)

	f := &gridFixture{ts: ts, uscc: map[string]string{}, hazardID: map[string]int64{},
		streetA: "310101001", streetB: "310101002", communityA1: "310101001001", commA2: "310101001002"}
	f.c1 = geo.PointCell(orb.Point{121.45, 31.20}, 9)
	f.c2 = geo.PointCell(orb.Point{121.45, 31.25}, 9)
	f.c3 = geo.PointCell(orb.Point{121.42, 31.21}, 9)
	f.c4 = geo.PointCell(orb.Point{121.50, 31.20}, 9)

	ts.addUser(t, "off1", grid.RoleOfficer, "")
	ts.addUser(t, "off3", grid.RoleOfficer, "")
	ts.addUser(t, "sta", grid.RoleStreet, f.streetA)
	ts.addUser(t, "stb", grid.RoleStreet, f.streetB)
	ts.addUser(t, "adm", grid.RoleAdmin, "")
	ts.addUser(t, "plan", grid.RolePlanner, "")
	exec(`INSERT INTO grid_units (code, name, street_code, officer_id) VALUES
		('U1', '甲一网格', '310101001', (SELECT id FROM users WHERE username = 'off1')),
		('U2', '甲二网格', '310101001', NULL), ('U3', '乙一网格', '310101002', NULL)`)
	for _, gc := range []struct {
		c    h3.Cell
		unit string
	}{{f.c1, "U1"}, {f.c2, "U1"}, {f.c3, "U2"}, {f.c4, "U3"}} {
		exec(`INSERT INTO grid_cells (district_code, h3, unit_code) VALUES ('310101', $1, $2)`, int64(gc.c), gc.unit)
	}

	const tagged = `FROM (SELECT ST_SetSRID(ST_MakePoint($1, $2), 4326) AS p) g, LATERAL area_tag(g.p) t`
	enterprise := func(n int, c h3.Cell, risk string, dx float64, inspectedDaysAgo int) {
		p := centre(c, dx, 0)
		u := testUSCC(t, n)
		f.uscc[fmt.Sprintf("E%d", n)] = u
		exec(`INSERT INTO enterprises (district_code, uscc, name, industry, risk_level, street_code, community_code, h3, geom)
			SELECT t.district_code, $3, $4, '工贸', $5, t.street_code, t.community_code, $6, g.p `+tagged,
			p[0], p[1], u, fmt.Sprintf("测试企业%d", n), risk, int64(c))
		if inspectedDaysAgo > 0 {
			exec(`INSERT INTO inspections (district_code, enterprise_id, inspected_at, result, h3, geom)
				SELECT district_code, id, now() - make_interval(days => $2), 'passed', h3, geom FROM enterprises WHERE uscc = $1`,
				u, inspectedDaysAgo)
		}
	}
	enterprise(1, f.c1, "重大", 0.0001, 0)
	enterprise(2, f.c1, "一般", -0.0001, 10)
	enterprise(3, f.c2, "较大", 0.0001, 40)
	enterprise(4, f.c2, "低", -0.0001, 120)
	enterprise(5, f.c3, "重大", 0, 0)
	enterprise(6, f.c4, "一般", 0, 0)

	line := orb.LineString{centre(f.c1, 0, 0), centre(f.c2, 0, 0)}
	cells := func(g orb.Geometry) []int64 {
		var out []int64
		for _, c := range geo.Cells(g, 9) {
			out = append(out, int64(c))
		}
		return out
	}
	exec(`INSERT INTO pipelines (district_code, code, name, medium, class, pressure, h3, h3_cells, geom)
		VALUES ('310101', 'P1', '测试燃气管', 'gas', 'distribution', '中压', $1, $2, ST_Multi(ST_GeomFromText($3, 4326)))`,
		int64(f.c1), cells(line), wkt.MarshalString(line))
	c2 := centre(f.c2, 0, 0)
	square := orb.Polygon{{{c2[0], c2[1]}, {c2[0] + 0.0003, c2[1]}, {c2[0] + 0.0003, c2[1] + 0.0003}, {c2[0], c2[1] + 0.0003}, {c2[0], c2[1]}}}
	exec(`INSERT INTO underground_spaces (district_code, code, name, use, h3, h3_cells, geom)
		VALUES ('310101', 'UG1', '测试地下车库', '地下车库', $1, $2, ST_Multi(ST_GeomFromText($3, 4326)))`,
		int64(f.c2), cells(square), wkt.MarshalString(square))
	occ := centre(f.c2, -0.0002, 0)
	exec(`INSERT INTO gas_occupancy_sites (district_code, code, occupant, status, h3, h3_cells, geom)
		VALUES ('310101', 'OCC1', '违章建筑', '待整治', $1, $2, ST_SetSRID(ST_MakePoint($3, $4), 4326))`,
		int64(f.c2), []int64{int64(f.c2)}, occ[0], occ[1])
	fs := centre(f.c1, 0, 0.0002)
	exec(`INSERT INTO fire_stations (code, name, type, status, district_code, h3, geom)
		VALUES ('FS1', '测试消防站', '一级普通', 'existing', '310101', $1, ST_SetSRID(ST_MakePoint($2, $3), 4326))`,
		int64(f.c1), fs[0], fs[1])

	today := time.Now().In(time.FixedZone("CST", 8*3600))
	past, future := today.AddDate(0, 0, -5).Format(time.DateOnly), today.AddDate(0, 0, 30).Format(time.DateOnly)
	hazard := func(n int, c h3.Cell, level, category, status, deadline string, feature *string) {
		p := centre(c, 0, -0.0001)
		var kind *string
		if feature != nil {
			k := "enterprises"
			kind = &k
		}
		var id int64
		if err := testdb.DB(ts.st).QueryRow(ctx, `INSERT INTO hazards (district_code, code, level, category, description, status,
			feature_kind, feature_code, deadline, reported_at, street_code, community_code, h3, geom)
			SELECT t.district_code, $3, $4, $5, $6, $7, $8, $9, $10::date, $11::timestamptz, t.street_code, t.community_code, $12, g.p `+tagged+`
			RETURNING id`, p[0], p[1], fmt.Sprintf("H%d", n), level, category, fmt.Sprintf("隐患%d", n), status, kind, feature,
			deadline, fmt.Sprintf("2026-10-%02d 09:00:00+08", 1+5*(n-1)), int64(c)).Scan(&id); err != nil {
			t.Fatal(err)
		}
		f.hazardID[fmt.Sprintf("H%d", n)] = id
	}
	e1 := f.uscc["E1"]
	hazard(1, f.c1, "重大", "消防安全", "reported", past, &e1)
	hazard(2, f.c1, "一般", "用电安全", "closed", past, nil)
	hazard(3, f.c2, "一般", "消防安全", "rectifying", future, nil)
	hazard(4, f.c2, "一般", "危化品", "verified", past, nil)
	hazard(5, f.c3, "重大", "消防安全", "assigned", past, nil)
	hazard(6, f.c4, "一般", "消防安全", "reported", past, nil)

	f.off1, f.sta, f.stb = ts.login(t, "off1"), ts.login(t, "sta"), ts.login(t, "stb")
	f.admin, f.planner = ts.login(t, "adm"), ts.login(t, "plan")
	return f
}

// get sends a GET with a bearer header ("" for none) and decodes a 200 JSON body into v.
func (f *gridFixture) get(t *testing.T, auth, path string, v any) (*http.Response, []byte) {
	t.Helper()
	var h []string
	if auth != "" {
		h = []string{"Authorization", auth}
	}
	resp, body := f.ts.do(t, "GET", path, "", h...)
	if v != nil && resp.StatusCode == 200 {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: %v\n%s", path, err, body)
		}
	}
	return resp, body
}

func (f *gridFixture) post(t *testing.T, auth, path, body string) (*http.Response, []byte) {
	t.Helper()
	return f.ts.do(t, "POST", path, body, "Authorization", auth, "Content-Type", "application/json")
}

func TestMyCells(t *testing.T) {
	f := newGridFixture(t)
	var fc struct {
		Type     string `json:"type"`
		Features []struct {
			Geometry struct {
				Type        string        `json:"type"`
				Coordinates [][][]float64 `json:"coordinates"`
			} `json:"geometry"`
			Properties map[string]any `json:"properties"`
		} `json:"features"`
	}
	resp, body := f.get(t, f.off1, "/api/v1/me/cells", &fc)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/geo+json" {
		t.Fatalf("%d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if fc.Type != "FeatureCollection" || len(fc.Features) != 2 {
		t.Fatalf("want 2 cells: %s", body)
	}
	want := map[string]map[string]float64{
		f.c1.String(): {"enterprises": 2, "pipelines": 1, "gas_occupancy_sites": 0, "fire_stations": 1, "fishing_ports": 0, "underground_spaces": 0, "open_hazards": 1},
		f.c2.String(): {"enterprises": 2, "pipelines": 1, "gas_occupancy_sites": 1, "fire_stations": 0, "fishing_ports": 0, "underground_spaces": 1, "open_hazards": 2},
	}
	wantLevels := map[string]map[string]any{f.c1.String(): {"一般": 0.0, "重大": 1.0}, f.c2.String(): {"一般": 2.0, "重大": 0.0}}
	for _, ft := range fc.Features {
		cell, _ := ft.Properties["cell"].(string)
		w, ok := want[cell]
		if !ok {
			t.Errorf("unexpected cell %s", cell)
			continue
		}
		for k, n := range w {
			if ft.Properties[k] != n {
				t.Errorf("cell %s %s = %v, want %v", cell, k, ft.Properties[k], n)
			}
		}
		if fmt.Sprint(ft.Properties["open_hazards_by_level"]) != fmt.Sprint(wantLevels[cell]) {
			t.Errorf("cell %s open hazards by level %v, want %v", cell, ft.Properties["open_hazards_by_level"], wantLevels[cell])
		}
		if ft.Properties["unit_code"] != "U1" || ft.Properties["unit_name"] != "甲一网格" {
			t.Errorf("cell %s unit %v %v", cell, ft.Properties["unit_code"], ft.Properties["unit_name"])
		}
		if ft.Geometry.Type != "Polygon" || len(ft.Geometry.Coordinates) != 1 || len(ft.Geometry.Coordinates[0]) != 7 {
			t.Errorf("cell %s geometry is not a closed hexagon: %+v", cell, ft.Geometry)
		}
	}
	// An officer without units gets an empty collection, not an error.
	var empty struct {
		Features []any `json:"features"`
	}
	if resp, body := f.get(t, f.ts.login(t, "off3"), "/api/v1/me/cells", &empty); resp.StatusCode != 200 || len(empty.Features) != 0 {
		t.Errorf("officer without units: %d %s", resp.StatusCode, body)
	}
}

func TestCellContents(t *testing.T) {
	f := newGridFixture(t)
	var cc supervise.CellContents
	resp, body := f.get(t, f.off1, "/api/v1/cells/"+f.c1.String(), &cc)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var got []string
	for _, ft := range cc.Features {
		got = append(got, ft.Kind+":"+ft.Code)
		if len(ft.Geometry) == 0 || ft.Attributes == nil {
			t.Errorf("%s %s lacks geometry or attributes", ft.Kind, ft.Code)
		}
	}
	want := []string{"enterprises:" + f.uscc["E1"], "enterprises:" + f.uscc["E2"], "fire_stations:FS1", "pipelines:P1"}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("features %v, want %v", got, want)
	}
	for _, ft := range cc.Features {
		if ft.Code == f.uscc["E1"] && (ft.Attributes["risk_level"] != "重大" || ft.Attributes["industry"] != "工贸" || *ft.Name != "测试企业1") {
			t.Errorf("E1 attributes %v", ft.Attributes)
		}
		if _, leaked := ft.Attributes["geom_m"]; leaked {
			t.Errorf("geometry columns in attributes: %v", ft.Attributes)
		}
	}
	if cc.Cell != f.c1.String() || cc.UnitCode == nil || *cc.UnitCode != "U1" {
		t.Errorf("cell %s unit %v", cc.Cell, cc.UnitCode)
	}
	// Open hazards only: H2 is closed.
	if len(cc.Hazards) != 1 || cc.Hazards[0].Code != "H1" || cc.Hazards[0].Feature == nil || *cc.Hazards[0].Feature.Name != "测试企业1" {
		t.Errorf("hazards %+v", cc.Hazards)
	}

	// c2: the pipeline, the underground space and the occupancy site touch it.
	cc = supervise.CellContents{}
	f.get(t, f.off1, "/api/v1/cells/"+f.c2.String(), &cc)
	kinds := map[string]int{}
	for _, ft := range cc.Features {
		kinds[ft.Kind]++
	}
	if fmt.Sprint(kinds) != "map[enterprises:2 gas_occupancy_sites:1 pipelines:1 underground_spaces:1]" || len(cc.Hazards) != 2 {
		t.Errorf("c2: kinds %v, %d hazards", kinds, len(cc.Hazards))
	}

	// Another unit's cell: not found for the officer, fine for admin and planner.
	resp, body = f.get(t, f.off1, "/api/v1/cells/"+f.c3.String(), nil)
	problemOf(t, resp, body, 404)
	for _, auth := range []string{f.admin, f.planner} {
		cc = supervise.CellContents{}
		if resp, body := f.get(t, auth, "/api/v1/cells/"+f.c3.String(), &cc); resp.StatusCode != 200 || len(cc.Features) != 1 || len(cc.Hazards) != 1 {
			t.Errorf("c3 as admin/planner: %d %s", resp.StatusCode, body)
		}
	}
	// Bad cell ids name the parameter.
	for _, bad := range []string{"zzz", f.c1.Parent(8).String()} {
		resp, body := f.get(t, f.admin, "/api/v1/cells/"+bad, nil)
		if p := problemOf(t, resp, body, 422); len(p.Errors) != 1 || p.Errors[0].Field != "cell" {
			t.Errorf("cell %s: %+v", bad, p)
		}
	}
}

func TestInspectionsDue(t *testing.T) {
	f := newGridFixture(t)
	type page struct {
		Items []supervise.DueInspection `json:"items"`
		Total int                       `json:"total"`
	}
	uscc := func(p page) []string {
		var out []string
		for _, it := range p.Items {
			out = append(out, it.USCC)
		}
		return out
	}
	var p page
	if resp, body := f.get(t, f.off1, "/api/v1/me/inspections/due", &p); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	// E1 never inspected; E4 (quarterly) overdue about a month; E3 (monthly) about ten days;
	// E2 inspected 10 days ago is not due; E5 is in another unit.
	want := []string{f.uscc["E1"], f.uscc["E4"], f.uscc["E3"]}
	if !slices.Equal(uscc(p), want) || p.Total != 3 {
		t.Fatalf("due %v (total %d), want %v", uscc(p), p.Total, want)
	}
	if p.Items[0].LastInspected != nil || p.Items[0].DueAt != nil || p.Items[0].Every != "month" || p.Items[1].Every != "quarter" {
		t.Errorf("items %+v", p.Items[:2])
	}
	if due := p.Items[2].DueAt; due == nil || time.Since(due.Time) < 5*24*time.Hour || time.Since(due.Time) > 15*24*time.Hour {
		t.Errorf("E3 due at %v, want about 10 days ago", due)
	}
	p = page{}
	f.get(t, f.off1, "/api/v1/me/inspections/due?limit=1&offset=1", &p)
	if !slices.Equal(uscc(p), want[1:2]) || p.Total != 3 {
		t.Errorf("page 2: %v total %d", uscc(p), p.Total)
	}
	p = page{}
	f.get(t, f.off1, "/api/v1/me/inspections/due?offset=10", &p)
	if len(p.Items) != 0 || p.Total != 3 {
		t.Errorf("past the end: %v total %d", uscc(p), p.Total)
	}
	resp, body := f.get(t, f.off1, "/api/v1/me/inspections/due?limit=x", nil)
	if pr := problemOf(t, resp, body, 422); pr.Errors[0].Field != "limit" {
		t.Errorf("%+v", pr)
	}

	// An inspection of E1 takes it off the list.
	loc := centre(f.c1, 0.0001, 0)
	resp, body = f.post(t, f.off1, "/api/v1/inspections", fmt.Sprintf(`{"enterprise":%q,"result":"passed","lon":%v,"lat":%v}`, f.uscc["E1"], loc[0], loc[1]))
	if resp.StatusCode != 201 {
		t.Fatalf("inspection: %d %s", resp.StatusCode, body)
	}
	p = page{}
	f.get(t, f.off1, "/api/v1/me/inspections/due", &p)
	if !slices.Equal(uscc(p), want[1:]) || p.Total != 2 {
		t.Errorf("after inspecting E1: %v total %d", uscc(p), p.Total)
	}
}

func TestRecordInspection(t *testing.T) {
	f := newGridFixture(t)
	ctx := context.Background()
	loc := centre(f.c1, 0.0001, 0)
	body := fmt.Sprintf(`{"enterprise":%q,"inspected_at":"2026-11-20 10:30","result":"hazards_found","hazards_found":2,"notes":"灭火器过期","lon":%v,"lat":%v}`, f.uscc["E2"], loc[0], loc[1])
	resp, data := f.post(t, f.off1, "/api/v1/inspections", body)
	if resp.StatusCode != 201 {
		t.Fatalf("%d %s", resp.StatusCode, data)
	}
	var in supervise.Inspection
	if err := json.Unmarshal(data, &in); err != nil {
		t.Fatal(err)
	}
	if in.USCC != f.uscc["E2"] || in.Officer != "off1" || in.Result != "hazards_found" || in.HazardsFound != 2 ||
		in.Cell != f.c1.String() || !in.InspectedAt.Equal(time.Date(2026, 11, 20, 2, 30, 0, 0, time.UTC)) {
		t.Errorf("inspection %+v", in)
	}
	var h3c int64
	var audited int
	if err := testdb.DB(f.ts.st).QueryRow(ctx, `SELECT h3 FROM inspections WHERE id = $1`, in.ID).Scan(&h3c); err != nil || h3c != int64(f.c1) {
		t.Errorf("stored h3 %x, err %v", h3c, err)
	}
	if err := testdb.DB(f.ts.st).QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE actor = 'off1' AND action = 'inspection' AND target = $1`, f.uscc["E2"]).Scan(&audited); err != nil || audited != 1 {
		t.Errorf("audit rows %d, err %v", audited, err)
	}
	// By numeric id works too.
	var id int64
	_ = testdb.DB(f.ts.st).QueryRow(ctx, `SELECT id FROM enterprises WHERE uscc = $1`, f.uscc["E3"]).Scan(&id)
	l2 := centre(f.c2, 0, 0)
	if resp, data := f.post(t, f.off1, "/api/v1/inspections", fmt.Sprintf(`{"enterprise":"%d","result":"passed","lon":%v,"lat":%v}`, id, l2[0], l2[1])); resp.StatusCode != 201 {
		t.Errorf("by id: %d %s", resp.StatusCode, data)
	}

	// Outside the caller's cells: the location, or the enterprise.
	l3 := centre(f.c3, 0, 0)
	resp, data = f.post(t, f.off1, "/api/v1/inspections", fmt.Sprintf(`{"enterprise":%q,"result":"passed","lon":%v,"lat":%v}`, f.uscc["E5"], l3[0], l3[1]))
	if p := problemOf(t, resp, data, 403); !strings.Contains(p.Detail, f.c3.String()) {
		t.Errorf("403 detail %q", p.Detail)
	}
	resp, data = f.post(t, f.off1, "/api/v1/inspections", fmt.Sprintf(`{"enterprise":%q,"result":"passed","lon":%v,"lat":%v}`, f.uscc["E5"], loc[0], loc[1]))
	problemOf(t, resp, data, 422) // as if there were no such enterprise

	for _, tc := range []struct{ name, body, field string }{
		{"unknown field", fmt.Sprintf(`{"enterprise":%q,"result":"passed","lon":%v,"lat":%v,"weather":"rain"}`, f.uscc["E2"], loc[0], loc[1]), "weather"},
		{"wrong type", fmt.Sprintf(`{"enterprise":%q,"result":"passed","lon":"east","lat":%v}`, f.uscc["E2"], loc[1]), "lon"},
		{"swapped", fmt.Sprintf(`{"enterprise":%q,"result":"passed","lon":%v,"lat":%v}`, f.uscc["E2"], loc[1], loc[0]), "lat"},
		{"outside Shanghai", fmt.Sprintf(`{"enterprise":%q,"result":"passed","lon":116.4,"lat":39.9}`, f.uscc["E2"]), "lon"},
		{"missing lat", fmt.Sprintf(`{"enterprise":%q,"result":"passed","lon":%v}`, f.uscc["E2"], loc[0]), "lat"},
		{"bad result", fmt.Sprintf(`{"enterprise":%q,"result":"ok","lon":%v,"lat":%v}`, f.uscc["E2"], loc[0], loc[1]), "result"},
		{"no such enterprise", fmt.Sprintf(`{"enterprise":"nope","result":"passed","lon":%v,"lat":%v}`, loc[0], loc[1]), "enterprise"},
		{"bad time", fmt.Sprintf(`{"enterprise":%q,"inspected_at":"yesterday","result":"passed","lon":%v,"lat":%v}`, f.uscc["E2"], loc[0], loc[1]), "inspected_at"},
		{"negative count", fmt.Sprintf(`{"enterprise":%q,"result":"passed","hazards_found":-1,"lon":%v,"lat":%v}`, f.uscc["E2"], loc[0], loc[1]), "hazards_found"},
	} {
		resp, data := f.post(t, f.off1, "/api/v1/inspections", tc.body)
		if p := problemOf(t, resp, data, 422); len(p.Errors) == 0 || p.Errors[0].Field != tc.field {
			t.Errorf("%s: %+v, want field %s", tc.name, p, tc.field)
		}
	}
	var n int
	_ = testdb.DB(f.ts.st).QueryRow(ctx, `SELECT count(*) FROM inspections WHERE officer_id IS NOT NULL`).Scan(&n)
	if n != 2 {
		t.Errorf("%d inspections written, want 2", n)
	}
}

func TestReportHazard(t *testing.T) {
	f := newGridFixture(t)
	ctx := context.Background()
	loc := centre(f.c2, 0.0001, 0.0001)
	body := fmt.Sprintf(`{"level":"major","category":"消防安全","description":"消防通道被占","lon":%v,"lat":%v,"feature_kind":"enterprises","feature_code":%q,"deadline":"2026-12-31"}`, loc[0], loc[1], f.uscc["E3"])
	resp, data := f.post(t, f.off1, "/api/v1/hazards", body)
	if resp.StatusCode != 201 {
		t.Fatalf("%d %s", resp.StatusCode, data)
	}
	var h supervise.HazardDetail
	if err := json.Unmarshal(data, &h); err != nil {
		t.Fatal(err)
	}
	if h.Level != "重大" || h.Status != "reported" || h.Category != "消防安全" || h.Deadline == nil || *h.Deadline != "2026-12-31" ||
		h.Overdue || h.CommunityCode == nil || *h.CommunityCode != f.commA2 || !h.Supervised || h.Version != 1 ||
		h.FeatureKind == nil || *h.FeatureKind != "enterprises" || h.FeatureCode == nil || *h.FeatureCode != f.uscc["E3"] ||
		h.Lon != loc[0] || h.Lat != loc[1] || !strings.HasPrefix(h.Code, "HZ") || h.Reporter == nil || *h.Reporter != "off1" ||
		len(h.History) != 1 || h.History[0].To != "reported" || h.Cell != f.c2.String() {
		t.Errorf("hazard %s", data)
	}
	var street, reporter, actor, to string
	var cell int64
	if err := testdb.DB(f.ts.st).QueryRow(ctx, `SELECT h.street_code, h.reporter, h.h3, hh.actor, hh.to_status FROM hazards h
		JOIN hazard_history hh ON hh.district_code = h.district_code AND hh.hazard_id = h.id WHERE h.id = $1`, h.ID).
		Scan(&street, &reporter, &cell, &actor, &to); err != nil {
		t.Fatal(err)
	}
	if street != f.streetA || reporter != "off1" || cell != int64(f.c2) || actor != "off1" || to != "reported" {
		t.Errorf("stored %s %s %x %s %s", street, reporter, cell, actor, to)
	}
	var audited int
	_ = testdb.DB(f.ts.st).QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE actor = 'off1' AND action = 'hazard_report' AND target = $1`, h.Code).Scan(&audited)
	if audited != 1 {
		t.Errorf("%d audit rows", audited)
	}
	// The street office sees it.
	var pg struct {
		Total int `json:"total"`
	}
	f.get(t, f.sta, "/api/v1/streets/"+f.streetA+"/hazards", &pg)
	if pg.Total != 6 {
		t.Errorf("street A has %d hazards after the report, want 6", pg.Total)
	}

	l3 := centre(f.c3, 0, 0)
	resp, data = f.post(t, f.off1, "/api/v1/hazards", fmt.Sprintf(`{"level":"一般","category":"c","description":"d","lon":%v,"lat":%v}`, l3[0], l3[1]))
	if p := problemOf(t, resp, data, 403); !strings.Contains(p.Detail, "not in your grid units") {
		t.Errorf("403 detail %q", p.Detail)
	}
	for _, tc := range []struct{ name, body, field string }{
		{"unknown field", fmt.Sprintf(`{"level":"一般","category":"c","description":"d","lon":%v,"lat":%v,"status":"closed"}`, loc[0], loc[1]), "status"},
		{"wrong type", fmt.Sprintf(`{"level":"一般","category":"c","description":"d","lon":%v,"lat":"north"}`, loc[0]), "lat"},
		{"swapped", fmt.Sprintf(`{"level":"一般","category":"c","description":"d","lon":%v,"lat":%v}`, loc[1], loc[0]), "lat"},
		{"bad level", fmt.Sprintf(`{"level":"严重","category":"c","description":"d","lon":%v,"lat":%v}`, loc[0], loc[1]), "level"},
		{"no description", fmt.Sprintf(`{"level":"一般","category":"c","lon":%v,"lat":%v}`, loc[0], loc[1]), "description"},
		{"bad deadline", fmt.Sprintf(`{"level":"一般","category":"c","description":"d","deadline":"31/12/2026","lon":%v,"lat":%v}`, loc[0], loc[1]), "deadline"},
		{"kind without code", fmt.Sprintf(`{"level":"一般","category":"c","description":"d","feature_kind":"pipelines","lon":%v,"lat":%v}`, loc[0], loc[1]), "feature_code"},
		{"no such feature", fmt.Sprintf(`{"level":"一般","category":"c","description":"d","feature_kind":"pipelines","feature_code":"P9","lon":%v,"lat":%v}`, loc[0], loc[1]), "feature_code"},
		{"bad kind", fmt.Sprintf(`{"level":"一般","category":"c","description":"d","feature_kind":"shops","feature_code":"P1","lon":%v,"lat":%v}`, loc[0], loc[1]), "feature_kind"},
	} {
		resp, data := f.post(t, f.off1, "/api/v1/hazards", tc.body)
		if p := problemOf(t, resp, data, 422); len(p.Errors) == 0 || p.Errors[0].Field != tc.field {
			t.Errorf("%s: %+v, want field %s", tc.name, p, tc.field)
		}
	}
	resp, data = f.post(t, f.off1, "/api/v1/hazards", `{"level":`)
	problemOf(t, resp, data, 400)
}

// TestOfficerStreetAccess is the access matrix of the officer and street endpoints.
func TestOfficerStreetAccess(t *testing.T) {
	f := newGridFixture(t)
	inC1 := centre(f.c1, 0, 0)
	inspection := fmt.Sprintf(`{"enterprise":%q,"result":"passed","lon":%v,"lat":%v}`, f.uscc["E1"], inC1[0], inC1[1])
	hazard := fmt.Sprintf(`{"level":"一般","category":"c","description":"d","lon":%v,"lat":%v}`, inC1[0], inC1[1])
	type call struct{ method, path, body string }
	calls := []call{
		{"GET", "/api/v1/me/cells", ""},
		{"GET", "/api/v1/cells/" + f.c1.String(), ""},
		{"GET", "/api/v1/cells/" + f.c3.String(), ""},
		{"GET", "/api/v1/me/inspections/due", ""},
		{"POST", "/api/v1/inspections", inspection},
		{"POST", "/api/v1/hazards", hazard},
		{"GET", "/api/v1/streets/" + f.streetA + "/hazards", ""},
		{"GET", "/api/v1/streets/" + f.streetA + "/hazards?format=csv", ""},
		{"GET", "/api/v1/streets/" + f.streetA + "/summary", ""},
		{"GET", "/api/v1/streets/" + f.streetB + "/hazards", ""},
		{"GET", "/api/v1/streets/" + f.streetB + "/summary", ""},
	}
	roles := []struct {
		name, auth string
		want       []int // per call
	}{
		{"nobody", "", []int{401, 401, 401, 401, 401, 401, 401, 401, 401, 401, 401}},
		{"officer", f.off1, []int{200, 200, 404, 200, 201, 201, 403, 403, 403, 403, 403}},
		{"street A", f.sta, []int{403, 403, 403, 403, 403, 403, 200, 200, 200, 404, 404}},
		{"street B", f.stb, []int{403, 403, 403, 403, 403, 403, 404, 404, 404, 200, 200}},
		{"planner", f.planner, []int{403, 200, 200, 403, 403, 403, 200, 200, 200, 200, 200}},
		{"admin", f.admin, []int{403, 200, 200, 403, 403, 403, 200, 200, 200, 200, 200}},
	}
	for _, r := range roles {
		for i, c := range calls {
			var h []string
			if r.auth != "" {
				h = []string{"Authorization", r.auth}
			}
			resp, body := f.ts.do(t, c.method, c.path, c.body, h...)
			if resp.StatusCode != r.want[i] {
				t.Errorf("%s %s %s: %d, want %d: %s", r.name, c.method, c.path, resp.StatusCode, r.want[i], body)
				if resp.StatusCode >= 500 {
					t.Log(f.ts.logs.String())
				}
				continue
			}
			if resp.StatusCode >= 400 {
				problemOf(t, resp, body, r.want[i])
			}
		}
	}
}

// TestLocationInTheSeaIsRefused: a point inside Shanghai's bounding box but in the East
// China Sea is a 422 naming the location (before any scope check); a point on land outside
// the officer's cells gets as far as the scope check (403).
func TestLocationInTheSeaIsRefused(t *testing.T) {
	ts := serverOn(t, testdb.New(t, testdb.Areas), nil)
	ts.addUser(t, "wu", grid.RoleOfficer, "")
	auth := ts.login(t, "wu")
	sea, land := orb.Point{122.10, 30.95}, orb.Point{121.4737, 31.2304}
	if !geo.ShanghaiBound().Contains(sea) {
		t.Fatal("the sea point must be inside Shanghai's bounding box")
	}
	bodies := map[string]string{
		"/api/v1/hazards":     `{"level":"一般","category":"c","description":"d","lon":%v,"lat":%v}`,
		"/api/v1/inspections": `{"enterprise":"91310000000000000X","result":"passed","lon":%v,"lat":%v}`,
	}
	for path, body := range bodies {
		resp, data := ts.do(t, "POST", path, fmt.Sprintf(body, sea[0], sea[1]), "Authorization", auth, "Content-Type", "application/json")
		p := problemOf(t, resp, data, 422)
		if len(p.Errors) != 2 || p.Errors[0].Field != "lon" || p.Errors[1].Field != "lat" || !strings.Contains(p.Detail, "outside Shanghai's districts") {
			t.Errorf("%s in the sea: %+v", path, p)
		}
		resp, data = ts.do(t, "POST", path, fmt.Sprintf(body, land[0], land[1]), "Authorization", auth, "Content-Type", "application/json")
		problemOf(t, resp, data, 403)
	}
}
