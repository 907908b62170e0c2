package ingest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"

	"safegrid/geo"
	"safegrid/grid"
	"safegrid/grid/ingest"
	"safegrid/grid/testdb"
)

func uscc(t *testing.T, body17 string) string {
	t.Helper()
	c, err := geo.USCCCheckChar(body17)
	if err != nil {
		t.Fatal(err)
	}
	return body17 + string(c)
}

var (
	peoplesSquare = orb.Point{121.4737, 31.2304} // 黄浦
	lujiazui      = orb.Point{121.5055, 31.2397} // 浦东新
	jinshanPetro  = orb.Point{121.3370, 30.7290} // 金山, the petrochemical works
	songjiang     = orb.Point{121.2274, 31.0322} // 松江
)

func enterprise(t *testing.T, n int, p orb.Point) *geojson.Feature {
	return testdb.Feat(p, map[string]any{
		"uscc": uscc(t, fmt.Sprintf("9131010%010d", n)), "name": fmt.Sprintf("上海测试%d有限公司", n),
		"industry": "工贸", "risk_level": "一般", "major_hazard": false, "employees": float64(10 + n),
		"address": "上海市",
	})
}

func TestMigrateTwice(t *testing.T) {
	st := testdb.New(t, nil)
	n, err := st.Migrate(context.Background())
	if err != nil || n != 0 {
		t.Fatalf("second migrate applied %d, err %v; want 0, nil", n, err)
	}
	for _, table := range []string{"areas", "enterprises", "pipelines", "gas_occupancy_sites", "fire_stations", "fishing_ports", "underground_spaces", "hazards", "hazard_history", "inspections", "users", "grid_units", "grid_cells", "audit_log"} {
		if testdb.Count(t, st, `SELECT count(*) FROM pg_tables WHERE tablename = $1`, table) != 1 {
			t.Errorf("table %s missing", table)
		}
	}
	// Geometry columns are typed, SRID 4326, with GiST indexes.
	if n := testdb.Count(t, st, `SELECT count(*) FROM geometry_columns WHERE f_geometry_column = 'geom' AND srid <> 4326`); n != 0 {
		t.Errorf("%d geom columns not in SRID 4326", n)
	}
	// risk_cells is read by (snapshot_id, h3), never by its hexagons (migration 00022).
	if n := testdb.Count(t, st, `SELECT count(*) FROM geometry_columns g WHERE f_geometry_column IN ('geom', 'geom_m')
		AND g.f_table_name <> 'risk_cells'
		AND NOT EXISTS (SELECT 1 FROM pg_indexes i WHERE i.tablename = g.f_table_name AND i.indexdef LIKE '%USING gist (' || g.f_geometry_column || ')%')`); n != 0 {
		t.Errorf("%d geometry columns without a GiST index", n)
	}
}

func TestH3ParentInSQL(t *testing.T) {
	st := testdb.New(t, nil)
	cell := geo.PointCell(peoplesSquare, 9)
	for r := 0; r <= 9; r++ {
		var got int64
		if err := testdb.DB(st).QueryRow(context.Background(), `SELECT h3_parent($1, $2)`, int64(cell), r).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if want := int64(cell.Parent(r)); got != want {
			t.Errorf("h3_parent(%s, %d) = %x, want %x", cell, r, got, want)
		}
	}
}

