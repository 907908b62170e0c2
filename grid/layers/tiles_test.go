package layers_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/maptile"

	"safegrid/geo"
	"safegrid/grid"
	"safegrid/grid/layers"
	"safegrid/grid/testdb"
)

// A dense city centre: 100,000 enterprises in 15 × 11 km. Below zoom 12 every tile is a
// few hundred aggregated points whatever the number of enterprises (the number of H3
// parents in a tile is bounded), the counts add up to every enterprise once, and an
// officer with no cells sees nothing.
func TestAggregatedTilesStaySmall(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 100,000 enterprises")
	}
	st := testdb.New(t, nil)
	ctx := context.Background()
	if _, err := testdb.DB(st).Exec(ctx, `INSERT INTO areas (code, name, geom) VALUES ('310101', '黄浦区', ST_Multi(ST_MakeEnvelope(121.40, 31.18, 121.55, 31.28, 4326)))`); err != nil {
		t.Fatal(err)
	}
	const n = 100_000
	rng := rand.New(rand.NewPCG(1, 2))
	lons, lats, cells := make([]float64, n), make([]float64, n), make([]int64, n)
	for i := range n {
		p := orb.Point{121.40 + 0.15*rng.Float64(), 31.18 + 0.10*rng.Float64()}
		lons[i], lats[i], cells[i] = p[0], p[1], int64(geo.PointCell(p, geo.SupervisionRes))
	}
	if _, err := testdb.DB(st).Exec(ctx, `INSERT INTO enterprises (district_code, uscc, name, industry, risk_level, street_code, h3, geom)
SELECT '310101', lpad(i::text, 18, '0'), 'E' || i, '工贸', CASE WHEN i % 10 = 0 THEN '重大' ELSE '一般' END, '310101001', h3, ST_SetSRID(ST_MakePoint(lon, lat), 4326)
FROM unnest($1::float8[], $2::float8[], $3::bigint[]) WITH ORDINALITY AS u(lon, lat, h3, i)`, lons, lats, cells); err != nil {
		t.Fatal(err)
	}
	layer, err := layers.TileLayerByID("enterprises")
	if err != nil {
		t.Fatal(err)
	}
	admin := &grid.Principal{Role: grid.RoleAdmin}
	for z := maptile.Zoom(6); z < layers.AggregateBelow; z++ {
		// Every tile of the box at this zoom.
		min, max := maptile.At(orb.Point{121.40, 31.28}, z), maptile.At(orb.Point{121.55, 31.18}, z)
		total, major, biggest := 0, 0, 0
		for x := min.X; x <= max.X; x++ {
			for y := min.Y; y <= max.Y; y++ {
				tile, err := layers.New(st).Tile(ctx, layer, admin, int(z), int(x), int(y))
				if err != nil {
					t.Fatal(err)
				}
				biggest = maxInt(biggest, len(tile))
				if len(tile) > 500<<10 {
					t.Errorf("z%d/%d/%d: %d bytes", z, x, y, len(tile))
				}
				layers, err := mvt.Unmarshal(tile)
				if err != nil {
					t.Fatal(err)
				}
				for _, l := range layers {
					for _, f := range l.Features {
						total += int(f.Properties["count"].(float64))
						major += int(f.Properties["major"].(float64))
					}
				}
			}
		}
		if total != n || major != n/10 {
			t.Errorf("z%d: counts add up to %d (%d major), want %d (%d)", z, total, major, n, n/10)
		}
		t.Logf("z%d: largest tile %d bytes", z, biggest)
	}
	// Raw from zoom 12, except a tile too dense for it, which is aggregated to supervision
	// cells: here the zoom-12 tile (about 40,000 enterprises) and not the zoom-16 one.
	centre := orb.Point{121.475, 31.23}
	for z, wantAggregated := range map[int]bool{12: true, 16: false} {
		tl := maptile.At(centre, maptile.Zoom(z))
		tile, err := layers.New(st).Tile(ctx, layer, admin, z, int(tl.X), int(tl.Y))
		if err != nil {
			t.Fatal(err)
		}
		layers, err := mvt.Unmarshal(tile)
		if err != nil || len(layers) != 1 || len(layers[0].Features) == 0 {
			t.Fatalf("z%d: %v %v", z, layers, err)
		}
		props := layers[0].Features[0].Properties
		if len(tile) > 500<<10 || (props["resolution"] == 9.0) != wantAggregated || (props["name"] == nil) != wantAggregated {
			t.Errorf("z%d: %d bytes, feature %v", z, len(tile), props)
		}
		t.Logf("z%d: %d bytes, %d features", z, len(tile), len(layers[0].Features))
	}
	// An officer without cells gets an empty tile.
	tl := maptile.At(orb.Point{121.47, 31.23}, 10)
	tile, err := layers.New(st).Tile(ctx, layer, &grid.Principal{Role: grid.RoleOfficer, UserID: 12345}, 10, int(tl.X), int(tl.Y))
	if err != nil || len(tile) != 0 {
		t.Errorf("officer without cells: %d bytes, %v", len(tile), err)
	}
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}
