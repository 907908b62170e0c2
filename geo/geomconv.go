package geo

import (
	"fmt"
	"math"

	"github.com/paulmach/orb"
	"github.com/twpayne/go-geom"
)

// orb is the model of checking, H3 and GeoJSON; go-geom (github.com/twpayne/go-geom) is
// the model at the database boundary, where pgx-geom binds and scans it as EWKB. ToGeom
// and FromGeom convert between them: points, lines, polygons, their multi forms and
// collections, in two dimensions (orb has no third).

// ToGeom converts g to go-geom with layout XY and the given SRID (0: none; members of a
// collection get none). An orb.Ring or orb.Bound becomes a polygon, as orb's WKB encoder
// writes them.
func ToGeom(g orb.Geometry, srid int) (geom.T, error) {
	switch g := g.(type) {
	case orb.Point:
		return geom.NewPointFlat(geom.XY, []float64{g[0], g[1]}).SetSRID(srid), nil
	case orb.MultiPoint:
		return geom.NewMultiPointFlat(geom.XY, appendFlat(make([]float64, 0, 2*len(g)), g)).SetSRID(srid), nil
	case orb.LineString:
		return geom.NewLineStringFlat(geom.XY, appendFlat(make([]float64, 0, 2*len(g)), g)).SetSRID(srid), nil
	case orb.MultiLineString:
		n := 0
		for _, l := range g {
			n += len(l)
		}
		flat, ends := make([]float64, 0, 2*n), make([]int, 0, len(g))
		for _, l := range g {
			flat = appendFlat(flat, l)
			ends = append(ends, len(flat))
		}
		return geom.NewMultiLineStringFlat(geom.XY, flat, ends).SetSRID(srid), nil
	case orb.Ring:
		return ToGeom(orb.Polygon{g}, srid)
	case orb.Bound:
		return ToGeom(g.ToPolygon(), srid)
	case orb.Polygon:
		flat, ends := appendRings(make([]float64, 0, 2*polygonPoints(g)), make([]int, 0, len(g)), g)
		return geom.NewPolygonFlat(geom.XY, flat, ends).SetSRID(srid), nil
	case orb.MultiPolygon:
		n := 0
		for _, p := range g {
			n += polygonPoints(p)
		}
		flat, endss := make([]float64, 0, 2*n), make([][]int, len(g))
		for i, p := range g {
			flat, endss[i] = appendRings(flat, make([]int, 0, len(p)), p)
		}
		return geom.NewMultiPolygonFlat(geom.XY, flat, endss).SetSRID(srid), nil
	case orb.Collection:
		gc := geom.NewGeometryCollection()
		for _, m := range g {
			t, err := ToGeom(m, 0)
			if err != nil {
				return nil, err
			}
			if err := gc.Push(t); err != nil {
				return nil, err
			}
		}
		return gc.SetSRID(srid), nil
	case nil:
		return nil, fmt.Errorf("no geometry")
	}
	return nil, fmt.Errorf("cannot convert a %T to go-geom", g)
}

func appendFlat(flat []float64, ps []orb.Point) []float64 {
	for _, p := range ps {
		flat = append(flat, p[0], p[1])
	}
	return flat
}

func polygonPoints(p orb.Polygon) int {
	n := 0
	for _, r := range p {
		n += len(r)
	}
	return n
}

// appendRings appends p's rings to flat and their ends (offsets in flat) to ends.
func appendRings(flat []float64, ends []int, p orb.Polygon) ([]float64, []int) {
	for _, r := range p {
		flat = appendFlat(flat, r)
		ends = append(ends, len(flat))
	}
	return flat, ends
}

// FromGeom converts g to orb, keeping x and y of any layout. An empty point becomes a
// point of NaNs, as orb's WKB decoder reads one.
func FromGeom(g geom.T) (orb.Geometry, error) {
	switch g := g.(type) {
	case *geom.Point:
		if g.Empty() {
			return orb.Point{math.NaN(), math.NaN()}, nil
		}
		return orb.Point{g.X(), g.Y()}, nil
	case *geom.MultiPoint:
		flat := g.FlatCoords()
		out := make(orb.MultiPoint, len(g.Ends()))
		start := 0
		for i, end := range g.Ends() {
			if end == start {
				out[i] = orb.Point{math.NaN(), math.NaN()}
			} else {
				out[i] = orb.Point{flat[start], flat[start+1]}
			}
			start = end
		}
		return out, nil
	case *geom.LineString:
		return orb.LineString(orbPoints(g.FlatCoords(), g.Stride())), nil
	case *geom.MultiLineString:
		pts := orbPoints(g.FlatCoords(), g.Stride())
		out := make(orb.MultiLineString, len(g.Ends()))
		start := 0
		for i, end := range g.Ends() {
			a, b := start/g.Stride(), end/g.Stride()
			out[i] = orb.LineString(pts[a:b:b])
			start = end
		}
		return out, nil
	case *geom.Polygon:
		return orbPolygon(orbPoints(g.FlatCoords(), g.Stride()), 0, g.Ends(), g.Stride()), nil
	case *geom.MultiPolygon:
		pts := orbPoints(g.FlatCoords(), g.Stride())
		out := make(orb.MultiPolygon, len(g.Endss()))
		start := 0
		for i, ends := range g.Endss() {
			out[i] = orbPolygon(pts, start, ends, g.Stride())
			if len(ends) > 0 {
				start = ends[len(ends)-1]
			}
		}
		return out, nil
	case *geom.GeometryCollection:
		out := make(orb.Collection, g.NumGeoms())
		for i, m := range g.Geoms() {
			o, err := FromGeom(m)
			if err != nil {
				return nil, err
			}
			out[i] = o
		}
		return out, nil
	case nil:
		return nil, fmt.Errorf("no geometry")
	}
	return nil, fmt.Errorf("cannot convert a %T to orb", g)
}

// orbPoints are the points of flat coordinates of the given stride, in one allocation.
func orbPoints(flat []float64, stride int) []orb.Point {
	pts := make([]orb.Point, len(flat)/stride)
	for i := range pts {
		pts[i] = orb.Point{flat[i*stride], flat[i*stride+1]}
	}
	return pts
}

// orbPolygon is the polygon whose rings end at ends (offsets in flat coordinates, the
// first ring starting at start), cut from pts with capacities that end at each ring, so
// that appending to one ring cannot overwrite the next.
func orbPolygon(pts []orb.Point, start int, ends []int, stride int) orb.Polygon {
	p := make(orb.Polygon, len(ends))
	for i, end := range ends {
		a, b := start/stride, end/stride
		p[i] = orb.Ring(pts[a:b:b])
		start = end
	}
	return p
}
