package ingest

import (
	"math/rand"
	"reflect"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"

	"safegrid/grid"
)

// The streaming decoder reads lines and polygons as well as points; each geometry must be
// exactly what orb's decoder makes of the same feature, and the shapes it leaves to orb
// (a third coordinate, an empty or mixed array, a type that does not fit the nesting) must
// make it step aside.
func TestDecodeFeatureGeometries(t *testing.T) {
	k, _ := grid.KindByName("pipelines")
	r := rand.New(rand.NewSource(2))
	pos := func() orb.Point { return orb.Point{121 + r.Float64(), 31 + r.Float64()*0.8} }
	line := func(n int) orb.LineString {
		ls := make(orb.LineString, n)
		for i := range ls {
			ls[i] = pos()
		}
		return ls
	}
	ring := func(n int) orb.Ring {
		rg := orb.Ring(line(n))
		return append(rg, rg[0])
	}
	var geoms []orb.Geometry
	for i := 0; i < 50; i++ {
		geoms = append(geoms, pos(), line(1+r.Intn(30)),
			orb.Polygon{ring(3 + r.Intn(10)), ring(3)},
			orb.MultiLineString{line(2), line(5)},
			orb.MultiPolygon{{ring(4)}, {ring(5), ring(3)}})
	}
	props := map[string]any{"code": "P1", "medium": "gas", "class": "transmission", "pressure": "高压", "diameter_mm": 1016.0}
	for i, g := range geoms {
		f := geojson.NewFeature(g)
		f.Properties = props
		raw, err := f.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		fast, ok := decodeFeature(raw, 1, k)
		if !ok {
			t.Fatalf("geometry %d (%s): the streaming decoder stepped aside for %s", i, g.GeoJSONType(), raw)
		}
		var want geojson.Feature
		if err := want.UnmarshalJSON(raw); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fast.Geom, want.Geometry) {
			t.Fatalf("geometry %d: streaming %#v, orb %#v", i, fast.Geom, want.Geometry)
		}
	}
	for _, geom := range []string{
		`{"type":"LineString","coordinates":[[121.4,31.2],[121.5,31.3,4]]}`,
		`{"type":"LineString","coordinates":[]}`,
		`{"type":"LineString","coordinates":[[121.4,31.2],[[121.5,31.3]]]}`,
		`{"type":"Polygon","coordinates":[[121.4,31.2],[121.5,31.3]]}`,
		`{"type":"MultiPolygon","coordinates":[[[121.4,31.2],[121.5,31.3],[121.4,31.2]]]}`,
		`{"type":"GeometryCollection","geometries":[]}`,
		`{"type":"LineString","coordinates":[[121.4,31.2],[121.5,31.3]],"bbox":[0,0,1,1]}`,
		`{"type":"LineString","coordinates":[[121.4,31.2],[121.5]]}`,
	} {
		raw := []byte(`{"type":"Feature","properties":{"code":"P1"},"geometry":` + geom + `}`)
		if _, ok := decodeFeature(raw, 1, k); ok {
			t.Errorf("the streaming decoder took %s", geom)
		}
	}
}
