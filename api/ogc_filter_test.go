package api

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"safegrid/geo"
	"safegrid/grid"
	"safegrid/grid/testdb"
)

// filterFixture is the grid fixture with 300 more enterprises spread over the district,
// every tenth in the officer's cell c1, with risk levels, staff and major-hazard flags
// that vary, so that filters select real subsets.
func filterFixture(t *testing.T) *gridFixture {
	t.Helper()
	f := newGridFixture(t)
	var xs, ys []float64
	var cells []int64
	var usccs []string
	for i := 0; i < 300; i++ {
		p := orb.Point{121.401 + float64(i%20)*0.0074, 31.181 + float64(i/20)*0.0065}
		if i%10 == 0 {
			p = centre(f.c1, float64(i%7)*0.00003, float64(i%5)*0.00003)
		}
		xs, ys = append(xs, p[0]), append(ys, p[1])
		cells = append(cells, int64(geo.PointCell(p, geo.SupervisionRes)))
		usccs = append(usccs, testUSCC(t, 1000+i))
	}
	_, err := testdb.DB(f.ts.st).Exec(context.Background(), `
INSERT INTO enterprises (district_code, uscc, name, industry, risk_level, major_hazard, employees, street_code, community_code, h3, geom)
SELECT t.district_code, v.uscc, '过滤企业' || v.i, (ARRAY['危化品生产', '工贸', '建筑施工'])[1 + v.i % 3],
       (ARRAY['重大', '较大', '一般', '低'])[1 + v.i % 4], v.i % 7 = 0, CASE WHEN v.i % 11 = 0 THEN NULL ELSE (v.i * 37) % 500 END,
       t.street_code, t.community_code, v.h3, v.p
FROM (SELECT i - 1 AS i, uscc, h3, ST_SetSRID(ST_MakePoint(x, y), 4326) AS p
      FROM unnest($1::float8[], $2::float8[], $3::bigint[], $4::text[]) WITH ORDINALITY AS u(x, y, h3, uscc, i)) v,
     LATERAL area_tag(v.p) t`, xs, ys, cells, usccs)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// allItems follows the next links from path and returns every feature id in order, and
// numberMatched of the first page.
func (f *gridFixture) allItems(t *testing.T, auth, path string) ([]int64, int) {
	t.Helper()
	var ids []int64
	page := f.items(t, auth, path)
	matched := page.NumberMatched
	for {
		for _, ft := range page.Features {
			ids = append(ids, ft.ID)
		}
		next := page.link("next")
		if next == "" {
			break
		}
		if len(ids) > 10000 {
			t.Fatal("paging does not end")
		}
		page = f.items(t, auth, next)
	}
	return ids, matched
}

// sqlIDs runs a selection of enterprise ids in SQL (the test's own, not the service's).
func (f *gridFixture) sqlIDs(t *testing.T, sql string, args ...any) []int64 {
	t.Helper()
	rows, err := testdb.DB(f.ts.st).Query(context.Background(), sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out = append(out, id)
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	return out
}

func fq(filter string, extra ...string) string {
	v := url.Values{"filter": {filter}}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return v.Encode()
}

// TestOGCFilterMatchesSQL sends CQL2 filters (text and JSON) and compares what comes back,
// over every page, with the same selection written in SQL; the officer's and the street
// office's filters stay inside their scope, numberMatched included.
func TestOGCFilterMatchesSQL(t *testing.T) {
	f := filterFixture(t)
	const west = "POLYGON((121.40 31.18, 121.45 31.18, 121.45 31.22, 121.40 31.22, 121.40 31.18))"
	const westLatLon = "POLYGON((31.18 121.40, 31.18 121.45, 31.22 121.45, 31.22 121.40, 31.18 121.40))"
	cases := []struct {
		name, query, where string
	}{
		{"equal", fq("risk_level='重大'"), "risk_level = '重大'"},
		{"alias", fq("risk_level = 'major'"), "risk_level = '重大'"},
		{"and", fq("risk_level = '重大' AND employees > 100"), "risk_level = '重大' AND employees > 100"},
		{"literal first", fq("100 < employees"), "employees > 100"},
		{"or in", fq("risk_level IN ('重大', '较大') OR major_hazard = TRUE"), "risk_level IN ('重大', '较大') OR major_hazard"},
		{"not between", fq("NOT (employees BETWEEN 100 AND 300)"), "NOT (employees BETWEEN 100 AND 300)"},
		{"like", fq("name LIKE '过滤企业1%'"), "name LIKE '过滤企业1%'"},
		{"is null", fq("employees IS NULL"), "employees IS NULL"},
		{"is not null", fq("employees IS NOT NULL AND address IS NULL"), "employees IS NOT NULL AND address IS NULL"},
		{"intersects", fq("S_INTERSECTS(geom, " + west + ")"), "ST_Intersects(geom, ST_GeomFromText('" + west + "', 4326))"},
		{"within bbox", fq("S_WITHIN(geom, BBOX(121.40, 31.18, 121.475, 31.28)) AND risk_level <> '低'"),
			"ST_Within(geom, ST_MakeEnvelope(121.40, 31.18, 121.475, 31.28, 4326)) AND risk_level <> '低'"},
		{"filter-crs lat first", fq("S_INTERSECTS(geom, "+westLatLon+")", "filter-crs", "http://www.opengis.net/def/crs/EPSG/0/4490"),
			"ST_Intersects(geom, ST_GeomFromText('" + west + "', 4326))"},
		{"timestamp", fq("updated_at > TIMESTAMP('2000-01-01T00:00:00Z') AND risk_level = '低'"), "risk_level = '低'"},
		{"date against timestamp", fq("updated_at < DATE('2000-01-01')"), "false"},
		{"year zero", fq("updated_at > TIMESTAMP('0000-01-01T00:00:00Z') AND updated_at > '0000-01-01' AND risk_level = '低'"), "risk_level = '低'"},
		{"beyond bigint", fq("employees < 99999999999999999999 AND employees > -1e308"), "employees IS NOT NULL"},
		{"escaped backslash", fq(`name LIKE '%\\' OR name LIKE '过滤企业1\%'`), "false"},
		{"street", fq("street_code = '310101001' AND industry = '工贸'"), "street_code = '310101001' AND industry = '工贸'"},
		{"property filter and cql", fq("employees >= 250", "risk_level", "一般"), "employees >= 250 AND risk_level = '一般'"},
		{"bbox and cql", fq("major_hazard = FALSE", "bbox", "121.40,31.18,121.475,31.28"),
			"NOT major_hazard AND geom && ST_MakeEnvelope(121.40, 31.18, 121.475, 31.28, 4326)"},
		{"legacy cql-text (GDAL 3.6)", fq("(risk_level = '重大') AND (employees > 100)", "filter-lang", "cql-text"), "risk_level = '重大' AND employees > 100"},
		{"json", fq(`{"op":"and","args":[{"op":"=","args":[{"property":"risk_level"},"重大"]},{"op":">","args":[{"property":"employees"},100]}]}`, "filter-lang", "cql2-json"),
			"risk_level = '重大' AND employees > 100"},
		{"json spatial", fq(`{"op":"s_intersects","args":[{"property":"geom"},{"type":"Polygon","coordinates":[[[121.40,31.18],[121.45,31.18],[121.45,31.22],[121.40,31.22],[121.40,31.18]]]}]}`, "filter-lang", "cql2-json"),
			"ST_Intersects(geom, ST_GeomFromText('" + west + "', 4326))"},
		{"json in like", fq(`{"op":"or","args":[{"op":"in","args":[{"property":"risk_level"},["较大","低"]]},{"op":"like","args":[{"property":"name"},"测试%"]}]}`, "filter-lang", "cql2-json"),
			"risk_level IN ('较大', '低') OR name LIKE '测试%'"},
	}
	scopes := []struct {
		name, auth, where string
	}{
		{"admin", f.admin, "true"},
		{"officer", f.off1, "h3 IN (SELECT c FROM officer_cells((SELECT id FROM users WHERE username = 'off1')) AS c)"},
		{"street A", f.sta, "street_code = '310101001'"},
	}
	for _, tc := range cases {
		for _, sc := range scopes {
			want := f.sqlIDs(t, "SELECT id FROM enterprises WHERE ("+sc.where+") AND ("+tc.where+") ORDER BY id")
			got, matched := f.allItems(t, sc.auth, "/ogc/collections/enterprises/items?limit=40&"+tc.query)
			if !slices.Equal(got, want) || matched != len(want) {
				t.Errorf("%s as %s: %d features (numberMatched %d), SQL selects %d\n got %v\nwant %v", tc.name, sc.name, len(got), matched, len(want), got, want)
			}
			if sc.name == "admin" && (len(want) == 0) != (tc.where == "false") {
				t.Errorf("%s: the SQL selects %d rows; the case tests nothing", tc.name, len(want))
			}
		}
	}
	// Hazards: their statuses and dates.
	want := f.sqlIDs(t, "SELECT id FROM hazards WHERE status IN ('reported', 'assigned') AND reported_at < now() ORDER BY id")
	got, _ := f.allItems(t, f.admin, "/ogc/collections/hazards/items?"+fq("status IN ('reported', '派遣') AND reported_at < TIMESTAMP('2999-01-01T00:00:00Z')"))
	if !slices.Equal(got, want) || len(want) == 0 {
		t.Errorf("hazards by status: %v, SQL %v", got, want)
	}
}

// TestOGCFilterErrors: a filter that cannot be used is a 400 naming the position or the
// property, never a 500 and never everything.
func TestOGCFilterErrors(t *testing.T) {
	f := filterFixture(t)
	for _, tc := range []struct{ query, want string }{
		{fq("risk_level = 'purple'"), "重大, 较大, 一般, 低"},
		{fq("colour = 'red'"), `"colour" is not a queryable`},
		{fq("risk_level ="), "position 12"},
		{fq("risk_level = '重大' AND"), "position"},
		{fq("risk_level > '一般'"), "enumeration"},
		{fq("employees > 'many'"), "employees is a number"},
		{fq("name > 3"), "name is a text"},
		{fq("major_hazard = 1"), "TRUE or FALSE"},
		{fq("updated_at > 5"), "timestamp"},
		{fq("updated_at > TIMESTAMP('2026-13-01T00:00:00Z')"), "position"},
		{fq("employees LIKE '1%'"), "LIKE needs a text property"},
		{fq("S_INTERSECTS(geom, POLYGON((121.40 31.18, 121.45 31.22, 121.45 31.18, 121.40 31.22, 121.40 31.18)))"), "not valid"},
		{fq("S_INTERSECTS(geom, POINT(500 31))"), "outside"},
		{fq("S_INTERSECTS(geom, POLYGON((121.40 31.18, 121.45 31.18, 121.45 31.22)))"), "filter:"},
		{fq("S_INTERSECTS(geom, LINESTRING(121.40 31.18))"), "filter:"},
		{fq("S_WITHIN(geom, POLYGON EMPTY)"), "empty"},
		{fq("S_CONTAINS(geom, GEOMETRYCOLLECTION(POINT(121.4 31.2), POLYGON((121.40 31.18, 121.45 31.22, 121.45 31.18, 121.40 31.22, 121.40 31.18))))"), "not valid"},
		{fq("S_INTERSECTS(name, POINT(121.4 31.2))"), "needs the geometry"},
		{fq("S_INTERSECTS(POINT(121.4 31.2), POINT(121.4 31.2))"), "one geometry literal"},
		{fq("S_INTERSECTS(geom, POINT(1e20 1e20))", "filter-crs", "http://www.opengis.net/def/crs/EPSG/0/4549"), "filter:"},
		{fq("name LIKE '%\\'"), "escape character"},
		{fq("name NOT LIKE '%\\\\\\'"), "escape character"},
		{fq("CASEI(name) = 'x'"), "not supported"},
		{fq("risk_level = '重大'", "filter-lang", "sql"), "filter-lang"},
		{fq("risk_level = '重大'", "filter-crs", "EPSG:9999"), "filter-crs"},
		{fq(`{"op":"=","args":[{"property":"nope"},1]}`, "filter-lang", "cql2-json"), `"nope"`},
		{fq(`{"op":"=","args":[`, "filter-lang", "cql2-json"), "filter:"},
		{fq("name = 'a\x00b'"), "filter"},
		{fq("name = '" + strings.Repeat("x", maxFilterBytes) + "'"), "longer than"},
		{"filter-lang=cql2-text", "filter: missing"},
		{"sortby=colour", "sortby"},
		{"sortby=geom", "sortby"},
		{"sortby=name,-name", "twice"},
		{"properties=name,colour", "properties"},
		{"crs=EPSG:9999", "crs"},
		{"bbox-crs=http://www.opengis.net/def/crs/EPSG/0/4326&bbox=31,500,32,501", "bbox"},
		{"filter=a%3D1&filter=b%3D2", "more than once"},
		{"deadline=2026-13-45", "deadline"},
	} {
		path := "/ogc/collections/enterprises/items?" + tc.query
		if strings.HasPrefix(tc.query, "deadline") {
			path = "/ogc/collections/hazards/items?" + tc.query
		}
		resp, body := f.get(t, f.admin, path, nil)
		if resp.StatusCode != 400 {
			t.Errorf("%.120s: %d %.300s", tc.query, resp.StatusCode, body)
			continue
		}
		p := problemOf(t, resp, body, 400)
		if !strings.Contains(p.Detail, tc.want) {
			t.Errorf("%.120s: detail %q lacks %q", tc.query, p.Detail, tc.want)
		}
	}
}

// TestOGCSortAndProperties: sortby orders every page the way SQL does (ties by id), the
// next links keep the order, and properties= writes only what was asked for.
func TestOGCSortAndProperties(t *testing.T) {
	f := filterFixture(t)
	for _, tc := range []struct{ sortby, order string }{
		{"-employees,name", "employees DESC NULLS LAST, name, id"},
		{"+risk_level,-id", "array_position(ARRAY['重大', '较大', '一般', '低'], risk_level), id DESC"},
		{"street_code,-updated_at", "street_code, updated_at DESC, id"},
	} {
		want := f.sqlIDs(t, "SELECT id FROM enterprises WHERE risk_level <> '低' ORDER BY "+tc.order)
		got, _ := f.allItems(t, f.admin, "/ogc/collections/enterprises/items?limit=17&"+fq("risk_level <> '低'", "sortby", tc.sortby))
		if !slices.Equal(got, want) {
			t.Errorf("sortby=%s: %v\nSQL: %v", tc.sortby, got, want)
		}
	}
	page := f.items(t, f.admin, "/ogc/collections/enterprises/items?limit=5&properties=name,risk_level,cell")
	for _, ft := range page.Features {
		var keys []string
		for k := range ft.Properties {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, []string{"cell", "name", "risk_level"}) || ft.ID == 0 || ft.Geometry.Type != "Point" {
			t.Errorf("properties=name,risk_level,cell: %v", ft)
		}
	}
	var one map[string]any
	resp, body := f.get(t, f.admin, fmt.Sprintf("/ogc/collections/enterprises/items/%d?properties=uscc", page.Features[0].ID), &one)
	if resp.StatusCode != 200 || len(one["properties"].(map[string]any)) != 1 {
		t.Errorf("one feature with properties=uscc: %d %s", resp.StatusCode, body)
	}
}

// TestOGCCRS: crs= writes the coordinates PostGIS computes for that CRS, in its axis order
// (EPSG:4326/4490 latitude first, the Gauss-Kruger zones northing first, CRS84 and Web
// Mercator x first) and says so in Content-Crs; bbox-crs reads a bbox in the same way.
func TestOGCCRS(t *testing.T) {
	f := filterFixture(t)
	var id int64
	var lon, lat float64
	if err := testdb.DB(f.ts.st).QueryRow(context.Background(), `SELECT id, ST_X(geom), ST_Y(geom) FROM enterprises WHERE uscc = $1`, f.uscc["E1"]).Scan(&id, &lon, &lat); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		crs  string
		srid int
		flip bool
		tol  float64
	}{
		{"http://www.opengis.net/def/crs/OGC/1.3/CRS84", 4326, false, 1e-7},
		{"http://www.opengis.net/def/crs/EPSG/0/4326", 4326, true, 1e-7},
		{"http://www.opengis.net/def/crs/EPSG/0/4490", 4490, true, 1e-7},
		{"http://www.opengis.net/def/crs/EPSG/0/3857", 3857, false, 1e-3},
		{"http://www.opengis.net/def/crs/EPSG/0/4549", 4549, true, 1e-3},
		{"http://www.opengis.net/def/crs/EPSG/0/4550", 4550, true, 1e-3},
	} {
		var x, y float64
		if err := testdb.DB(f.ts.st).QueryRow(context.Background(), `SELECT ST_X(g), ST_Y(g) FROM (SELECT ST_Transform(geom, $2::int) AS g FROM enterprises WHERE id = $1) a`, id, tc.srid).Scan(&x, &y); err != nil {
			t.Fatal(err)
		}
		if tc.flip {
			x, y = y, x
		}
		for _, path := range []string{
			fmt.Sprintf("/ogc/collections/enterprises/items/%d?crs=%s", id, url.QueryEscape(tc.crs)),
			"/ogc/collections/enterprises/items?" + fq(fmt.Sprintf("uscc = '%s'", f.uscc["E1"]), "crs", tc.crs),
		} {
			resp, body := f.get(t, f.admin, path, nil)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Crs") != "<"+tc.crs+">" {
				t.Fatalf("%s: %d Content-Crs %q %s", path, resp.StatusCode, resp.Header.Get("Content-Crs"), body)
			}
			var ft struct {
				Geometry struct{ Coordinates [2]float64 }
				Features []struct {
					Geometry struct{ Coordinates [2]float64 }
				}
			}
			if err := json.Unmarshal(body, &ft); err != nil {
				t.Fatal(err)
			}
			c := ft.Geometry.Coordinates
			if len(ft.Features) == 1 {
				c = ft.Features[0].Geometry.Coordinates
			}
			if math.Abs(c[0]-x) > tc.tol || math.Abs(c[1]-y) > tc.tol {
				t.Errorf("%s: %v, PostGIS says %v, %v", path, c, x, y)
			}
		}
	}
	// A bbox in EPSG:4326 (lat first) selects what the same bbox in CRS84 does.
	crs84IDs, _ := f.allItems(t, f.admin, "/ogc/collections/enterprises/items?bbox=121.40,31.18,121.45,31.22")
	latFirst, _ := f.allItems(t, f.admin, "/ogc/collections/enterprises/items?bbox=31.18,121.40,31.22,121.45&bbox-crs="+url.QueryEscape("http://www.opengis.net/def/crs/EPSG/0/4326"))
	if !slices.Equal(crs84IDs, latFirst) || len(crs84IDs) == 0 {
		t.Errorf("bbox in EPSG:4326 %v, in CRS84 %v", latFirst, crs84IDs)
	}
	var coll ogcCollection
	f.get(t, f.admin, "/ogc/collections/enterprises", &coll)
	if coll.StorageCRS != crs84 || len(coll.CRS) != 6 || !slices.Contains(coll.CRS, "http://www.opengis.net/def/crs/EPSG/0/4490") {
		t.Errorf("collection crs %v storageCrs %q", coll.CRS, coll.StorageCRS)
	}
}

