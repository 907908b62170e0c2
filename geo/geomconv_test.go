package geo

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"
	"github.com/paulmach/orb/geojson"
	"github.com/twpayne/go-geom"
	"github.com/twpayne/go-geom/encoding/ewkb"

	"safegrid/data"
)

var (
	convRing  = orb.Ring{{121.40, 31.20}, {121.50, 31.20}, {121.50, 31.30}, {121.40, 31.30}, {121.40, 31.20}}
	convHole  = orb.Ring{{121.42, 31.22}, {121.44, 31.22}, {121.44, 31.24}, {121.42, 31.22}}
	convRing2 = orb.Ring{{121.60, 31.00}, {121.70, 31.00}, {121.70, 31.10}, {121.60, 31.00}}
	convLine  = orb.LineString{{121.1, 31.1}, {121.2, 31.15}, {121.3, 31.12}}
)

// convCases are every geometry type orb has, with the go-geom type it converts to.
var convCases = []struct {
	name string
	g    orb.Geometry
	want geom.T
}{
	{"point", orb.Point{121.4737, 31.2304}, &geom.Point{}},
	{"multipoint", orb.MultiPoint{{121.1, 31.1}, {121.2, 31.2}}, &geom.MultiPoint{}},
	{"multipoint empty", orb.MultiPoint{}, &geom.MultiPoint{}},
	{"linestring", convLine, &geom.LineString{}},
	{"multilinestring", orb.MultiLineString{convLine, {{121.5, 31.5}, {121.6, 31.6}}}, &geom.MultiLineString{}},
	{"multilinestring empty", orb.MultiLineString{}, &geom.MultiLineString{}},
	{"polygon", orb.Polygon{convRing}, &geom.Polygon{}},
	{"polygon with hole", orb.Polygon{convRing, convHole}, &geom.Polygon{}},
	{"multipolygon", orb.MultiPolygon{{convRing, convHole}, {convRing2}}, &geom.MultiPolygon{}},
	{"multipolygon empty", orb.MultiPolygon{}, &geom.MultiPolygon{}},
	{"collection", orb.Collection{orb.Point{121.3, 31.3}, convLine, orb.MultiPolygon{{convRing2}}}, &geom.GeometryCollection{}},
}

func TestToGeomFromGeomRoundTrip(t *testing.T) {
	for _, c := range convCases {
		t.Run(c.name, func(t *testing.T) {
			g, err := ToGeom(c.g, 4326)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := geomTypeName(g), geomTypeName(c.want); got != want {
				t.Fatalf("ToGeom gave a %s, want a %s", got, want)
			}
			if g.SRID() != 4326 {
				t.Errorf("SRID %d, want 4326", g.SRID())
			}
			if g.Layout() != geom.XY && !(g.Layout() == geom.NoLayout && g.Empty()) {
				t.Errorf("layout %v, want XY", g.Layout())
			}
			back, err := FromGeom(g)
			if err != nil {
				t.Fatal(err)
			}
			if !orb.Equal(back, c.g) {
				t.Errorf("round trip gave %v, want %v", back, c.g)
			}
			// Without an SRID, none is written.
			g0, err := ToGeom(c.g, 0)
			if err != nil {
				t.Fatal(err)
			}
			if g0.SRID() != 0 {
				t.Errorf("SRID %d, want 0", g0.SRID())
			}
		})
	}
}

// The EWKB of a converted geometry is byte for byte what the importer wrote before
// go-geom: orb's WKB (little-endian) with the SRID flag and 4326 spliced in.
func TestToGeomEWKBMatchesOrbWKB(t *testing.T) {
	for _, c := range convCases {
		if _, ok := c.g.(orb.Collection); ok {
			continue // orb's WKB marks no SRID on members either, but the splice below is for one header
		}
		t.Run(c.name, func(t *testing.T) {
			g, err := ToGeom(c.g, 4326)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ewkb.Marshal(g, ewkb.NDR)
			if err != nil {
				t.Fatal(err)
			}
			w, err := wkb.Marshal(c.g)
			if err != nil {
				t.Fatal(err)
			}
			if want := spliceSRID(w, 4326); !bytes.Equal(got, want) {
				t.Errorf("EWKB\n got %x\nwant %x", got, want)
			}
			// And it decodes to what orb decodes from the plain WKB.
			dec, err := ewkb.Unmarshal(got)
			if err != nil {
				t.Fatal(err)
			}
			if dec.SRID() != 4326 {
				t.Errorf("decoded SRID %d, want 4326", dec.SRID())
			}
			fromGeom, err := FromGeom(dec)
			if err != nil {
				t.Fatal(err)
			}
			fromOrb, err := wkb.Unmarshal(w)
			if err != nil {
				t.Fatal(err)
			}
			if !orb.Equal(fromGeom, fromOrb) {
				t.Errorf("decoded %v, orb decodes %v", fromGeom, fromOrb)
			}
		})
	}
}

