package api

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb/geojson"
	"github.com/paulmach/orb/maptile"
	"github.com/xuri/excelize/v2"

	"safegrid/grid"
	"safegrid/grid/risk"
	"safegrid/grid/testdb"
)

// riskServer serves the risk reading fixture (grid/testdb/riskread.go) with its users signed in.
type riskServer struct {
	*testServer
	f    *testdb.RiskReadFixture
	auth map[string]string
}

func newRiskServer(t *testing.T) *riskServer {
	t.Helper()
	st := testdb.New(t, nil)
	f := testdb.RiskRead(t, st)
	ts := serverOn(t, st, nil)
	r := &riskServer{testServer: ts, f: f, auth: map[string]string{}}
	for _, u := range []string{"sta", "stb", "dist", "distx", "off1", "adm", "plan"} {
		r.auth[u] = ts.login(t, u)
	}
	return r
}

func (r *riskServer) get(t *testing.T, who, path string, header ...string) (int, []byte, map[string]string) {
	t.Helper()
	resp, body := r.do(t, "GET", path, "", append([]string{"Authorization", r.auth[who]}, header...)...)
	h := map[string]string{}
	for k := range resp.Header {
		h[k] = resp.Header.Get(k)
	}
	return resp.StatusCode, body, h
}

func (r *riskServer) json(t *testing.T, who, path string, out any) {
	t.Helper()
	st, body, _ := r.get(t, who, path)
	if st != 200 {
		t.Fatalf("%s %s: %d %s", who, path, st, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatal(err)
	}
}

func TestRiskAreasAPI(t *testing.T) {
	r := newRiskServer(t)
	var list risk.AreaList
	r.json(t, "plan", "/api/v1/risk/areas", &list)
	if list.Snapshot.ID != r.f.Snap2 || list.Snapshot.TakenOn != "2026-12-01" || list.Previous == nil || list.Previous.ID != r.f.Snap1 ||
		list.Level != "street" || len(list.Areas) != 3 {
		t.Fatalf("list %+v", list)
	}
	a := list.Areas[0]
	if a.Code != testdb.RiskS1 || a.Name != "甲街道" || a.Rank != 1 || a.Score != 90 || a.Colour != risk.Orange || *a.PreviousScore != 40 ||
		*a.PreviousColour != risk.Yellow || a.Change != "up" || a.Parts["enterprises"] != 70 || a.Top[0].Name != "甲化工" ||
		list.Areas[1].Rank != 2 || list.Areas[2].Rank != 2 || list.Areas[1].Code != testdb.RiskS2 {
		t.Fatalf("areas %+v", list.Areas)
	}
	// The wire names of the contract.
	_, body, _ := r.get(t, "plan", "/api/v1/risk/areas?level=district")
	for _, k := range []string{`"snapshot":{"id":`, `"previous":{"id":`, `"score_colour":"orange"`, `"floor_colour":"red"`, `"previous_score":50`,
		`"previous_colour":"yellow"`, `"change":"up"`, `"rank":1`, `"street_code":null`, `"district_code":"310101"`, `"counts":{"enterprises":2,"hazards":1}`} {
		if !bytes.Contains(body, []byte(k)) {
			t.Errorf("districts lack %s: %s", k, body)
		}
	}
	r.json(t, "adm", "/api/v1/risk/areas?level=community&date=2026-11-20", &list)
	if list.Snapshot.ID != r.f.Snap1 || list.Previous != nil || len(list.Areas) != 2 || list.Areas[1].Code != testdb.RiskC3 {
		t.Fatalf("communities on 11-20 %+v", list)
	}
	r.json(t, "adm", fmt.Sprintf("/api/v1/risk/areas?snapshot=%d&level=district", r.f.Snap1), &list)
	if list.Snapshot.ID != r.f.Snap1 || list.Areas[0].Score != 50 {
		t.Fatalf("by id %+v", list)
	}
	// Per role.
	for _, tc := range []struct {
		who, query string
		want       []string
	}{
		{"dist", "level=street", []string{testdb.RiskS1, testdb.RiskS2}},
		{"distx", "level=district", []string{testdb.RiskD2}},
		{"sta", "level=district", []string{}},
		{"sta", "level=community", []string{testdb.RiskC1, testdb.RiskC2}},
		{"stb", "level=street&zone=bay", []string{testdb.RiskS2, testdb.RiskS3}},
		{"dist", "level=street&zone=bay", []string{testdb.RiskS2, testdb.RiskS3}},
		{"plan", "level=street&district=310104", []string{testdb.RiskS3}},
		{"adm", "level=community&street=310101001", []string{testdb.RiskC1, testdb.RiskC2}},
	} {
		var l risk.AreaList
		r.json(t, tc.who, "/api/v1/risk/areas?"+tc.query, &l)
		got := []string{}
		for _, a := range l.Areas {
			got = append(got, a.Code)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s %s: %v, want %v", tc.who, tc.query, got, tc.want)
		}
	}
}

// TestRiskAccessAPI: officers are refused on every route; out of sight is exactly a missing thing.
func TestRiskAccessAPI(t *testing.T) {
	r := newRiskServer(t)
	b := r.f.Cells["B"].String()
	for _, path := range []string{"/api/v1/risk/areas", "/api/v1/risk/areas/310101", "/api/v1/risk/cells/" + b,
		"/api/v1/risk/compare?from=2026-11-01", "/api/v1/risk/tiles.json", "/api/v1/risk/tiles/10/857/418.mvt"} {
		if st, body, _ := r.get(t, "off1", path); st != 403 {
			t.Errorf("officer %s: %d %s", path, st, body)
		}
		if resp, _ := r.do(t, "GET", path, ""); resp.StatusCode != 401 {
			t.Errorf("anonymous %s: %d", path, resp.StatusCode)
		}
	}
	same := []string{"X-Request-ID", "risk-scope-test"}
	pairs := []struct {
		name                         string
		whoOut, pathOut, whoM, pathM string
	}{
		// 乙一社区 is in snapshot 1 only: out of 甲's sight there, missing in snapshot 2.
		{"community", "sta", fmt.Sprintf("/api/v1/risk/areas/%s?snapshot=%d", testdb.RiskC3, r.f.Snap1), "adm", "/api/v1/risk/areas/" + testdb.RiskC3},
		{"district row", "sta", fmt.Sprintf("/api/v1/risk/areas/%s?snapshot=%d", testdb.RiskC3, r.f.Snap1), "dist", "/api/v1/risk/areas/" + testdb.RiskC3},
		// Cell B is in snapshot 2 only.
		{"cell", "distx", "/api/v1/risk/cells/" + b, "adm", fmt.Sprintf("/api/v1/risk/cells/%s?snapshot=%d", b, r.f.Snap1)},
		{"cell in a zone", "stb", "/api/v1/risk/cells/" + b + "?zone=bay", "adm", fmt.Sprintf("/api/v1/risk/cells/%s?snapshot=%d", b, r.f.Snap1)},
	}
	for _, p := range pairs {
		st1, out, _ := r.get(t, p.whoOut, p.pathOut, same...)
		st2, missing, _ := r.get(t, p.whoM, p.pathM, same...)
		if st1 != 404 || st2 != 404 || !bytes.Equal(out, missing) {
			t.Errorf("%s: out of sight %d %s, missing %d %s", p.name, st1, out, st2, missing)
		}
	}
	// A filter outside the area is the 400 of an unknown one.
	st, out, _ := r.get(t, "dist", "/api/v1/risk/areas?district=310104", same...)
	_, missing, _ := r.get(t, "dist", "/api/v1/risk/areas?district=310199", same...)
	if st != 400 || strings.Replace(string(out), "310104", "X", -1) != strings.Replace(string(missing), "310199", "X", -1) {
		t.Errorf("filter %d %s vs %s", st, out, missing)
	}
	// A zone the caller is not a member of is a 404 like one that does not exist.
	st, out, _ = r.get(t, "sta", "/api/v1/risk/areas?zone=bay", same...)
	_, missing, _ = r.get(t, "sta", "/api/v1/risk/areas?zone=nowhere", same...)
	if st != 404 || strings.Replace(string(out), "bay", "X", -1) != strings.Replace(string(missing), "nowhere", "X", -1) {
		t.Errorf("zone %d %s vs %s", st, out, missing)
	}
}

func TestRiskBadInputAPI(t *testing.T) {
	r := newRiskServer(t)
	tomorrow := time.Now().In(grid.ShanghaiZone()).AddDate(0, 0, 1).Format(time.DateOnly)
	for _, tc := range []struct{ path, field string }{
		{"/api/v1/risk/areas?date=2026-02-30", "date"},
		{"/api/v1/risk/areas?date=yesterday", "date"},
		{"/api/v1/risk/areas?date=2026-10-31", "date"},
		{"/api/v1/risk/areas?date=" + tomorrow, "date"},
		{"/api/v1/risk/areas?snapshot=abc", "snapshot"},
		{"/api/v1/risk/areas?snapshot=-1", "snapshot"},
		{"/api/v1/risk/areas?snapshot=1&date=2026-12-01", "snapshot"},
		{"/api/v1/risk/areas?level=cell", "level"},
		{"/api/v1/risk/areas?format=pdf", "format"},
		{"/api/v1/risk/areas?district=%00", "district"},
		{"/api/v1/risk/areas?street=%FF%FE", "street"},
		{"/api/v1/risk/areas?zone=%00", "zone"},
		{"/api/v1/risk/areas?zone=" + strings.Repeat("a", 41), "zone"},
		{"/api/v1/risk/areas/310101?date=2026-13-01", "date"},
		{"/api/v1/risk/cells/notacell", "h3"},
		{"/api/v1/risk/cells/8a309a6a5ffffff", "h3"}, // not resolution 9
		{"/api/v1/risk/compare", "from"},
		{"/api/v1/risk/compare?from=2026-12-01&to=2026-11-01", "from"},
		{"/api/v1/risk/compare?from=2026-11-01&to=" + tomorrow, "to"},
		{"/api/v1/risk/compare?from=2026-11-01&level=province", "level"},
		{"/api/v1/risk/tiles.json?snapshot=x", "snapshot"},
		{"/api/v1/risk/tiles/8/1/1.mvt?snapshot=0", "snapshot"},
	} {
		st, body, _ := r.get(t, "adm", tc.path)
		var p problem
		_ = json.Unmarshal(body, &p)
		if st != 400 || len(p.Errors) == 0 || p.Errors[0].Field != tc.field {
			t.Errorf("%s: %d %s, want a 400 on %s", tc.path, st, body, tc.field)
		}
	}
	for _, path := range []string{"/api/v1/risk/tiles/x/0/0.mvt", "/api/v1/risk/tiles/23/0/0.mvt", "/api/v1/risk/tiles/3/8/0.mvt", "/api/v1/risk/tiles/3/0/-1.mvt"} {
		st, body, _ := r.get(t, "adm", path)
		if st != 400 || !bytes.Contains(body, []byte("tile")) && !bytes.Contains(body, []byte(" must be an integer")) {
			t.Errorf("%s: %d %s", path, st, body)
		}
	}
	for _, path := range []string{"/api/v1/risk/areas?snapshot=999999", "/api/v1/risk/areas/31010", "/api/v1/risk/areas/abcdef", "/api/v1/risk/tiles.json?snapshot=999999"} {
		if st, body, _ := r.get(t, "adm", path); st != 404 {
			t.Errorf("%s: %d %s", path, st, body)
		}
	}
}

func TestRiskAreaCellCompareAPI(t *testing.T) {
	r := newRiskServer(t)
	var a risk.AreaDetail
	r.json(t, "dist", "/api/v1/risk/areas/"+testdb.RiskS1, &a)
	if a.Code != testdb.RiskS1 || a.Score != 90 || a.Rank != 1 || a.Cells[risk.Red] != 1 || a.Cells[risk.Orange] != 1 || a.Snapshot.ID != r.f.Snap2 {
		t.Fatalf("area %+v", a)
	}
	var c risk.CellDetail
	r.json(t, "sta", "/api/v1/risk/cells/"+r.f.Cells["A"].String(), &c)
	if c.H3 != r.f.Cells["A"].String() || c.Score != 80 || c.Own != 70 || c.Spill != 10 || *c.FireMinutes != 12.5 || c.Colour != risk.Red {
		t.Fatalf("cell %+v", c)
	}
	r.json(t, "sta", fmt.Sprintf("/api/v1/risk/cells/%d?date=2026-11-02", int64(r.f.Cells["A"])), &c)
	if c.Score != 30 || c.Snapshot.ID != r.f.Snap1 {
		t.Fatalf("cell by decimal on 11-02 %+v", c)
	}
	var cmp risk.Comparison
	r.json(t, "plan", "/api/v1/risk/compare?from=2026-11-01&to=2026-12-01&level=street", &cmp)
	if cmp.From.ID != r.f.Snap1 || cmp.To.ID != r.f.Snap2 || len(cmp.Changes) != 3 || cmp.Changes[0].Code != testdb.RiskS1 ||
		cmp.Changes[0].Reason != "由黄升为橙：企业风险分 +40.0（新增 甲化工 重大 · 重大危险源）；隐患风险分 +5.0" || cmp.Changes[0].PartsDelta["enterprises"] != 40 {
		t.Fatalf("compare %+v", cmp)
	}
	// to defaults to today: the latest.
	r.json(t, "stb", "/api/v1/risk/compare?from=2026-11-01&zone=bay", &cmp)
	if cmp.To.ID != r.f.Snap2 || len(cmp.Changes) != 2 || cmp.Changes[0].Code != testdb.RiskS3 || cmp.Changes[1].Code != testdb.RiskS2 {
		t.Fatalf("zone compare %+v", cmp)
	}
}

func TestRiskExportsAPI(t *testing.T) {
	r := newRiskServer(t)
	var list risk.AreaList
	r.json(t, "dist", "/api/v1/risk/areas?level=street", &list)
	st, body, h := r.get(t, "dist", "/api/v1/risk/areas?level=street&format=geojson")
	if st != 200 || h["Content-Type"] != mimeGeoJSON {
		t.Fatalf("geojson %d %v", st, h)
	}
	fc, err := geojson.UnmarshalFeatureCollection(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(fc.Features) != len(list.Areas) {
		t.Fatalf("features %d, areas %d", len(fc.Features), len(list.Areas))
	}
	for i, f := range fc.Features {
		a := list.Areas[i]
		b := f.Geometry.Bound()
		if f.ID != a.Code || f.Properties["code"] != a.Code || f.Properties["score"] != a.Score || f.Properties["colour"] != string(a.Colour) ||
			f.Properties["change"] != a.Change || f.Geometry.GeoJSONType() != "MultiPolygon" || b.Min[1] != 31.18 || b.Max[1] != 31.28 {
			t.Fatalf("feature %d %+v vs %+v", i, f, a)
		}
		if top, ok := f.Properties["top"].([]any); !ok || len(top) != len(a.Top) {
			t.Fatalf("feature %d top %v", i, f.Properties["top"])
		}
	}

	st, body, h = r.get(t, "plan", "/api/v1/risk/areas?format=xlsx")
	if st != 200 || h["Content-Type"] != mimeXLSX || h["Content-Disposition"] != fmt.Sprintf(`attachment; filename="risk-2026-12-01-%d.xlsx"`, r.f.Snap2) {
		t.Fatalf("xlsx %d %v", st, h)
	}
	x, err := excelize.OpenReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	for sheet, level := range map[string]string{"区": "district", "街镇": "street"} {
		rows, err := x.GetRows(sheet)
		if err != nil {
			t.Fatal(err)
		}
		var l risk.AreaList
		r.json(t, "plan", "/api/v1/risk/areas?level="+level, &l)
		if len(rows) != len(l.Areas)+2 || !strings.Contains(rows[0][0], "2026-12-01") || !strings.Contains(rows[0][0], fmt.Sprintf("参数 #%d", r.f.ConfigID)) {
			t.Fatalf("%s: %q", sheet, rows)
		}
		off := 0
		if level == "street" {
			off = 1
		}
		for i, a := range l.Areas {
			row := rows[i+2]
			if row[0] != fmt.Sprint(a.Rank) || row[1] != a.Code || row[2] != a.Name || row[3+off] != fmt.Sprint(a.Score) ||
				row[4+off] != a.Colour.Chinese() || row[6+off] != risk.ChangeChinese(a.Change) || row[8+off] != a.PreviousColour.Chinese() {
				t.Errorf("%s row %d %q vs %+v", sheet, i, row, a)
			}
			if len(a.Top) > 0 && row[9+off] != a.Top[0].Name+" "+a.Top[0].Detail {
				t.Errorf("%s row %d top %q", sheet, i, row[9+off])
			}
		}
	}
	// The street office's report holds its street only, and no district.
	_, body, _ = r.get(t, "sta", "/api/v1/risk/areas?format=xlsx")
	x2, err := excelize.OpenReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer x2.Close()
	d, _ := x2.GetRows("区")
	s, _ := x2.GetRows("街镇")
	if len(d) != 2 || len(s) != 3 || s[2][1] != testdb.RiskS1 {
		t.Fatalf("street office report %q %q", d, s)
	}

	st, body, h = r.get(t, "plan", "/api/v1/risk/areas?format=csv&level=street")
	if st != 200 || !strings.HasPrefix(h["Content-Type"], mimeCSV) {
		t.Fatalf("csv %d %v", st, h)
	}
	recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(body, []byte("\uFEFF")))).ReadAll()
	if err != nil || len(recs) != 4 || recs[1][1] != testdb.RiskS1 || recs[1][3] != testdb.RiskD1 {
		t.Fatalf("csv %q %v", recs, err)
	}
	// The underground space named =HYPERLINK("x") is 甲街道's fourth contributor: not in
	// the top three of the report, but formula-safe wherever it shows.
	if bytes.Contains(body, []byte(`,=HYPERLINK`)) {
		t.Fatalf("formula in csv: %s", body)
	}
}

