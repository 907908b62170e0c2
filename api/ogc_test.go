package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/maptile"

	"safegrid/grid/testdb"
)

type ogcItemsPage struct {
	Type           string `json:"type"`
	NumberMatched  int    `json:"numberMatched"`
	NumberReturned int    `json:"numberReturned"`
	Links          []ogcLink
	Features       []struct {
		Type     string `json:"type"`
		ID       int64  `json:"id"`
		Geometry struct {
			Type        string          `json:"type"`
			Coordinates json.RawMessage `json:"coordinates"`
		} `json:"geometry"`
		Properties map[string]any `json:"properties"`
	} `json:"features"`
}

func (p ogcItemsPage) link(rel string) string {
	for _, l := range p.Links {
		if l.Rel == rel {
			return l.Href
		}
	}
	return ""
}

func (p ogcItemsPage) props(name string) []string {
	var out []string
	for _, f := range p.Features {
		out = append(out, fmt.Sprint(f.Properties[name]))
	}
	sort.Strings(out)
	return out
}

// items GETs an items URL (absolute or a path) as auth and checks the GeoJSON headers.
func (f *gridFixture) items(t *testing.T, auth, path string) ogcItemsPage {
	t.Helper()
	if u, err := url.Parse(path); err == nil && u.IsAbs() {
		path = u.RequestURI()
	}
	var p ogcItemsPage
	resp, body := f.get(t, auth, path, &p)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/geo+json" {
		t.Errorf("GET %s: Content-Type %q", path, ct)
	}
	if crs := resp.Header.Get("Content-Crs"); crs != "<"+crs84+">" {
		t.Errorf("GET %s: Content-Crs %q", path, crs)
	}
	if p.Type != "FeatureCollection" || p.NumberReturned != len(p.Features) {
		t.Errorf("GET %s: %s", path, body)
	}
	return p
}

func TestOGCLandingConformanceCollections(t *testing.T) {
	f := newGridFixture(t)
	for _, path := range []string{"/ogc", "/ogc/"} {
		var land ogcLanding
		resp, body := f.get(t, f.admin, path, &land)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
		}
		rels := map[string]string{}
		for _, l := range land.Links {
			rels[l.Rel] = l.Href
			if !strings.HasPrefix(l.Href, "http://") {
				t.Errorf("%s: link %v is not absolute", path, l)
			}
		}
		for _, rel := range []string{"self", "service-desc", "conformance", "data"} {
			if rels[rel] == "" {
				t.Errorf("%s: no %s link: %s", path, rel, body)
			}
		}
	}
	var conf ogcConformance
	f.get(t, f.admin, "/ogc/conformance", &conf)
	for _, c := range []string{confCore, confGeoJSON, confOAS30} {
		if !slices.Contains(conf.ConformsTo, c) {
			t.Errorf("conformance lacks %s", c)
		}
	}

	var all, mine ogcCollections
	f.get(t, f.admin, "/ogc/collections", &all)
	f.get(t, f.off1, "/ogc/collections", &mine)
	var ids []string
	for _, c := range all.Collections {
		ids = append(ids, c.ID)
		if !strings.Contains(c.Title, " ") || c.ItemType != "feature" || len(c.Links) < 2 {
			t.Errorf("collection %+v", c)
		}
	}
	want := []string{"enterprises", "pipelines", "gas_occupancy_sites", "fire_stations", "fishing_ports", "underground_spaces", "hazards"}
	if !slices.Equal(ids, want) {
		t.Errorf("collections %v, want %v", ids, want)
	}
	// Extents are computed in the caller's scope: E5 (c3) and E6 (c4) lie west and east
	// of the officer's cells, so the officer's box is strictly inside the admin's.
	a, m := all.Collections[0].Extent, mine.Collections[0].Extent
	if a == nil || m == nil {
		t.Fatalf("enterprise extents %v %v", a, m)
	}
	ab, mb := a.Spatial.BBox[0], m.Spatial.BBox[0]
	if !(ab[0] < mb[0] && ab[2] > mb[2]) || ab[0] < 121.4 || ab[2] > 121.55 || ab[1] < 31.18 {
		t.Errorf("admin extent %v, officer extent %v", ab, mb)
	}
	if all.Collections[4].Extent != nil { // no fishing ports in the fixture
		t.Errorf("fishing ports extent %v", all.Collections[4].Extent)
	}
	var one ogcCollection
	if resp, body := f.get(t, f.admin, "/ogc/collections/hazards", &one); resp.StatusCode != 200 || one.ID != "hazards" || !strings.Contains(one.Title, "隐患") {
		t.Errorf("one collection: %d %s", resp.StatusCode, body)
	}
	resp, body := f.get(t, f.admin, "/ogc/collections/nope", nil)
	problemOf(t, resp, body, 404)
	resp, body = f.get(t, "", "/ogc/collections", nil)
	problemOf(t, resp, body, 401)
}