// spliceSRID is the old importer's WKB-to-EWKB step.
func spliceSRID(w []byte, srid uint32) []byte {
	out := make([]byte, len(w)+4)
	out[0] = w[0]
	var bo binary.ByteOrder = binary.LittleEndian
	if w[0] == 0 {
		bo = binary.BigEndian
	}
	bo.PutUint32(out[1:5], bo.Uint32(w[1:5])|0x20000000)
	bo.PutUint32(out[5:9], srid)
	copy(out[9:], w[5:])
	return out
}

func TestToGeomRingAndBound(t *testing.T) {
	g, err := ToGeom(convRing, 4326)
	if err != nil {
		t.Fatal(err)
	}
	back, _ := FromGeom(g)
	if !orb.Equal(back, orb.Polygon{convRing}) {
		t.Errorf("ring gave %v", back)
	}
	b := orb.Bound{Min: orb.Point{121, 31}, Max: orb.Point{122, 32}}
	g, err = ToGeom(b, 4326)
	if err != nil {
		t.Fatal(err)
	}
	back, _ = FromGeom(g)
	if !orb.Equal(back, b.ToPolygon()) {
		t.Errorf("bound gave %v", back)
	}
	if _, err := ToGeom(nil, 4326); err == nil {
		t.Error("nil geometry converted")
	}
	if _, err := FromGeom(nil); err == nil {
		t.Error("nil geom.T converted")
	}
}

// FromGeom keeps x and y of 3D and measured layouts.
func TestFromGeomDropsZ(t *testing.T) {
	poly := geom.NewPolygonFlat(geom.XYZ, []float64{0, 0, 5, 1, 0, 5, 1, 1, 5, 0, 0, 5}, []int{12})
	mp := geom.NewMultiPolygonFlat(geom.XYZM, []float64{
		0, 0, 1, 2, 1, 0, 1, 2, 1, 1, 1, 2, 0, 0, 1, 2,
		5, 5, 1, 2, 6, 5, 1, 2, 6, 6, 1, 2, 5, 5, 1, 2,
	}, [][]int{{16}, {}, {32}})
	ring := orb.Ring{{0, 0}, {1, 0}, {1, 1}, {0, 0}}
	cases := []struct {
		g    geom.T
		want orb.Geometry
	}{
		{geom.NewPointFlat(geom.XYZ, []float64{1, 2, 3}), orb.Point{1, 2}},
		{geom.NewLineStringFlat(geom.XYM, []float64{1, 2, 9, 3, 4, 9}), orb.LineString{{1, 2}, {3, 4}}},
		{geom.NewMultiLineStringFlat(geom.XYZ, []float64{1, 2, 9, 3, 4, 9, 5, 6, 9, 7, 8, 9}, []int{6, 12}),
			orb.MultiLineString{{{1, 2}, {3, 4}}, {{5, 6}, {7, 8}}}},
		{geom.NewMultiPointFlat(geom.XYZ, []float64{1, 2, 3, 4, 5, 6}), orb.MultiPoint{{1, 2}, {4, 5}}},
		{poly, orb.Polygon{ring}},
		{mp, orb.MultiPolygon{{ring}, {}, {{{5, 5}, {6, 5}, {6, 6}, {5, 5}}}}},
	}
	for _, c := range cases {
		got, err := FromGeom(c.g)
		if err != nil {
			t.Fatal(err)
		}
		if !orb.Equal(got, c.want) {
			t.Errorf("%s: got %v, want %v", geomTypeName(c.g), got, c.want)
		}
	}
}