func TestImportEveryKind(t *testing.T) {
	st := testdb.New(t, testdb.Areas)
	ctx := context.Background()
	square := func(p orb.Point, d float64) orb.Polygon {
		x, y := p[0], p[1]
		return orb.Polygon{{{x, y}, {x + d, y}, {x + d, y + d}, {x, y + d}, {x, y}}}
	}
	pipe := orb.LineString{{121.40, 31.20}, {121.45, 31.21}, {121.50, 31.22}}
	files := map[string]*bytes.Reader{
		"enterprises": testdb.FC(t, enterprise(t, 1, peoplesSquare), enterprise(t, 2, lujiazui), enterprise(t, 3, jinshanPetro)),
		"pipelines":   testdb.FC(t, testdb.Feat(pipe, map[string]any{"code": "GAS-1", "medium": "gas", "class": "distribution", "pressure": "中压", "diameter_mm": 300.0, "operator": "上海燃气"})),
		"gas_occupancy_sites": testdb.FC(t,
			testdb.Feat(orb.Point{121.45, 31.21}, map[string]any{"code": "OCC-1", "pipeline_code": "GAS-1", "occupant": "违章建筑", "status": "待整治", "deadline": "2026-12-31"}),
			testdb.Feat(square(orb.Point{121.46, 31.212}, 0.0004), map[string]any{"code": "OCC-2", "occupant": "临时棚屋", "status": "整治中"})),
		"fire_stations":      testdb.FC(t, testdb.Feat(songjiang, map[string]any{"code": "FS-1", "name": "松江消防救援站", "type": "一级普通", "status": "existing", "vehicles": 6.0, "staff": 40.0})),
		"fishing_ports":      testdb.FC(t, testdb.Feat(orb.Point{121.784650, 31.360586}, map[string]any{"code": "FP-1", "name": "横沙渔港", "level": "一级", "vessels": 262.0})),
		"underground_spaces": testdb.FC(t, testdb.Feat(square(peoplesSquare, 0.0003), map[string]any{"code": "UG-1", "name": "人民广场地下车库", "use": "地下车库", "levels": 2.0, "floor_area_m2": 900.0, "depth_m": 8.5})),
		"hazards":            testdb.FC(t, testdb.Feat(lujiazui, map[string]any{"code": "HZ-1", "level": "重大", "category": "消防安全", "description": "疏散通道堵塞", "status": "registered", "feature_kind": "enterprises", "feature_code": uscc(t, "91310100000000002"), "deadline": "2026-12-01", "reported_at": "2026-11-01 09:30"})),
	}
	want := map[string]int{"enterprises": 3, "pipelines": 1, "gas_occupancy_sites": 2, "fire_stations": 1, "fishing_ports": 1, "underground_spaces": 1, "hazards": 1}
	for kind, r := range files {
		res, err := ingest.New(st).Import(ctx, r, ingest.ImportOptions{Kind: kind, Format: ingest.FormatGeoJSON})
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		if res.Inserted != want[kind] || res.Rejected != 0 {
			t.Errorf("%s: %+v, want %d inserted", kind, res, want[kind])
		}
		k, _ := grid.KindByName(kind)
		if n := testdb.Count(t, st, "SELECT count(*) FROM "+k.Table+" WHERE district_code IS NOT NULL AND h3 <> 0"); n != want[kind] {
			t.Errorf("%s: %d tagged rows, want %d", kind, n, want[kind])
		}
	}

	// Known features land in the right district, and the tags agree with the polygons.
	for _, tc := range []struct {
		uscc     string
		district string
	}{{uscc(t, "91310100000000001"), "310101"}, {uscc(t, "91310100000000002"), "310115"}, {uscc(t, "91310100000000003"), "310116"}} {
		var d, s, c string
		var cell int64
		err := testdb.DB(st).QueryRow(ctx, `SELECT district_code, street_code, community_code, h3 FROM enterprises WHERE uscc = $1`, tc.uscc).Scan(&d, &s, &c, &cell)
		if err != nil {
			t.Fatal(err)
		}
		if d != tc.district || !strings.HasPrefix(s, d) || !strings.HasPrefix(c, s) || len(c) != 12 {
			t.Errorf("%s tagged %s/%s/%s, want district %s with nested street and community", tc.uscc, d, s, c, tc.district)
		}
		if n := testdb.Count(t, st, `SELECT count(*) FROM enterprises e JOIN areas a ON a.code = e.community_code WHERE e.uscc = $1 AND ST_Covers(a.geom, e.geom)`, tc.uscc); n != 1 {
			t.Errorf("%s: its community polygon does not contain it", tc.uscc)
		}
	}
	var cell int64
	if err := testdb.DB(st).QueryRow(ctx, `SELECT h3 FROM enterprises WHERE uscc = $1`, uscc(t, "91310100000000001")).Scan(&cell); err != nil {
		t.Fatal(err)
	}
	if want := int64(geo.PointCell(peoplesSquare, 9)); cell != want {
		t.Errorf("People's Square cell %x, want %x", cell, want)
	}
	// A small underground space still gets its cell; the pipeline a gap-free chain.
	if n := testdb.Count(t, st, `SELECT cardinality(h3_cells) FROM underground_spaces WHERE code = 'UG-1'`); n < 1 {
		t.Errorf("underground space has %d cells", n)
	}
	if n := testdb.Count(t, st, `SELECT cardinality(h3_cells) FROM pipelines WHERE code = 'GAS-1'`); n != len(geo.Cells(pipe, 9)) {
		t.Errorf("pipeline has %d cells, want %d", n, len(geo.Cells(pipe, 9)))
	}
	// The hazard got its first history entry; 重大 is listed for supervision.
	if n := testdb.Count(t, st, `SELECT count(*) FROM hazard_history h JOIN hazards z USING (district_code) WHERE h.hazard_id = z.id AND z.code = 'HZ-1' AND h.to_status = 'registered' AND z.supervised`); n != 1 {
		t.Errorf("hazard history rows: %d, want 1", n)
	}
	if n := testdb.Count(t, st, `SELECT count(*) FROM audit_log WHERE action = 'import'`); n < len(files) {
		t.Errorf("audit log has %d imports, want %d", n, len(files))
	}
}

