package api

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"

	"safegrid/geo"
	"safegrid/grid"
	"safegrid/grid/hazardstat"
	"safegrid/grid/testdb"
)

// analysisFixture: two streets of one district, a blob of 5 hazards in the west street
// (one 重大) and one of 4 in the east street, 10 m apart, and a lone hazard far away.
// The officer's grid unit holds the cells of the west blob.
func analysisFixture(t *testing.T) *testServer {
	t.Helper()
	ts := newTestServer(t, nil)
	ctx := context.Background()
	for _, q := range []string{
		`INSERT INTO areas (code, name, geom) VALUES ('310101', '黄浦区', ST_Multi(ST_MakeEnvelope(121.30, 31.10, 121.60, 31.35, 4326)))`,
		`INSERT INTO areas (code, name, geom) VALUES ('310101002', '南京东路街道', ST_Multi(ST_MakeEnvelope(121.30, 31.10, 121.45, 31.35, 4326)))`,
		`INSERT INTO areas (code, name, geom) VALUES ('310101013', '外滩街道', ST_Multi(ST_MakeEnvelope(121.45, 31.10, 121.60, 31.35, 4326)))`,
	} {
		if _, err := testdb.DB(ts.st).Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	type hz struct {
		p      orb.Point
		level  string
		street string
	}
	var hs []hz
	for i := range 5 {
		lv := "一般"
		if i == 0 {
			lv = "重大"
		}
		hs = append(hs, hz{orb.Point{121.40 + float64(i)*0.0001, 31.23}, lv, "310101002"})
	}
	for i := range 4 {
		hs = append(hs, hz{orb.Point{121.50, 31.23 + float64(i)*0.0001}, "一般", "310101013"})
	}
	hs = append(hs, hz{orb.Point{121.55, 31.30}, "一般", "310101013"})
	westCells := map[int64]bool{}
	for _, h := range hs {
		cell := int64(geo.PointCell(h.p, geo.SupervisionRes))
		if h.street == "310101002" {
			westCells[cell] = true
		}
		if _, err := testdb.DB(ts.st).Exec(ctx, `INSERT INTO hazards (district_code, level, category, description, street_code, h3, geom)
VALUES ('310101', $1, '消防安全', 'test', $2, $3, ST_SetSRID(ST_MakePoint($4, $5), 4326))`, h.level, h.street, cell, h.p[0], h.p[1]); err != nil {
			t.Fatal(err)
		}
	}
	ts.addUser(t, "plan", grid.RolePlanner, "")
	ts.addUser(t, "west", grid.RoleStreet, "310101002")
	officer := ts.addUser(t, "wang", grid.RoleOfficer, "")
	if _, err := testdb.DB(ts.st).Exec(ctx, `INSERT INTO grid_units (code, name, street_code, officer_id) VALUES ('U1', '一号网格', '310101002', $1)`, officer); err != nil {
		t.Fatal(err)
	}
	for c := range westCells {
		if _, err := testdb.DB(ts.st).Exec(ctx, `INSERT INTO grid_cells (district_code, h3, unit_code) VALUES ('310101', $1, 'U1')`, c); err != nil {
			t.Fatal(err)
		}
	}
	return ts
}

func getCollection(t *testing.T, ts *testServer, path, auth string) *geojson.FeatureCollection {
	t.Helper()
	resp, body := ts.do(t, "GET", path, "", "Authorization", auth)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/geo+json" {
		t.Errorf("Content-Type %q", ct)
	}
	fc, err := geojson.UnmarshalFeatureCollection(body)
	if err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	return fc
}