func TestRiskTilesAPI(t *testing.T) {
	r := newRiskServer(t)
	var tj tileJSON
	r.json(t, "stb", "/api/v1/risk/tiles.json?zone=bay", &tj)
	u, err := url.Parse(tj.Tiles[0])
	if err != nil {
		t.Fatal(err)
	}
	if tj.TileJSON != "3.0.0" || u.Path != "/api/v1/risk/tiles/{z}/{x}/{y}.mvt" || u.Query().Get("snapshot") != fmt.Sprint(r.f.Snap2) ||
		u.Query().Get("zone") != "bay" || !strings.HasPrefix(tj.Tiles[0], "http://example.com/") || tj.MinZoom != 0 || tj.MaxZoom != risk.TilesMaxZoom ||
		tj.Bounds != [4]float64{120.85, 30.67, 122.20, 31.88} || len(tj.VectorLayers) != 2 ||
		tj.VectorLayers[0].ID != "risk_areas" || tj.VectorLayers[0].MaxZoom != 12 || tj.VectorLayers[1].ID != "risk_cells" ||
		tj.VectorLayers[1].MinZoom != 13 || tj.VectorLayers[0].Fields["colour"] != "String" || tj.VectorLayers[1].Fields["score"] != "Number" {
		t.Fatalf("tilejson %+v", tj)
	}
	r.json(t, "adm", fmt.Sprintf("/api/v1/risk/tiles.json?snapshot=%d", r.f.Snap1), &tj)
	if !strings.HasSuffix(tj.Tiles[0], fmt.Sprintf("?snapshot=%d", r.f.Snap1)) {
		t.Fatalf("tilejson of snapshot 1 %v", tj.Tiles)
	}

	at := func(z int, lon, lat float64) string {
		tl := maptile.At([2]float64{lon, lat}, maptile.Zoom(z))
		return fmt.Sprintf("/api/v1/risk/tiles/%d/%d/%d.mvt", z, tl.X, tl.Y)
	}
	decode := func(b []byte) map[string][]string { return testdb.RiskTileKeys(t, b) }
	for _, tc := range []struct {
		who, path string
		want      map[string][]string
	}{
		{"plan", at(9, 121.45, 31.2), map[string][]string{"risk_areas": {testdb.RiskD1, testdb.RiskD2}}},
		{"dist", at(9, 121.45, 31.2), map[string][]string{"risk_areas": {testdb.RiskD1}}},
		{"sta", at(9, 121.45, 31.2), map[string][]string{}},
		{"distx", at(11, 121.45, 31.2), map[string][]string{"risk_areas": {testdb.RiskS3}}},
		{"stb", at(10, 121.45, 31.2) + "?zone=bay", map[string][]string{"risk_areas": {testdb.RiskS2, testdb.RiskS3}}},
		{"sta", at(16, 121.42, 31.20), map[string][]string{"risk_cells": {r.f.Cells["A"].String()}}},
		{"stb", at(16, 121.42, 31.20), map[string][]string{}},
		{"plan", at(16, 121.42, 31.20) + fmt.Sprintf("?snapshot=%d", r.f.Snap1), map[string][]string{"risk_cells": {r.f.Cells["A"].String()}}},
	} {
		st, body, h := r.get(t, tc.who, tc.path)
		if st != 200 || h["Content-Type"] != mimeMVT && len(body) > 0 || h["Cache-Control"] != tileCacheControl || h["Etag"] == "" {
			t.Fatalf("%s %s: %d %v", tc.who, tc.path, st, h)
		}
		got := decode(body)
		if len(got) != len(tc.want) {
			t.Errorf("%s %s: %v, want %v", tc.who, tc.path, got, tc.want)
		}
		for k, v := range tc.want {
			if !slices.Equal(got[k], v) {
				t.Errorf("%s %s: %v, want %v", tc.who, tc.path, got, tc.want)
			}
		}
	}
	// The ETag names snapshot, view and tile: a revalidation is a 304; another snapshot, tile or area another tag.
	path := at(9, 121.45, 31.2)
	_, _, h := r.get(t, "plan", path)
	if st, body, _ := r.get(t, "plan", path, "If-None-Match", h["Etag"]); st != 304 || len(body) != 0 {
		t.Fatalf("revalidation %d", st)
	}
	_, _, h1 := r.get(t, "plan", path+fmt.Sprintf("?snapshot=%d", r.f.Snap1))
	_, _, h2 := r.get(t, "dist", path)
	_, _, h3 := r.get(t, "plan", at(10, 121.45, 31.2))
	_, _, h4 := r.get(t, "plan", path+fmt.Sprintf("?snapshot=%d", r.f.Snap2))
	if h1["Etag"] == h["Etag"] || h2["Etag"] == h["Etag"] || h3["Etag"] == h["Etag"] || h4["Etag"] != h["Etag"] {
		t.Fatalf("etags %s %s %s %s %s", h["Etag"], h1["Etag"], h2["Etag"], h3["Etag"], h4["Etag"])
	}
	// Over Basic, as QGIS asks.
	resp, body := r.do(t, "GET", path, "", "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("plan:password-plan")))
	if resp.StatusCode != 200 || len(decode(body)["risk_areas"]) != 2 {
		t.Fatalf("basic %d", resp.StatusCode)
	}
}