// Every bad-input case fails cleanly, names the row and field, and writes nothing.
func TestImportBadInputWritesNothing(t *testing.T) {
	st := testdb.New(t, testdb.Areas)
	ctx := context.Background()
	good := enterprise(t, 1, peoplesSquare)
	bad := func(mod func(f *geojson.Feature)) *geojson.Feature {
		f := enterprise(t, 2, lujiazui)
		mod(f)
		return f
	}
	for _, tc := range []struct {
		name  string
		kind  string
		data  string
		field string
		want  string
	}{
		{name: "malformed JSON", data: `{"type":"FeatureCollection","features":[{"type":"Feature",`, want: "row 1: malformed JSON"},
		{name: "wrong geometry type", data: mustJSON(t, good, bad(func(f *geojson.Feature) { f.Geometry = orb.LineString{{121.4, 31.2}, {121.5, 31.3}} })), field: "geometry", want: "LineString is not allowed"},
		{name: "self-intersecting polygon", kind: "underground_spaces", data: mustJSON(t, testdb.Feat(orb.Polygon{{{121.40, 31.20}, {121.41, 31.21}, {121.41, 31.20}, {121.40, 31.21}, {121.40, 31.20}}}, map[string]any{"code": "U", "use": "民防工程"})), field: "geometry", want: "crosses itself"},
		{name: "swapped lat/lon", data: mustJSON(t, good, bad(func(f *geojson.Feature) { f.Geometry = orb.Point{31.2397, 121.5055} })), field: "geometry", want: "swap"},
		{name: "point in the sea", data: mustJSON(t, good, bad(func(f *geojson.Feature) { f.Geometry = orb.Point{122.45, 30.95} })), field: "geometry", want: "outside"},
		{name: "bad USCC", data: mustJSON(t, good, bad(func(f *geojson.Feature) { f.Properties["uscc"] = "91310000MA1FL8XQ3Z" })), field: "uscc"},
		{name: "unknown enum", data: mustJSON(t, good, bad(func(f *geojson.Feature) { f.Properties["risk_level"] = "极高" })), field: "risk_level", want: "is not one of"},
		{name: "wrong type", data: mustJSON(t, good, bad(func(f *geojson.Feature) { f.Properties["employees"] = "lots" })), field: "employees", want: "not a number"},
		{name: "unknown field", data: mustJSON(t, good, bad(func(f *geojson.Feature) { f.Properties["owner"] = "x" })), field: "owner", want: "unknown field"},
		{name: "missing required", data: mustJSON(t, good, bad(func(f *geojson.Feature) { delete(f.Properties, "industry") })), field: "industry", want: "required"},
		{name: "duplicate key", data: mustJSON(t, good, enterprise(t, 1, lujiazui)), field: "uscc", want: "appears again (first at row 1)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kind := tc.kind
			if kind == "" {
				kind = "enterprises"
			}
			audits := testdb.Count(t, st, `SELECT count(*) FROM audit_log`)
			_, err := ingest.New(st).Import(ctx, strings.NewReader(tc.data), ingest.ImportOptions{Kind: kind, Format: ingest.FormatGeoJSON})
			if err == nil {
				t.Fatal("import succeeded")
			}
			var ie *ingest.ImportError
			if tc.field != "" {
				if !errors.As(err, &ie) {
					t.Fatalf("err = %v, want an ImportError", err)
				}
				found := false
				for _, r := range ie.Rejections {
					found = found || (r.Field == tc.field && strings.Contains(r.Reason, tc.want) && r.Row >= 1)
				}
				if !found {
					t.Fatalf("rejections %v: want field %q with %q", ie.Rejections, tc.field, tc.want)
				}
			} else if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			k, _ := grid.KindByName(kind)
			if n := testdb.Count(t, st, "SELECT count(*) FROM "+k.Table); n != 0 {
				t.Errorf("%d rows written", n)
			}
			if n := testdb.Count(t, st, `SELECT count(*) FROM audit_log`); n != audits {
				t.Errorf("audit log grew")
			}
		})
	}
}

func mustJSON(t *testing.T, feats ...*geojson.Feature) string {
	r := testdb.FC(t, feats...)
	b := new(strings.Builder)
	_, _ = r.WriteTo(b)
	return b.String()
}

