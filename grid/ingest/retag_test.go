package ingest_test

import (
	"context"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"

	"safegrid/grid/ingest"
	"safegrid/grid/testdb"
)

// twoDistricts is an areas file: district 310104 west of border, 310105 east of it up to
// 121.60; 310104 has streets 001 (west of split) and 002, 310105 one street; each street
// is one community.
func twoDistricts(t *testing.T, border, split float64) []*geojson.Feature {
	t.Helper()
	box := func(code, name string, x0, x1 float64) *geojson.Feature {
		b := orb.Polygon{{{x0, 31.10}, {x1, 31.10}, {x1, 31.20}, {x0, 31.20}, {x0, 31.10}}}
		return testdb.Feat(orb.MultiPolygon{b}, map[string]any{"code": code, "name": name})
	}
	return []*geojson.Feature{
		box("310104", "徐汇区", 121.40, border), box("310105", "长宁区", border, 121.60),
		box("310104001", "西街道", 121.40, split), box("310104002", "东街道", split, border),
		box("310105001", "长宁街道", border, 121.60),
		box("310104001001", "西居委", 121.40, split), box("310104002001", "东居委", split, border),
		box("310105001001", "长宁居委", border, 121.60),
	}
}

func TestAreaReimportRetagsFeatures(t *testing.T) {
	st := testdb.New(t, nil)
	ctx := context.Background()
	load := func(kind string, feats ...*geojson.Feature) *ingest.ImportResult {
		t.Helper()
		res, err := ingest.New(st).Import(ctx, testdb.FC(t, feats...), ingest.ImportOptions{Kind: kind, Format: ingest.FormatGeoJSON})
		if err != nil {
			t.Fatalf("import %s: %v", kind, err)
		}
		return res
	}
	load("areas", twoDistricts(t, 121.50, 121.45)...)

	e1, e2, e3 := enterprise(t, 1, orb.Point{121.44, 31.15}), enterprise(t, 2, orb.Point{121.49, 31.15}), enterprise(t, 3, orb.Point{121.55, 31.15})
	load("enterprises", e1, e2, e3)
	load("pipelines", testdb.Feat(orb.LineString{{121.41, 31.12}, {121.47, 31.12}},
		map[string]any{"code": "P1", "medium": "gas", "class": "distribution", "pressure": "中压"}))
	load("underground_spaces", testdb.Feat(orb.Polygon{{{121.435, 31.13}, {121.445, 31.13}, {121.445, 31.14}, {121.435, 31.14}, {121.435, 31.13}}},
		map[string]any{"code": "UG1", "use": "地下车库"}))
	load("fire_stations", testdb.Feat(orb.Point{121.49, 31.16}, map[string]any{"code": "FS1", "name": "测试站", "type": "小型", "status": "existing"}))
	load("hazards", testdb.Feat(orb.Point{121.49, 31.14}, map[string]any{"code": "H2", "level": "一般", "category": "消防", "description": "通道堵塞"}))
	if _, err := testdb.DB(st).Exec(ctx, `INSERT INTO inspections (district_code, enterprise_id, result, h3, geom)
SELECT district_code, id, 'passed', h3, geom FROM enterprises WHERE uscc = $1`, e2.Properties["uscc"]); err != nil {
		t.Fatal(err)
	}
	tags := func(table, key, code string) string {
		t.Helper()
		var d, s, c string
		if err := testdb.DB(st).QueryRow(ctx, `SELECT district_code, coalesce(street_code, '-'), coalesce(community_code, '-') FROM `+table+` WHERE `+key+` = $1`, code).Scan(&d, &s, &c); err != nil {
			t.Fatalf("%s %s: %v", table, code, err)
		}
		return d + "/" + s + "/" + c
	}
	before := map[string]string{
		"e1": tags("enterprises", "uscc", e1.Properties["uscc"].(string)),
		"e2": tags("enterprises", "uscc", e2.Properties["uscc"].(string)),
		"P1": tags("pipelines", "code", "P1"), "UG1": tags("underground_spaces", "code", "UG1"),
		"FS1": tags("fire_stations", "code", "FS1"), "H2": tags("hazards", "code", "H2"),
	}
	if before["e1"] != "310104/310104001/310104001001" || before["e2"] != "310104/310104002/310104002001" || before["H2"] != before["e2"] {
		t.Fatalf("tags before: %v", before)
	}

	// Unchanged areas re-tag nothing.
	if res := load("areas", twoDistricts(t, 121.50, 121.45)...); len(res.Retagged) != 0 {
		t.Errorf("re-importing the same areas re-tagged %v", res.Retagged)
	}

	// The street split moves west past e1, the pipeline's midpoint and UG1; the district
	// border moves west past e2, FS1 and H2.
	res := load("areas", twoDistricts(t, 121.48, 121.43)...)
	east, other := "310104/310104002/310104002001", "310105/310105001/310105001001"
	for _, tc := range []struct{ table, key, code, want string }{
		{"enterprises", "uscc", e1.Properties["uscc"].(string), east},
		{"enterprises", "uscc", e2.Properties["uscc"].(string), other},
		{"enterprises", "uscc", e3.Properties["uscc"].(string), other},
		{"pipelines", "code", "P1", east},
		{"underground_spaces", "code", "UG1", east},
		{"fire_stations", "code", "FS1", other},
		{"hazards", "code", "H2", other},
	} {
		if got := tags(tc.table, tc.key, tc.code); got != tc.want {
			t.Errorf("%s %s: tags %s, want %s", tc.table, tc.code, got, tc.want)
		}
	}
	want := map[string]int{"enterprises": 2, "pipelines": 1, "underground_spaces": 1, "fire_stations": 1, "hazards": 1}
	for table, n := range want {
		if res.Retagged[table] != n {
			t.Errorf("retagged %v, want %v", res.Retagged, want)
			break
		}
	}
	// e2 moved district with its inspection; H2 with its history; no copy stays behind.
	if n := testdb.Count(t, st, `SELECT count(*) FROM enterprises WHERE uscc = $1`, e2.Properties["uscc"]); n != 1 {
		t.Errorf("%d copies of e2", n)
	}
	if n := testdb.Count(t, st, `SELECT count(*) FROM inspections i JOIN enterprises e ON e.district_code = i.district_code AND e.id = i.enterprise_id WHERE e.uscc = $1 AND i.district_code = '310105'`, e2.Properties["uscc"]); n != 1 {
		t.Errorf("e2's inspection did not follow it: %d", n)
	}
	if n := testdb.Count(t, st, `SELECT count(*) FROM hazard_history h JOIN hazards z ON z.district_code = h.district_code AND z.id = h.hazard_id WHERE z.code = 'H2'`); n != 1 {
		t.Errorf("H2's history did not follow it: %d rows", n)
	}
	if n := testdb.Count(t, st, `SELECT count(*) FROM audit_log WHERE action = 'import' AND target = 'areas' AND details->'retagged'->>'enterprises' = '2'`); n != 1 {
		t.Errorf("the audit record lacks the re-tag counts")
	}
}
