package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"math"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/maptile"

	"safegrid/grid"
	"safegrid/grid/coverage"
	"safegrid/grid/testdb"
)

type coverageCellProps struct {
	Cell      string  `json:"cell"`
	Covered   bool    `json:"covered"`
	District  string  `json:"district_code"`
	Nearest   string  `json:"nearest_station"`
	DistanceM float64 `json:"distance_m"`
	Minutes   float64 `json:"minutes"`
}

// coverageTiles fetches the tiles at zoom z over the test district (121.40–121.50°E,
// 31.10–31.20°N) from a TileJSON URL template and decodes them.
func coverageTiles(t *testing.T, ts *testServer, tmpl string, z maptile.Zoom, tok string) []mvt.Layers {
	t.Helper()
	lo := maptile.At(orb.Point{121.40, 31.20}, z) // north-west: smallest x and y
	hi := maptile.At(orb.Point{121.50, 31.10}, z)
	var out []mvt.Layers
	for x := lo.X; x <= hi.X; x++ {
		for y := lo.Y; y <= hi.Y; y++ {
			path := strings.NewReplacer("{z}", itoa(int(z)), "{x}", itoa(int(x)), "{y}", itoa(int(y))).Replace(tmpl)
			resp, body := ts.do(t, "GET", path, "", "Authorization", tok)
			if resp.StatusCode != 200 {
				t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
			}
			if resp.Header.Get("ETag") == "" || resp.Header.Get("Cache-Control") != tileCacheControl {
				t.Errorf("ETag %q, Cache-Control %q", resp.Header.Get("ETag"), resp.Header.Get("Cache-Control"))
			}
			layers, err := mvt.Unmarshal(body)
			if err != nil {
				t.Fatalf("GET %s: decoding: %v", path, err)
			}
			out = append(out, layers)
		}
	}
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }

func layerOf(ls mvt.Layers, name string) *mvt.Layer {
	for _, l := range ls {
		if l.Name == name {
			return l
		}
	}
	return nil
}

