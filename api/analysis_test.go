package api

import (
	"context"
	"encoding/json"
	"net/url"
	"testing"

	"github.com/paulmach/orb"

	"safegrid/geo"
	"safegrid/grid"
	"safegrid/grid/coverage"
	"safegrid/grid/testdb"
)

// withCoverage: one district and street (a 0.1° square around 121.45°E 31.15°N), one
// existing station at its centre and one planned; one enterprise 500 m east of the
// station (covered) and one 0.04° (about 3.8 km) east (not covered).
var withCoverage = &testdb.Setup{Name: "api-coverage-h3", Load: func(ctx context.Context, st *grid.Store) error {
	db := testdb.DB(st)
	for _, q := range []string{
		`INSERT INTO areas (code, name, geom) VALUES ('310104', '徐汇区', ST_Multi(ST_MakeEnvelope(121.40, 31.10, 121.50, 31.20, 4326)))`,
		`INSERT INTO areas (code, name, geom) VALUES ('310104003', '天平路街道', ST_Multi(ST_MakeEnvelope(121.40, 31.10, 121.50, 31.20, 4326)))`,
		`INSERT INTO area_parts (code, level, geom) SELECT code, level, (ST_Dump(ST_Subdivide(geom, 64))).geom FROM areas`,
		`INSERT INTO fire_stations (code, name, type, status, district_code, h3, geom) VALUES
 ('XH01', '徐汇站', '一级普通', 'existing', '310104', 0, ST_SetSRID(ST_MakePoint(121.45, 31.15), 4326)),
 ('XH02', '徐汇新站', '小型', 'planned', '310104', 0, ST_SetSRID(ST_MakePoint(121.49, 31.15), 4326))`,
		`INSERT INTO enterprises (district_code, street_code, uscc, name, industry, risk_level, h3, geom) VALUES
 ('310104', '310104003', '913100000000000001', '近', '工贸', '重大', 0, ST_Transform(ST_Translate(ST_Transform(ST_SetSRID(ST_MakePoint(121.45, 31.15), 4326), 32651), 500, 0), 4326)),
 ('310104', '310104003', '913100000000000002', '远', '工贸', '一般', 0, ST_SetSRID(ST_MakePoint(121.49, 31.151), 4326))`,
	} {
		if _, err := testdb.DB(st).Exec(ctx, q); err != nil {
			return err
		}
	}
	// The analyses read the enterprises' resolution-9 cells, as the importer writes them.
	rows, err := db.Query(ctx, `SELECT id, ST_X(geom), ST_Y(geom) FROM enterprises`)
	if err != nil {
		return err
	}
	type pt struct {
		id       int64
		lon, lat float64
	}
	var pts []pt
	for rows.Next() {
		var p pt
		if err := rows.Scan(&p.id, &p.lon, &p.lat); err != nil {
			return err
		}
		pts = append(pts, p)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, p := range pts {
		if _, err := testdb.DB(st).Exec(ctx, `UPDATE enterprises SET h3 = $1 WHERE id = $2`, int64(geo.PointCell(orb.Point{p.lon, p.lat}, 9)), p.id); err != nil {
			return err
		}
	}
	return nil
}}

func TestCoverageAPI(t *testing.T) {
	ts := serverOn(t, testdb.New(t, withCoverage), nil)
	ts.addUser(t, "plan", grid.RolePlanner, "")
	ts.addUser(t, "boss", grid.RoleAdmin, "")
	ts.addUser(t, "office", grid.RoleStreet, "310104003")
	ts.addUser(t, "walker", grid.RoleOfficer, "")
	planner, admin := ts.login(t, "plan"), ts.login(t, "boss")

	for _, who := range []string{"office", "walker"} {
		tok := ts.login(t, who)
		resp, body := ts.do(t, "POST", "/api/v1/analysis/coverage", `{}`, "Authorization", tok)
		problemOf(t, resp, body, 403)
		resp, body = ts.do(t, "GET", "/api/v1/analysis/coverage/cells", "", "Authorization", tok)
		problemOf(t, resp, body, 403)
		resp, body = ts.do(t, "POST", "/api/v1/analysis/siting", `{"k":1}`, "Authorization", tok)
		problemOf(t, resp, body, 403)
	}
	resp, body := ts.do(t, "POST", "/api/v1/analysis/coverage", `{}`)
	problemOf(t, resp, body, 401)

	var res coverage.CoverageResult
	for _, tok := range []string{planner, admin} {
		resp, body := ts.do(t, "POST", "/api/v1/analysis/coverage", `{}`, "Authorization", tok)
		if resp.StatusCode != 200 {
			t.Fatalf("coverage: %d %s", resp.StatusCode, body)
		}
		if err := json.Unmarshal(body, &res); err != nil {
			t.Fatal(err)
		}
	}
	if o := res.Overall.Enterprises; o.Total != 2 || o.Covered != 1 || o.Share != 0.5 {
		t.Errorf("overall enterprises %+v", o)
	}
	if w := res.Overall.EnterprisesWeighted; w.Total != 6 || w.Covered != 4 {
		t.Errorf("weighted %+v", w)
	}
	if len(res.Districts) != 1 || len(res.Streets) != 1 || len(res.Stations) != 1 || res.Stations[0].Code != "XH01" {
		t.Errorf("districts %+v streets %+v stations %+v", res.Districts, res.Streets, res.Stations)
	}
	// The planned station covers the far one.
	_, body = ts.do(t, "POST", "/api/v1/analysis/coverage", `{"planned": true}`, "Authorization", planner)
	if err := json.Unmarshal(body, &res); err != nil || res.Overall.Enterprises.Covered != 2 {
		t.Errorf("planned: %s", body)
	}
	// A what-if station near the far one, with the existing one left out.
	_, body = ts.do(t, "POST", "/api/v1/analysis/coverage", `{"add":[{"lon":121.49,"lat":31.15,"type":"小型"}],"without":["XH01"]}`, "Authorization", planner)
	if err := json.Unmarshal(body, &res); err != nil || res.Overall.Enterprises.Covered != 1 || res.Overall.EnterprisesWeighted.Covered != 2 {
		t.Errorf("what-if: %s", body)
	}
	for _, bad := range []string{`{"minutes": -1}`, `{"without": ["NOPE"]}`, `{"add":[{"lon":0,"lat":0,"type":"小型"}]}`, `{"speed": 3}`} {
		resp, body := ts.do(t, "POST", "/api/v1/analysis/coverage", bad, "Authorization", planner)
		problemOf(t, resp, body, 422)
	}

	// Cells as GeoJSON.
	q := url.Values{"add": {"121.49,31.15,小型"}, "minutes": {"5"}}
	resp, body = ts.do(t, "GET", "/api/v1/analysis/coverage/cells?"+q.Encode(), "", "Authorization", admin)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != analysisGeoJSON {
		t.Fatalf("cells: %d %s %.200s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var fc struct {
		Features []struct {
			Geometry struct {
				Type string `json:"type"`
			} `json:"geometry"`
			Properties struct {
				Covered  bool   `json:"covered"`
				District string `json:"district_code"`
			} `json:"properties"`
		} `json:"features"`
	}
	if err := json.Unmarshal(body, &fc); err != nil {
		t.Fatal(err)
	}
	covered := 0
	for _, f := range fc.Features {
		if f.Geometry.Type != "Polygon" || f.Properties.District != "310104" {
			t.Fatalf("feature %+v", f)
		}
		if f.Properties.Covered {
			covered++
		}
	}
	// The district is about 10.5 × 11.1 km (≈ 110 km², ≈ 1,300 cells); two 1.79 km discs
	// cover about 20 km² of it (≈ 240 cells).
	if len(fc.Features) < 1000 || covered < 150 || covered > 350 {
		t.Errorf("%d cells, %d covered", len(fc.Features), covered)
	}
	resp, body = ts.do(t, "GET", "/api/v1/analysis/coverage/cells?resolution=12", "", "Authorization", admin)
	problemOf(t, resp, body, 422)

	// Siting: one new station covers the far enterprise (weight 2).
	resp, body = ts.do(t, "POST", "/api/v1/analysis/siting", `{"k": 1, "time_limit_s": 0.2}`, "Authorization", planner)
	if resp.StatusCode != 200 {
		t.Fatalf("siting: %d %s", resp.StatusCode, body)
	}
	var sr coverage.SitingResult
	if err := json.Unmarshal(body, &sr); err != nil {
		t.Fatal(err)
	}
	if sr.Mode != "mclp" || len(sr.Sites) != 1 || sr.Sites[0].GainWeight != 2 || sr.After.Share != 1 || sr.Sites[0].District != "徐汇区" {
		t.Errorf("siting %s", body)
	}
	resp, body = ts.do(t, "POST", "/api/v1/analysis/siting", `{"target_share": 1}`, "Authorization", planner)
	if err := json.Unmarshal(body, &sr); resp.StatusCode != 200 || err != nil || sr.Mode != "lscp" || sr.K != 1 || !sr.Reachable {
		t.Errorf("lscp: %d %s", resp.StatusCode, body)
	}
	resp, body = ts.do(t, "POST", "/api/v1/analysis/siting", `{"k": 0}`, "Authorization", planner)
	problemOf(t, resp, body, 422)
}