func TestOGCItems(t *testing.T) {
	f := newGridFixture(t)
	p := f.items(t, f.admin, "/ogc/collections/enterprises/items")
	if p.NumberMatched != 6 || p.NumberReturned != 6 || p.link("next") != "" || p.link("self") == "" {
		t.Fatalf("admin enterprises: %+v", p)
	}
	ft := p.Features[0]
	var coords []float64
	if err := json.Unmarshal(ft.Geometry.Coordinates, &coords); err != nil || ft.Geometry.Type != "Point" || ft.ID == 0 {
		t.Fatalf("feature %+v", ft)
	}
	if coords[0] < 121 || coords[0] > 122 || coords[1] < 31 || coords[1] > 32 { // lon, lat
		t.Errorf("coordinates %v are not lon/lat", coords)
	}
	for _, k := range []string{"uscc", "name", "industry", "risk_level", "street_code", "cell"} {
		if _, ok := ft.Properties[k]; !ok {
			t.Errorf("feature lacks %s: %v", k, ft.Properties)
		}
	}

	// Paging by the next links, as GDAL and QGIS do.
	var seen []string
	next := "/ogc/collections/enterprises/items?limit=4"
	for pages := 0; next != ""; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		pg := f.items(t, f.admin, next)
		if pg.NumberMatched != 6 || !strings.HasPrefix(pg.link("self"), "http://") {
			t.Errorf("page %d: %+v", pages, pg)
		}
		if pages == 1 && (pg.link("prev") == "" || pg.NumberReturned != 2) {
			t.Errorf("last page: %+v", pg)
		}
		seen = append(seen, pg.props("uscc")...)
		next = pg.link("next")
	}
	if len(seen) != 6 {
		t.Errorf("paged through %d features", len(seen))
	}

	// Property filters, with aliases; bbox.
	if got := f.items(t, f.admin, "/ogc/collections/enterprises/items?risk_level="+url.QueryEscape("重大")).props("name"); !slices.Equal(got, []string{"测试企业1", "测试企业5"}) {
		t.Errorf("risk_level=重大: %v", got)
	}
	if got := f.items(t, f.admin, "/ogc/collections/enterprises/items?risk_level=major&industry="+url.QueryEscape("工贸")).NumberMatched; got != 2 {
		t.Errorf("risk_level=major&industry=工贸: %d", got)
	}
	if got := f.items(t, f.admin, "/ogc/collections/hazards/items?status=reported&level="+url.QueryEscape("一般")).props("code"); !slices.Equal(got, []string{"H6"}) {
		t.Errorf("hazards status=reported level=一般: %v", got)
	}
	c1 := centre(f.c1, 0, 0)
	bbox := fmt.Sprintf("%f,%f,%f,%f", c1[0]-0.002, c1[1]-0.002, c1[0]+0.002, c1[1]+0.002)
	if got := f.items(t, f.admin, "/ogc/collections/enterprises/items?bbox="+bbox).props("name"); !slices.Equal(got, []string{"测试企业1", "测试企业2"}) {
		t.Errorf("bbox around c1: %v", got)
	}
	capped := f.items(t, f.admin, "/ogc/collections/hazards/items?limit=999999")
	if capped.NumberReturned != 6 {
		t.Errorf("limit above the maximum: %+v", capped)
	}

	// Scope: the officer (U1: c1, c2) sees E1-E4, P1, UG1, OCC1, FS1, H1-H4; street B sees E6, H6.
	scoped := []struct {
		auth, coll string
		want       int
	}{
		{f.off1, "enterprises", 4}, {f.off1, "pipelines", 1}, {f.off1, "underground_spaces", 1},
		{f.off1, "gas_occupancy_sites", 1}, {f.off1, "fire_stations", 1}, {f.off1, "hazards", 4},
		{f.stb, "enterprises", 1}, {f.stb, "hazards", 1}, {f.sta, "enterprises", 5}, {f.planner, "hazards", 6},
	}
	for _, s := range scoped {
		if got := f.items(t, s.auth, "/ogc/collections/"+s.coll+"/items").NumberMatched; got != s.want {
			t.Errorf("%s as %.12s: %d, want %d", s.coll, s.auth, got, s.want)
		}
	}
	if got := f.items(t, f.off1, "/ogc/collections/enterprises/items").props("name"); slices.Contains(got, "测试企业5") || slices.Contains(got, "测试企业6") {
		t.Errorf("officer sees other units' enterprises: %v", got)
	}

	// One item: the admin reads E6; the officer gets 404 for it (another unit's feature is
	// indistinguishable from a missing one), and for an id that does not exist.
	var e6 int64
	if err := testdb.DB(f.ts.st).QueryRow(context.Background(), `SELECT id FROM enterprises WHERE uscc = $1`, f.uscc["E6"]).Scan(&e6); err != nil {
		t.Fatal(err)
	}
	item := fmt.Sprintf("/ogc/collections/enterprises/items/%d", e6)
	resp, body := f.get(t, f.admin, item, nil)
	var feat map[string]any
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/geo+json" || json.Unmarshal(body, &feat) != nil ||
		feat["type"] != "Feature" || feat["id"] != float64(e6) || feat["links"] == nil {
		t.Errorf("item: %d %s", resp.StatusCode, body)
	}
	resp, body = f.get(t, f.off1, item, nil)
	problemOf(t, resp, body, 404)
	resp, body = f.get(t, f.admin, "/ogc/collections/enterprises/items/999999", nil)
	problemOf(t, resp, body, 404)
	resp, body = f.get(t, f.admin, "/ogc/collections/enterprises/items/abc", nil)
	problemOf(t, resp, body, 404)

	for _, bad := range []string{
		"?colour=red", "?bbox=1,2,3", "?bbox=1,2,x,4", "?bbox=122,31,121,32", "?bbox=1,2,3,4,5,6",
		"?limit=0", "?limit=x", "?offset=-1", "?risk_level=purple", "?employees=many", "?f=html",
		"?bbox-crs=EPSG:9999", "?address=1&kind=x", "?name=a%00b", "?name=%ff",
	} {
		resp, body := f.get(t, f.admin, "/ogc/collections/enterprises/items"+bad, nil)
		problemOf(t, resp, body, 400)
	}
	resp, body = f.get(t, f.admin, "/ogc/collections/nope/items", nil)
	problemOf(t, resp, body, 404)
}