// TestCoverageTiles: the coverage tiles hold, cell for cell, what GET …/coverage/cells
// says for the same parameters (taken from the TileJSON's URL template); at low zooms the
// parents' counts add up to the same cells; the stations layer carries the service areas
// of POST …/coverage; a new station shows in the next tile; only planners and admins.
func TestCoverageTiles(t *testing.T) {
	st := testdb.New(t, withCoverage)
	ts := serverOn(t, st, nil)
	ts.addUser(t, "plan", grid.RolePlanner, "")
	ts.addUser(t, "office", grid.RoleStreet, "310104003")
	ts.addUser(t, "walker", grid.RoleOfficer, "")
	planner := ts.login(t, "plan")

	q := url.Values{"add": {"121.49,31.15,小型"}, "minutes": {"4"}}
	resp, body := ts.do(t, "GET", "/api/v1/analysis/coverage/cells?"+q.Encode(), "", "Authorization", planner)
	if resp.StatusCode != 200 {
		t.Fatalf("cells: %d %s", resp.StatusCode, body)
	}
	var fc struct {
		Features []struct {
			Properties coverageCellProps `json:"properties"`
		} `json:"features"`
	}
	if err := json.Unmarshal(body, &fc); err != nil {
		t.Fatal(err)
	}
	want := map[string]coverageCellProps{}
	covered := 0
	for _, f := range fc.Features {
		want[f.Properties.Cell] = f.Properties
		if f.Properties.Covered {
			covered++
		}
	}
	if len(want) < 1000 || covered == 0 {
		t.Fatalf("%d cells, %d covered", len(want), covered)
	}

	resp, body = ts.do(t, "GET", "/api/v1/analysis/coverage/tiles.json?"+q.Encode(), "", "Authorization", planner)
	var tj tileJSON
	if err := json.Unmarshal(body, &tj); resp.StatusCode != 200 || err != nil || len(tj.Tiles) != 1 || len(tj.VectorLayers) != 2 {
		t.Fatalf("tiles.json: %d %s", resp.StatusCode, body)
	}
	u, err := url.Parse(tj.Tiles[0])
	if err != nil || !strings.HasSuffix(u.Path, "/api/v1/analysis/coverage/tiles/{z}/{x}/{y}.mvt") ||
		u.Query().Get("minutes") != "4" || u.Query().Get("add") != "121.49,31.15,小型" || u.Query().Get("detour") != "1.4" {
		t.Fatalf("template %q", tj.Tiles[0])
	}
	if tj.Bounds[0] < 121.39 || tj.Bounds[2] > 121.51 || tj.Bounds[1] < 31.09 || tj.Bounds[3] > 31.21 {
		t.Errorf("bounds %v", tj.Bounds)
	}
	tmpl := strings.TrimPrefix(tj.Tiles[0], "http://example.com")

	// Full zoom: every feature is a cell of the GeoJSON with the same values.
	seen := map[string]bool{}
	for _, ls := range coverageTiles(t, ts, tmpl, 13, planner) {
		l := layerOf(ls, "coverage")
		if l == nil {
			continue
		}
		for _, f := range l.Features {
			cell, _ := f.Properties["cell"].(string)
			w, ok := want[cell]
			if !ok {
				t.Fatalf("tile cell %q is not in the GeoJSON", cell)
			}
			seen[cell] = true
			if f.Properties["covered"] != w.Covered || f.Properties["nearest_station"] != w.Nearest ||
				f.Properties["distance_m"] != w.DistanceM || f.Properties["minutes"] != w.Minutes || f.Properties["district_code"] != w.District {
				t.Errorf("cell %s: tile %v, GeoJSON %+v", cell, f.Properties, w)
			}
			if f.Geometry.GeoJSONType() != "Polygon" {
				t.Errorf("cell %s is a %s", cell, f.Geometry.GeoJSONType())
			}
		}
	}
	if len(seen) != len(want) {
		t.Errorf("the zoom-13 tiles hold %d of the %d cells", len(seen), len(want))
	}
	// Minutes follow the model: 4 min at 30 km/h over detour 1.4 is 1,428.6 m.
	for _, w := range want {
		if math.Abs(w.Minutes-w.DistanceM*1.4/500) > 0.006 || w.Covered != (w.DistanceM <= 1428.6) {
			t.Fatalf("cell %+v", w)
		}
	}

	// Low zoom: parents whose counts add up to the same cells.
	parents := map[string][2]float64{}
	for _, ls := range coverageTiles(t, ts, tmpl, 8, planner) {
		l := layerOf(ls, "coverage")
		if l == nil {
			continue
		}
		for _, f := range l.Features {
			if f.Properties["resolution"] != float64(coverage.CoverageTileRes(8, 9)) {
				t.Fatalf("zoom-8 feature %v", f.Properties)
			}
			parents[f.Properties["cell"].(string)] = [2]float64{f.Properties["cells"].(float64), f.Properties["covered_cells"].(float64)}
		}
	}
	var sumCells, sumCovered float64
	for _, n := range parents {
		sumCells, sumCovered = sumCells+n[0], sumCovered+n[1]
	}
	if int(sumCells) != len(want) || int(sumCovered) != covered {
		t.Errorf("zoom 8: %v cells, %v covered; GeoJSON %d, %d", sumCells, sumCovered, len(want), covered)
	}

	// Stations: the service areas of POST /api/v1/analysis/coverage.
	_, body = ts.do(t, "POST", "/api/v1/analysis/coverage", `{"minutes": 4, "add": [{"lon": 121.49, "lat": 31.15, "type": "小型"}]}`, "Authorization", planner)
	var res coverage.CoverageResult
	if err := json.Unmarshal(body, &res); err != nil || len(res.Stations) != 2 {
		t.Fatalf("coverage: %s", body)
	}
	stations := map[string]map[string]any{}
	for _, ls := range coverageTiles(t, ts, tmpl, 12, planner) {
		if l := layerOf(ls, "coverage_stations"); l != nil {
			for _, f := range l.Features {
				stations[f.Properties["code"].(string)] = f.Properties
			}
		}
	}
	for _, s := range res.Stations {
		got := stations[s.Code]
		if got == nil || math.Abs(got["service_area_km2"].(float64)-s.ServiceAreaKm2) > 1e-3 || got["over_cap"] != s.OverCap || got["cap_km2"] != *s.CapKm2 {
			t.Errorf("station %s: tile %v, coverage %+v", s.Code, got, s)
		}
	}

	// ETag: the same tile again is a 304.
	path := strings.NewReplacer("{z}", "8", "{x}", itoa(int(maptile.At(orb.Point{121.45, 31.15}, 8).X)), "{y}", itoa(int(maptile.At(orb.Point{121.45, 31.15}, 8).Y))).Replace(tmpl)
	resp, _ = ts.do(t, "GET", path, "", "Authorization", planner)
	etag := resp.Header.Get("ETag")
	resp, _ = ts.do(t, "GET", path, "", "Authorization", planner, "If-None-Match", etag)
	if resp.StatusCode != 304 {
		t.Errorf("If-None-Match: %d", resp.StatusCode)
	}
	// A new station changes the cached analysis: the same URL gives another tile.
	if _, err := testdb.DB(st).Exec(context.Background(), `INSERT INTO fire_stations (code, name, type, status, district_code, h3, geom)
VALUES ('XH03', '徐汇北站', '二级普通', 'existing', '310104', 0, ST_SetSRID(ST_MakePoint(121.42, 31.19), 4326))`); err != nil {
		t.Fatal(err)
	}
	resp, body = ts.do(t, "GET", path, "", "Authorization", planner, "If-None-Match", etag)
	if resp.StatusCode != 200 || resp.Header.Get("ETag") == etag {
		t.Errorf("after a new station: %d, ETag %q (was %q)", resp.StatusCode, resp.Header.Get("ETag"), etag)
	}
	if ls, err := mvt.Unmarshal(body); err == nil {
		n := 0.0
		for _, f := range layerOf(ls, "coverage").Features {
			n += f.Properties["covered_cells"].(float64)
		}
		if n <= float64(covered) {
			t.Errorf("after a new station %v cells are covered, before %d", n, covered)
		}
	}

	// QGIS sends Basic credentials: the same tile, and a wrong password or role is refused.
	basic := func(user, pass string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}
	if r, b := ts.do(t, "GET", path, "", "Authorization", basic("plan", "password-plan")); r.StatusCode != 200 || !bytes.Equal(b, body) {
		t.Errorf("over Basic: %d, same tile %v", r.StatusCode, bytes.Equal(b, body))
	}
	r, b := ts.do(t, "GET", path, "", "Authorization", basic("plan", "wrong"))
	problemOf(t, r, b, 401)
	r, b = ts.do(t, "GET", path, "", "Authorization", basic("office", "password-office"))
	problemOf(t, r, b, 403)

	// The district parameter: the tile's own district keeps its cells; a district that is
	// not loaded is a 400 naming the parameter, not an empty tile.
	resp, body = ts.do(t, "GET", path+"&district=310104", "", "Authorization", planner)
	if ls, err := mvt.Unmarshal(body); resp.StatusCode != 200 || err != nil || layerOf(ls, "coverage") == nil {
		t.Errorf("district 310104: %d, %v, %d bytes", resp.StatusCode, err, len(body))
	}
	resp, body = ts.do(t, "GET", path+"&district=310105", "", "Authorization", planner)
	if p := problemOf(t, resp, body, 400); len(p.Errors) != 1 || p.Errors[0].Field != "district" {
		t.Errorf("district 310105: %+v", p)
	}

	// Refusals.
	for _, p := range []string{"/api/v1/analysis/coverage/tiles.json", "/api/v1/analysis/coverage/tiles/8/214/105.mvt"} {
		resp, body := ts.do(t, "GET", p, "")
		problemOf(t, resp, body, 401)
		for _, who := range []string{"office", "walker"} {
			resp, body := ts.do(t, "GET", p, "", "Authorization", ts.login(t, who))
			problemOf(t, resp, body, 403)
		}
	}
	for p, status := range map[string]int{
		"/api/v1/analysis/coverage/tiles/23/0/0.mvt": 400, "/api/v1/analysis/coverage/tiles/2/4/0.mvt": 400,
		"/api/v1/analysis/coverage/tiles/8/214/105.mvt?minutes=-1": 422, "/api/v1/analysis/coverage/tiles.json?without=NOPE": 422,
	} {
		resp, body := ts.do(t, "GET", p, "", "Authorization", planner)
		problemOf(t, resp, body, status)
	}
}