func TestImportSkipInvalidAndReimport(t *testing.T) {
	st := testdb.New(t, testdb.Areas)
	ctx := context.Background()
	csv := "uscc,name,industry,risk_level,employees,lon,lat\n" +
		uscc(t, "91310100000000001") + ",甲,工贸,一般,5,121.4737,31.2304\n" +
		uscc(t, "91310100000000002") + ",乙,工贸,一般,5,31.2397,121.5055\n" + // swapped
		"91310100000000003X,丙,工贸,一般,5,121.3370,30.7290\n" + // bad USCC
		uscc(t, "91310100000000004") + ",丁,化工,一般,5,121.2274,31.0322\n" // unknown enum
	res, err := ingest.New(st).Import(ctx, strings.NewReader(csv), ingest.ImportOptions{Kind: "enterprises", Format: ingest.FormatCSV, SkipInvalid: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Inserted != 1 || res.Rejected != 3 || res.Read != 4 {
		t.Fatalf("result %+v: want 1 inserted, 3 rejected of 4", res)
	}
	got := map[int]string{}
	for _, r := range res.Rejections {
		got[r.Row] = r.Field
	}
	if got[2] != "geometry" || got[3] != "uscc" || got[4] != "industry" {
		t.Errorf("rejections %v: want row 2 geometry, row 3 uscc, row 4 industry", res.Rejections)
	}

	// The same good row again, with a new name and a new place in another district:
	// updated in place (moved), not duplicated.
	again := "uscc,name,industry,risk_level,employees,lon,lat\n" +
		uscc(t, "91310100000000001") + ",甲（新）,工贸,较大,7,121.5055,31.2397\n"
	res, err = ingest.New(st).Import(ctx, strings.NewReader(again), ingest.ImportOptions{Kind: "enterprises", Format: ingest.FormatCSV})
	if err != nil {
		t.Fatal(err)
	}
	if n := testdb.Count(t, st, `SELECT count(*) FROM enterprises`); n != 1 {
		t.Fatalf("%d enterprises after re-import, want 1", n)
	}
	var name, risk, district string
	if err := testdb.DB(st).QueryRow(ctx, `SELECT name, risk_level, district_code FROM enterprises`).Scan(&name, &risk, &district); err != nil {
		t.Fatal(err)
	}
	if name != "甲（新）" || risk != "较大" || district != "310115" {
		t.Errorf("after re-import: %s %s %s", name, risk, district)
	}
	// Same district: a plain update.
	res, err = ingest.New(st).Import(ctx, strings.NewReader(again), ingest.ImportOptions{Kind: "enterprises", Format: ingest.FormatCSV})
	if err != nil || res.Updated != 1 || res.Inserted != 0 {
		t.Fatalf("second re-import: %+v, %v; want 1 updated", res, err)
	}
}

// Real third-party input: petrol stations as users copy them off Baidu Maps, in BD-09.
func TestImportBaiduPetrolStations(t *testing.T) {
	raw, err := os.ReadFile("../../../shared/data/tests-only/baidu-petrol-stations-bd09.geojson")
	if err != nil {
		t.Skip("shared test data not found: ", err)
	}
	src, err := geojson.UnmarshalFeatureCollection(raw)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range src.Features {
		f.Properties = map[string]any{
			"uscc": uscc(t, fmt.Sprintf("9131011%010d", i)), "name": f.Properties["name"],
			"address": f.Properties["address"], "industry": "危化品经营", "risk_level": "较大",
		}
	}
	st := testdb.New(t, testdb.Areas)
	res, err := ingest.New(st).Import(context.Background(), testdb.FC(t, src.Features...), ingest.ImportOptions{Kind: "enterprises", Format: ingest.FormatGeoJSON, CRS: geo.BD09, SkipInvalid: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Inserted+res.Rejected != len(src.Features) || res.Inserted < 400 {
		t.Fatalf("result %+v of %d stations", res, len(src.Features))
	}
	// 中国石化申联瑞南加油站 is mapped in OpenStreetMap at (121.464877, 31.1971627).
	var metres float64
	err = testdb.DB(st).QueryRow(context.Background(), `SELECT ST_Distance(geom::geography, ST_Point(121.464877, 31.1971627, 4326)::geography)
		FROM enterprises WHERE name = '中国石化(申联瑞南加油站)'`).Scan(&metres)
	if err != nil {
		t.Fatal(err)
	}
	if metres > 40 {
		t.Errorf("converted station is %.0f m from its OSM position; BD-09 conversion off", metres)
	}
	// The district the address names is the district it is tagged with, for nearly all.
	agree := testdb.Count(t, st, `SELECT count(*) FROM enterprises e JOIN areas a ON a.code = e.district_code WHERE e.address LIKE '%' || a.name || '%'`)
	if total := testdb.Count(t, st, `SELECT count(*) FROM enterprises`); agree < total*9/10 {
		t.Errorf("only %d of %d stations tagged with the district their address names", agree, total)
	}
}
