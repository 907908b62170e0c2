package ingest

import (
	"math/rand/v2"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"

	"safegrid/data"
)

// demoAreaIndex builds the in-memory index from the demo's areas (whole polygons as parts,
// where the database would cut them into pieces of 64 vertices: the answers are the same).
func demoAreaIndex(t *testing.T) *areaIndex {
	t.Helper()
	raw, err := data.ReadFile("areas-synthetic.geojson")
	if err != nil {
		t.Fatal(err)
	}
	fc, err := geojson.UnmarshalFeatureCollection(raw)
	if err != nil {
		t.Fatal(err)
	}
	ix := newAreaIndex()
	for _, f := range fc.Features {
		code := f.Properties.MustString("code")
		level := map[int]string{6: "district", 9: "street", 12: "community"}[len(code)]
		for _, poly := range f.Geometry.(orb.MultiPolygon) {
			ix.levels[levelOf(level)].add(code, poly, parentOf(code))
		}
	}
	return ix
}

// TestInteriorRasterAgrees checks that the raster answers exactly as the polygon tests
// for points everywhere and for points a hair away from the borders, and that it answers
// most points of the city.
func TestInteriorRasterAgrees(t *testing.T) {
	ix := demoAreaIndex(t)
	r := ix.buildInterior()
	if r == nil {
		t.Fatal("no raster")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var pts []orb.Point
	for range 60000 {
		pts = append(pts, orb.Point{120.85 + rng.Float64()*1.2, 30.68 + rng.Float64()*1.2})
	}
	// next to vertices and edge midpoints of the street boundaries, within a few borderEps
	for _, p := range ix.levels[1].parts {
		for _, ring := range p.ring {
			for i := 1; i < len(ring); i++ {
				m := orb.Point{(ring[i-1][0] + ring[i][0]) / 2, (ring[i-1][1] + ring[i][1]) / 2}
				for _, d := range []float64{0.5, 2, 20, 2000} {
					pts = append(pts, orb.Point{m[0] + d*borderEps, m[1] - d*borderEps}, orb.Point{ring[i][0] - d*borderEps, ring[i][1] + d*borderEps})
				}
			}
		}
	}
	random := 60000
	answered, inside := 0, 0 // among the random points
	for i, p := range pts {
		want, wantOK := ix.tagPolygons(p)
		got, ok := r.lookup(p)
		if i < random && wantOK && want[0] != "" {
			inside++
			if ok {
				answered++
			}
		}
		if !ok {
			continue
		}
		if !wantOK || got != want {
			t.Fatalf("%v: raster %v, polygons %v (ok %v)", p, got, want, wantOK)
		}
	}
	if answered < inside*7/10 {
		t.Errorf("the raster answered %d of %d random points inside areas; want most", answered, inside)
	}
	t.Logf("%d random points inside areas, %d answered by the raster; %d points near borders", inside, answered, len(pts)-random)
}

// TestTagUsesRaster checks that tag switches to the raster after interiorAfter points and
// still gives the polygon answers.
func TestTagUsesRaster(t *testing.T) {
	ix := demoAreaIndex(t)
	rng := rand.New(rand.NewPCG(3, 4))
	ix.tags.Store(interiorAfter - 1) // as if that many points had been tagged
	for i := range 5000 {
		p := orb.Point{121.0 + rng.Float64()*0.9, 30.9 + rng.Float64()*0.5}
		got, ok := ix.tag(p)
		want, wantOK := ix.tagPolygons(p)
		if got != want || ok != wantOK {
			t.Fatalf("point %d %v: tag %v %v, polygons %v %v", i, p, got, ok, want, wantOK)
		}
	}
	if ix.interior == nil {
		t.Fatal("the raster was not built")
	}
}