func TestHazardClustersAPI(t *testing.T) {
	ts := analysisFixture(t)
	plan, west, officer := ts.login(t, "plan"), ts.login(t, "west"), ts.login(t, "wang")
	const q = "/api/v1/analysis/hazard-clusters?eps_m=50&min_points=3"

	fc := getCollection(t, ts, q, plan)
	if len(fc.Features) != 2 {
		t.Fatalf("planner: %d clusters, want 2", len(fc.Features))
	}
	first := fc.Features[0]
	if _, ok := first.Geometry.(orb.Polygon); !ok {
		t.Errorf("hull is a %T", first.Geometry)
	}
	var props struct {
		ID          int                    `json:"id"`
		Members     int                    `json:"members"`
		Centroid    []float64              `json:"centroid"`
		Levels      map[string]int         `json:"levels"`
		TopCategory string                 `json:"top_category"`
		Streets     []hazardstat.StreetRef `json:"streets"`
	}
	raw, _ := json.Marshal(first.Properties)
	if err := json.Unmarshal(raw, &props); err != nil {
		t.Fatal(err)
	}
	if props.ID != 1 || props.Members != 5 || props.Levels["重大"] != 1 || props.Levels["一般"] != 4 || props.TopCategory != "消防安全" ||
		len(props.Centroid) != 2 || len(props.Streets) != 1 || props.Streets[0].Name != "南京东路街道" {
		t.Errorf("first cluster %+v", props)
	}
	if n := len(getCollection(t, ts, q+"&level=重大", plan).Features); n != 0 {
		t.Errorf("重大 only, min 3: %d clusters, want 0", n)
	}
	if n := len(getCollection(t, ts, q+"&street=310101013", plan).Features); n != 1 {
		t.Errorf("planner, east street: %d clusters, want 1", n)
	}

	// A street office sees its own street's hazards only; an officer those in their cells.
	for _, c := range []struct{ who, auth string }{{"street office", west}, {"officer", officer}} {
		fc := getCollection(t, ts, q, c.auth)
		if len(fc.Features) != 1 || fc.Features[0].Properties["members"] != 5.0 {
			t.Errorf("%s: %d clusters %v, want the west blob only", c.who, len(fc.Features), fc.Features)
		}
	}
	resp, body := ts.do(t, "GET", q+"&street=310101013", "", "Authorization", west)
	problemOf(t, resp, body, 403)
	for _, bad := range []string{"eps_m=0", "eps_m=abc", "min_points=0", "level=huge", "from=yesterday", "street=12"} {
		resp, body := ts.do(t, "GET", "/api/v1/analysis/hazard-clusters?"+bad, "", "Authorization", plan)
		problemOf(t, resp, body, 422)
	}
	resp, body = ts.do(t, "GET", q, "")
	problemOf(t, resp, body, 401)
}

func TestHotspotsAPI(t *testing.T) {
	ts := analysisFixture(t)
	plan, west := ts.login(t, "plan"), ts.login(t, "west")
	sum := func(fc *geojson.FeatureCollection) (hazards int, weighted float64) {
		for _, f := range fc.Features {
			if _, ok := f.Geometry.(orb.Polygon); !ok {
				t.Fatalf("cell %v is a %T", f.Properties["cell"], f.Geometry)
			}
			for _, k := range []string{"cell", "count", "value", "z", "p", "bin"} {
				if _, ok := f.Properties[k]; !ok {
					t.Fatalf("cell without %s: %v", k, f.Properties)
				}
			}
			hazards += int(f.Properties["count"].(float64))
			weighted += f.Properties["value"].(float64)
		}
		return hazards, weighted
	}
	fc := getCollection(t, ts, "/api/v1/analysis/hotspots?resolution=9&k=1", plan)
	if n, w := sum(fc); n != 10 || w != 10 {
		t.Errorf("planner: %d hazards, value %g; want 10 and 10", n, w)
	}
	fc = getCollection(t, ts, "/api/v1/analysis/hotspots?resolution=9&k=1&weighted=true&fdr=true", plan)
	if n, w := sum(fc); n != 10 || w != 12 {
		t.Errorf("weighted: %d hazards, value %g; want 10 and 12 (one 重大 weighs 3)", n, w)
	}
	fc = getCollection(t, ts, "/api/v1/analysis/hotspots", west)
	if n, _ := sum(fc); n != 5 {
		t.Errorf("street office: %d hazards, want its street's 5", n)
	}
	for _, bad := range []string{"resolution=4", "resolution=10", "k=0", "k=6", "weighted=maybe", "fdr=2x"} {
		resp, body := ts.do(t, "GET", "/api/v1/analysis/hotspots?"+bad, "", "Authorization", plan)
		p := problemOf(t, resp, body, 422)
		if len(p.Errors) != 1 {
			t.Errorf("%s: %+v", bad, p)
		}
	}
	resp, body := ts.do(t, "GET", "/api/v1/analysis/hotspots?street=310101013", "", "Authorization", west)
	problemOf(t, resp, body, 403)
}