func TestFromGeomEmptyPoints(t *testing.T) {
	got, err := FromGeom(geom.NewPointEmpty(geom.XY))
	if err != nil {
		t.Fatal(err)
	}
	if p := got.(orb.Point); !math.IsNaN(p[0]) || !math.IsNaN(p[1]) {
		t.Errorf("empty point gave %v", p)
	}
	mp := geom.NewMultiPointFlat(geom.XY, []float64{1, 2, 3, 4}, geom.NewMultiPointFlatOptionWithEnds([]int{2, 2, 4}))
	got, err = FromGeom(mp)
	if err != nil {
		t.Fatal(err)
	}
	m := got.(orb.MultiPoint)
	if len(m) != 3 || m[0] != (orb.Point{1, 2}) || !math.IsNaN(m[1][0]) || m[2] != (orb.Point{3, 4}) {
		t.Errorf("multipoint with an empty point gave %v", m)
	}
}

// The rings FromGeom cuts from one array cannot grow into each other.
func TestFromGeomRingsAreSeparate(t *testing.T) {
	g, _ := ToGeom(orb.Polygon{convRing, convHole}, 0)
	back, _ := FromGeom(g)
	p := back.(orb.Polygon)
	_ = append(p[0], orb.Point{0, 0})
	if !orb.Equal(p[1], convHole) {
		t.Errorf("appending to the shell changed the hole: %v", p[1])
	}
}

func geomTypeName(g geom.T) string {
	switch g.(type) {
	case *geom.Point:
		return "Point"
	case *geom.MultiPoint:
		return "MultiPoint"
	case *geom.LineString:
		return "LineString"
	case *geom.MultiLineString:
		return "MultiLineString"
	case *geom.Polygon:
		return "Polygon"
	case *geom.MultiPolygon:
		return "MultiPolygon"
	case *geom.GeometryCollection:
		return "GeometryCollection"
	}
	return "?"
}

// BenchmarkDecodeAreas compares reading the shipped areas as the store reads area
// geometries: impl=old is orb's WKB decoder on ST_AsBinary's WKB, impl=new go-geom's
// EWKB decoder (what pgx-geom's codec runs on a geometry column) and FromGeom. One op
// decodes every area of the level.
func BenchmarkDecodeAreas(b *testing.B) {
	raw, err := data.ReadFile(data.Areas)
	if err != nil {
		b.Fatal(err)
	}
	fc, err := geojson.UnmarshalFeatureCollection(raw)
	if err != nil {
		b.Fatal(err)
	}
	levels := map[int]string{6: "district", 9: "street", 12: "community"}
	wkbs, ewkbs := map[string][][]byte{}, map[string][][]byte{}
	for _, f := range fc.Features {
		level := levels[len(f.Properties.MustString("code"))]
		w, err := wkb.Marshal(f.Geometry)
		if err != nil {
			b.Fatal(err)
		}
		g, err := ToGeom(f.Geometry, 4326)
		if err != nil {
			b.Fatal(err)
		}
		e, err := ewkb.Marshal(g, ewkb.NDR)
		if err != nil {
			b.Fatal(err)
		}
		wkbs[level], ewkbs[level] = append(wkbs[level], w), append(ewkbs[level], e)
	}
	for _, level := range []string{"district", "street", "community"} {
		for _, impl := range []string{"old", "new"} {
			b.Run("level="+level+"/impl="+impl, func(b *testing.B) {
				b.ReportAllocs()
				for n := 0; n < b.N; n++ {
					if impl == "old" {
						for _, w := range wkbs[level] {
							if _, err := wkb.Unmarshal(w); err != nil {
								b.Fatal(err)
							}
						}
						continue
					}
					for _, e := range ewkbs[level] {
						g, err := ewkb.Unmarshal(e)
						if err != nil {
							b.Fatal(err)
						}
						if _, err := FromGeom(g); err != nil {
							b.Fatal(err)
						}
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(wkbs[level])), "ns/area")
			})
		}
	}
}