// TestOGCWithOgrinfo reads the service with GDAL's OAPIF driver over HTTP Basic, as QGIS
// does: it must list the collections and read every feature, paging by next links (the
// largest page is 2 here, read from the OpenAPI document).
func TestOGCWithOgrinfo(t *testing.T) {
	ogrinfo, err := exec.LookPath("ogrinfo")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("ogrinfo is missing (scripts/test-deps.sh installs gdal-bin)")
		}
		t.Skip("ogrinfo is missing: run scripts/test-deps.sh (apt-get install gdal-bin)")
	}
	f := newGridFixture(t)
	srv := serverOn(t, f.ts.st, func(c *Config) { c.MaxLimit = 2; c.DefaultLimit = 2 })
	addr, _ := servedOn(t, srv)
	run := func(user string, args ...string) string {
		t.Helper()
		all := append([]string{"-ro", "--config", "GDAL_HTTP_AUTH", "BASIC", "--config", "GDAL_HTTP_USERPWD", user + ":password-" + user,
			"--config", "GDAL_HTTP_TIMEOUT", "30", "OAPIF:http://" + addr + "/ogc"}, args...)
		cmd := exec.Command(ogrinfo, all...)
		cmd.Env = append(os.Environ(), "GDAL_HTTP_MAX_RETRY=0", "CPL_DEBUG=OFF")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("ogrinfo %v: %v\n%s\nservice log:\n%s", args, err, out, srv.logs.String())
		}
		return string(out)
	}
	list := run("adm")
	for _, c := range []string{"enterprises", "pipelines", "gas_occupancy_sites", "fire_stations", "fishing_ports", "underground_spaces", "hazards"} {
		if !regexp.MustCompile(`(?m)^\d+: ` + c + `\b`).MatchString(list) {
			t.Errorf("ogrinfo does not list %s:\n%s", c, list)
		}
	}
	countIn := func(out, layer string) int {
		return len(regexp.MustCompile(`(?m)^OGRFeature\(`+layer+`\):\d+$`).FindAllString(out, -1))
	}
	for _, c := range []struct {
		user, layer string
	}{{"adm", "enterprises"}, {"adm", "hazards"}, {"adm", "pipelines"}, {"off1", "enterprises"}, {"off1", "hazards"}} {
		out := run(c.user, "-al", "-q", c.layer)
		var want int
		sql := "SELECT count(*) FROM " + c.layer
		if c.user == "off1" {
			sql += " WHERE h3 IN (SELECT c FROM officer_cells((SELECT id FROM users WHERE username = 'off1')) AS c)"
		}
		if err := testdb.DB(f.ts.st).QueryRow(context.Background(), sql).Scan(&want); err != nil {
			t.Fatal(err)
		}
		if got := countIn(out, c.layer); got != want || want == 0 {
			t.Errorf("ogrinfo read %d %s as %s, the database has %d:\n%s", got, c.layer, c.user, want, out)
		}
		if c.layer == "enterprises" && !strings.Contains(out, "risk_level (String) = ") {
			t.Errorf("no attributes read:\n%s", out)
		}
	}
	// Basic with a wrong password fails rather than reading anything.
	cmd := exec.Command(ogrinfo, "-ro", "--config", "GDAL_HTTP_AUTH", "BASIC", "--config", "GDAL_HTTP_USERPWD", "adm:wrong",
		"OAPIF:http://"+addr+"/ogc")
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("ogrinfo with a wrong password succeeded:\n%s", out)
	}
}