// TestOGCQueryablesAndConformance: queryables are a JSON Schema with types and the
// enumerations in Chinese; the conformance classes name Parts 2 and 3 and CQL2; /ogc/api
// lists each collection's queryables as parameters and the filter languages, as GDAL reads
// them.
func TestOGCQueryablesAndConformance(t *testing.T) {
	f := newGridFixture(t)
	resp, body := f.get(t, f.off1, "/ogc/collections/enterprises/queryables", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/schema+json" {
		t.Fatalf("queryables: %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var qs struct {
		Schema     string                    `json:"$schema"`
		Type       string                    `json:"type"`
		Properties map[string]map[string]any `json:"properties"`
	}
	if err := json.Unmarshal(body, &qs); err != nil {
		t.Fatal(err)
	}
	if qs.Type != "object" || !strings.Contains(qs.Schema, "2020-12") || qs.Properties["geom"]["format"] != "geometry-point" ||
		qs.Properties["employees"]["type"] != "integer" || qs.Properties["updated_at"]["format"] != "date-time" ||
		fmt.Sprint(qs.Properties["risk_level"]["enum"]) != fmt.Sprint(grid.RiskLevels()) {
		t.Errorf("enterprise queryables: %s", body)
	}
	f.get(t, f.admin, "/ogc/collections/hazards/queryables", &qs)
	if fmt.Sprint(qs.Properties["status"]["enum"]) != fmt.Sprint(grid.HazardStatuses()) || qs.Properties["deadline"]["format"] != "date" {
		t.Errorf("hazard queryables: %v", qs.Properties)
	}
	f.get(t, f.admin, "/ogc/collections/pipelines/queryables", &qs)
	if qs.Properties["geom"]["format"] != "geometry-linestring-or-multilinestring" {
		t.Errorf("pipeline geometry: %v", qs.Properties["geom"])
	}
	resp, body = f.get(t, f.admin, "/ogc/collections/nope/queryables", nil)
	problemOf(t, resp, body, 404)
	resp, body = f.get(t, "", "/ogc/collections/enterprises/queryables", nil)
	problemOf(t, resp, body, 401)

	var conf ogcConformance
	f.get(t, f.admin, "/ogc/conformance", &conf)
	for _, c := range []string{"ogcapi-features-2/1.0/conf/crs", "ogcapi-features-3/1.0/conf/filter", "ogcapi-features-3/1.0/conf/queryables", "cql2/1.0/conf/cql2-text", "cql2/1.0/conf/cql2-json", "cql2/1.0/conf/spatial-functions"} {
		if !slices.ContainsFunc(conf.ConformsTo, func(s string) bool { return strings.HasSuffix(s, c) }) {
			t.Errorf("conformance lacks %s", c)
		}
	}
	for _, c := range conf.ConformsTo {
		if strings.Contains(c, "temporal") || strings.Contains(c, "array") || strings.Contains(c, "case-insensitive") {
			t.Errorf("conformance announces %s, which is not implemented", c)
		}
	}

	var land ogcLanding
	f.get(t, f.admin, "/ogc", &land)
	desc := ""
	for _, l := range land.Links {
		if l.Rel == "service-desc" {
			desc = l.Href
		}
	}
	u, _ := url.Parse(desc)
	var doc struct {
		Servers []struct{ URL string }
		Paths   map[string]map[string]struct {
			Parameters []map[string]any
		}
		Components struct{ Parameters map[string]any }
	}
	resp, body = f.get(t, f.admin, u.RequestURI(), &doc)
	if resp.StatusCode != 200 || len(doc.Servers) != 1 || !strings.HasSuffix(doc.Servers[0].URL, "/ogc") || doc.Components.Parameters["limit"] == nil {
		t.Fatalf("%s: %d %.500s", desc, resp.StatusCode, body)
	}
	items, ok := doc.Paths["/collections/enterprises/items"]["get"]
	names := map[string]map[string]any{}
	for _, p := range items.Parameters {
		if n, ok := p["name"].(string); ok {
			names[n] = p
		}
	}
	if !ok || names["risk_level"] == nil || names["filter"] == nil || names["sortby"] == nil ||
		!strings.Contains(fmt.Sprint(names["filter-lang"]["schema"]), "cql-text") {
		t.Errorf("the items of enterprises in %s: %v", desc, names)
	}
	if _, ok := doc.Paths["/collections/{collectionId}/queryables"]; !ok {
		t.Errorf("no queryables path in %s", desc)
	}
}
