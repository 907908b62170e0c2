package api

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"sort"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/maptile"

	"safegrid/grid/testdb"
)

// tileOf fetches and decodes one tile as auth, checking the tile headers.
func (f *gridFixture) tileOf(t *testing.T, auth, layer string, tile maptile.Tile) (mvt.Layers, string) {
	t.Helper()
	path := fmt.Sprintf("/tiles/%s/%d/%d/%d.mvt", layer, tile.Z, tile.X, tile.Y)
	resp, body := f.get(t, auth, path, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	if len(body) > 0 && resp.Header.Get("Content-Type") != mimeMVT {
		t.Errorf("Content-Type %q", resp.Header.Get("Content-Type"))
	}
	if resp.Header.Get("ETag") == "" || resp.Header.Get("Cache-Control") != tileCacheControl {
		t.Errorf("ETag %q, Cache-Control %q", resp.Header.Get("ETag"), resp.Header.Get("Cache-Control"))
	}
	layers, err := mvt.Unmarshal(body)
	if err != nil {
		t.Fatalf("GET %s: decoding: %v", path, err)
	}
	return layers, resp.Header.Get("ETag")
}

// fixturePoints are the locations of the fixture's features, to find the tiles they are in.
func (f *gridFixture) fixturePoints() []orb.Point {
	return []orb.Point{centre(f.c1, 0, 0), centre(f.c2, 0, 0), centre(f.c3, 0, 0), centre(f.c4, 0, 0)}
}

// collect reads every tile of layer at zoom z holding a fixture point and returns the
// features' values of prop, keyed by feature id (so a feature in two tiles counts once),
// and the sum of the count property (aggregated tiles).
func (f *gridFixture) collect(t *testing.T, auth, layer string, z maptile.Zoom, prop string) (map[string]string, int) {
	t.Helper()
	tiles := map[maptile.Tile]bool{}
	for _, p := range f.fixturePoints() {
		tiles[maptile.At(p, z)] = true
	}
	out, sum := map[string]string{}, 0
	for tile := range tiles {
		layers, _ := f.tileOf(t, auth, layer, tile)
		for _, l := range layers {
			if l.Name != layer {
				t.Errorf("layer %q in the %s tile", l.Name, layer)
			}
			for _, ft := range l.Features {
				out[fmt.Sprint(ft.ID)] = fmt.Sprint(ft.Properties[prop])
				if n, ok := ft.Properties["count"].(float64); ok {
					sum += int(n)
				}
			}
		}
	}
	return out, sum
}

func values(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

func TestTilesScopedAndDecoded(t *testing.T) {
	f := newGridFixture(t)
	got, _ := f.collect(t, f.admin, "enterprises", 15, "name")
	if want := []string{"测试企业1", "测试企业2", "测试企业3", "测试企业4", "测试企业5", "测试企业6"}; !slices.Equal(values(got), want) {
		t.Errorf("admin enterprises at z15: %v", values(got))
	}
	got, _ = f.collect(t, f.off1, "enterprises", 15, "risk_level")
	if want := []string{"低", "一般", "较大", "重大"}; len(got) != 4 || !sameSet(values(got), want) {
		t.Errorf("officer enterprises at z15: %v", got)
	}
	got, _ = f.collect(t, f.stb, "hazards", 14, "code")
	if !slices.Equal(values(got), []string{"H6"}) {
		t.Errorf("street B hazards: %v", got)
	}
	for layer, want := range map[string][]string{"pipelines": {"P1"}, "underground_spaces": {"UG1"}, "gas_occupancy_sites": {"OCC1"}, "fire_stations": {"FS1"}} {
		if got, _ := f.collect(t, f.off1, layer, 14, "code"); !slices.Equal(values(got), want) {
			t.Errorf("officer %s: %v", layer, got)
		}
	}
	// An officer's tile over another unit's cell (c4, street B) has none of its features.
	layers, _ := f.tileOf(t, f.off1, "enterprises", maptile.At(centre(f.c4, 0, 0), 16))
	if len(layers) != 0 && len(layers[0].Features) != 0 {
		t.Errorf("officer tile over c4: %v", layers[0].Features[0].Properties)
	}

	// Grid cells: hexagons of the officer's own cells only; the admin sees all four.
	cells, _ := f.collect(t, f.off1, "grid_cells", 13, "cell")
	if !sameSet(values(cells), []string{f.c1.String(), f.c2.String()}) {
		t.Errorf("officer grid cells: %v", cells)
	}
	cells, _ = f.collect(t, f.admin, "grid_cells", 13, "unit_code")
	if !sameSet(values(cells), []string{"U1", "U1", "U2", "U3"}) {
		t.Errorf("admin grid cells: %v", cells)
	}
	layers, _ = f.tileOf(t, f.admin, "grid_cells", maptile.At(centre(f.c1, 0, 0), 13))
	if len(layers) != 1 || len(layers[0].Features) == 0 || layers[0].Features[0].Geometry.GeoJSONType() != "Polygon" {
		t.Errorf("grid cells are not polygons: %v", layers)
	}
	if l, _ := f.tileOf(t, f.admin, "grid_cells", maptile.At(centre(f.c1, 0, 0), 9)); len(l) != 0 {
		t.Errorf("grid cells below their minimum zoom: %v", l)
	}

	// Areas: districts everywhere, streets from 9, communities from 12, with names.
	areaNames := func(z maptile.Zoom) []string {
		layers, _ := f.tileOf(t, f.off1, "areas", maptile.At(centre(f.c1, 0, 0), z))
		var names []string
		for _, l := range layers {
			for _, ft := range l.Features {
				names = append(names, fmt.Sprint(ft.Properties["name"]))
			}
		}
		sort.Strings(names)
		return names
	}
	if got := areaNames(8); !slices.Equal(got, []string{"黄浦区"}) {
		t.Errorf("areas at z8: %v", got)
	}
	if got := areaNames(12); !slices.Contains(got, "甲街道") || !slices.Contains(got, "甲一居委") {
		t.Errorf("areas at z12: %v", got)
	}

	// An empty tile is a 200 with an empty body.
	resp, body := f.get(t, f.admin, "/tiles/enterprises/14/0/0.mvt", nil)
	if resp.StatusCode != 200 || len(body) != 0 {
		t.Errorf("empty tile: %d, %d bytes", resp.StatusCode, len(body))
	}
	for path, status := range map[string]int{
		"/tiles/enterprises/23/0/0.mvt": 400, "/tiles/enterprises/2/4/0.mvt": 400, "/tiles/enterprises/2/0/-1.mvt": 400,
		"/tiles/enterprises/a/0/0.mvt": 400, "/tiles/nope/1/0/0.mvt": 404, "/tiles/nope.json": 404,
	} {
		resp, body := f.get(t, f.admin, path, nil)
		problemOf(t, resp, body, status)
	}
	resp, body = f.get(t, "", "/tiles/enterprises/14/0/0.mvt", nil)
	problemOf(t, resp, body, 401)
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("off1:password-off1"))
	if got, _ := f.collect(t, basic, "enterprises", 15, "name"); len(got) != 4 {
		t.Errorf("officer over Basic: %v", got)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	sort.Strings(a)
	sort.Strings(b)
	return slices.Equal(a, b)
}

func TestTilesAggregateAtLowZoom(t *testing.T) {
	f := newGridFixture(t)
	for _, z := range []maptile.Zoom{5, 8, 11} {
		for _, c := range []struct {
			auth, layer string
			want        int
		}{{f.admin, "enterprises", 6}, {f.off1, "enterprises", 4}, {f.admin, "hazards", 6}, {f.stb, "hazards", 1}} {
			cells, sum := f.collect(t, c.auth, c.layer, z, "cell")
			if sum != c.want || len(cells) == 0 {
				t.Errorf("z%d %s: counts sum to %d over %d cells, want %d", z, c.layer, sum, len(cells), c.want)
			}
		}
	}
	layers, _ := f.tileOf(t, f.admin, "enterprises", maptile.At(centre(f.c1, 0, 0), 11))
	ft := layers[0].Features[0]
	if ft.Properties["resolution"] != 8.0 || ft.Properties["major"] == nil || ft.Properties["name"] != nil {
		t.Errorf("aggregated feature %v", ft.Properties)
	}
}

func TestTileETagAndFreshness(t *testing.T) {
	f := newGridFixture(t)
	tile := maptile.At(centre(f.c1, 0, 0), 15)
	path := fmt.Sprintf("/tiles/enterprises/%d/%d/%d.mvt", tile.Z, tile.X, tile.Y)
	_, etag := f.tileOf(t, f.admin, "enterprises", tile)
	resp, body := f.ts.do(t, "GET", path, "", "Authorization", f.admin, "If-None-Match", etag)
	if resp.StatusCode != 304 || len(body) != 0 || resp.Header.Get("ETag") != etag {
		t.Fatalf("If-None-Match: %d %q", resp.StatusCode, resp.Header.Get("ETag"))
	}
	// The officer's tile over the same place differs only if scope cuts something; its
	// ETag never lets the admin's bytes be reused for another caller (Vary: Authorization).
	if resp.Header.Get("Vary") == "" {
		t.Error("no Vary header")
	}
	if _, err := testdb.DB(f.ts.st).Exec(context.Background(), `UPDATE enterprises SET risk_level = '低', updated_at = now() WHERE uscc = $1`, f.uscc["E1"]); err != nil {
		t.Fatal(err)
	}
	resp, body = f.ts.do(t, "GET", path, "", "Authorization", f.admin, "If-None-Match", etag)
	if resp.StatusCode != 200 || resp.Header.Get("ETag") == etag {
		t.Fatalf("after an update: %d, ETag %q", resp.StatusCode, resp.Header.Get("ETag"))
	}
	layers, err := mvt.Unmarshal(body)
	if err != nil {
		t.Fatal(err)
	}
	for _, ft := range layers[0].Features {
		if ft.Properties["name"] == "测试企业1" && ft.Properties["risk_level"] != "低" {
			t.Errorf("the update is not in the tile: %v", ft.Properties)
		}
	}
}

func TestTileJSON(t *testing.T) {
	f := newGridFixture(t)
	for _, layer := range []string{"enterprises", "pipelines", "gas_occupancy_sites", "fire_stations", "fishing_ports", "underground_spaces", "hazards", "grid_cells", "areas"} {
		var tj tileJSON
		resp, body := f.get(t, f.off1, "/tiles/"+layer+".json", &tj)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", layer, resp.StatusCode, body)
		}
		if tj.TileJSON != "3.0.0" || len(tj.Tiles) != 1 || tj.Tiles[0] != "http://example.com/tiles/"+layer+"/{z}/{x}/{y}.mvt" ||
			tj.MaxZoom < tj.MinZoom || len(tj.VectorLayers) != 1 || tj.VectorLayers[0].ID != layer || len(tj.VectorLayers[0].Fields) == 0 {
			t.Errorf("%s: %s", layer, body)
		}
		b := tj.Bounds
		if b[0] > b[2] || b[1] > b[3] || b[0] < 120 || b[2] > 123 {
			t.Errorf("%s bounds %v", layer, b)
		}
	}
	var tj tileJSON
	f.get(t, f.off1, "/tiles/enterprises.json", &tj)
	if f := tj.VectorLayers[0].Fields; f["risk_level"] != "String" || f["employees"] != "Number" || f["count"] != "Number" {
		t.Errorf("enterprise fields %v", f)
	}
}