// TestOGCTilesAccess is the access matrix of /ogc and /tiles: every role may read them,
// each in its own scope; another unit's or street's item is a 404 (not a 403, so its
// existence does not leak), and another unit's features are absent from tiles.
func TestOGCTilesAccess(t *testing.T) {
	f := newGridFixture(t)
	id := func(uscc string) int64 {
		var id int64
		if err := testdb.DB(f.ts.st).QueryRow(context.Background(), `SELECT id FROM enterprises WHERE uscc = $1`, uscc).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	tileC4 := func() string {
		p := centre(f.c4, 0, 0)
		tl := maptileAt(p, 16)
		return fmt.Sprintf("/tiles/enterprises/16/%d/%d.mvt", tl[0], tl[1])
	}()
	calls := []string{
		"/ogc", "/ogc/collections", "/ogc/collections/enterprises/items",
		fmt.Sprintf("/ogc/collections/enterprises/items/%d", id(f.uscc["E1"])), // c1: officer's U1, street A
		fmt.Sprintf("/ogc/collections/enterprises/items/%d", id(f.uscc["E5"])), // c3: U2, street A
		fmt.Sprintf("/ogc/collections/enterprises/items/%d", id(f.uscc["E6"])), // c4: U3, street B
		fmt.Sprintf("/ogc/collections/hazards/items/%d", f.hazardID["H6"]),     // c4, street B
		"/tiles/enterprises.json", tileC4,
	}
	roles := []struct {
		name, auth string
		want       []int
		tileC4     int // enterprises in the zoom-16 tile over c4
	}{
		{"nobody", "", []int{401, 401, 401, 401, 401, 401, 401, 401, 401}, -1},
		{"officer", f.off1, []int{200, 200, 200, 200, 404, 404, 404, 200, 200}, 0},
		{"street A", f.sta, []int{200, 200, 200, 200, 200, 404, 404, 200, 200}, 0},
		{"street B", f.stb, []int{200, 200, 200, 404, 404, 200, 200, 200, 200}, 1},
		{"planner", f.planner, []int{200, 200, 200, 200, 200, 200, 200, 200, 200}, 1},
		{"admin", f.admin, []int{200, 200, 200, 200, 200, 200, 200, 200, 200}, 1},
	}
	for _, r := range roles {
		for i, path := range calls {
			resp, body := f.get(t, r.auth, path, nil)
			if resp.StatusCode != r.want[i] {
				t.Errorf("%s GET %s: %d, want %d: %.300s", r.name, path, resp.StatusCode, r.want[i], body)
			}
			if path == tileC4 && resp.StatusCode == 200 {
				layers, err := mvt.Unmarshal(body)
				n := 0
				for _, l := range layers {
					n += len(l.Features)
				}
				if err != nil || n != r.tileC4 {
					t.Errorf("%s: %d enterprises in the tile over c4, want %d (%v)", r.name, n, r.tileC4, err)
				}
			}
		}
	}
}

func maptileAt(p orb.Point, z maptile.Zoom) [2]uint32 {
	tl := maptile.At(p, z)
	return [2]uint32{tl.X, tl.Y}
}
