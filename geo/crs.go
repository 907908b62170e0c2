package geo

import (
	"fmt"
	"math"
	"strings"

	"github.com/paulmach/orb"
)

// CRS names the coordinate system an import declares. Storage is always WGS84.
type CRS string

const (
	WGS84    CRS = "wgs84"
	CGCS2000 CRS = "cgcs2000" // EPSG:4490, within centimetres of WGS84
	GCJ02    CRS = "gcj02"    // Amap, Tencent: WGS84 with a deliberate offset of up to ~500 m
	BD09     CRS = "bd09"     // Baidu: GCJ-02 with a further offset
)

var crsAliases = map[string]CRS{
	"wgs84": WGS84, "wgs-84": WGS84, "wgs 84": WGS84, "epsg:4326": WGS84, "4326": WGS84,
	"cgcs2000": CGCS2000, "cgcs-2000": CGCS2000, "epsg:4490": CGCS2000, "4490": CGCS2000,
	"gcj02": GCJ02, "gcj-02": GCJ02, "gcj": GCJ02,
	"bd09": BD09, "bd-09": BD09, "bd09ll": BD09,
}

// ParseCRS reads the name an import declares, case-insensitively, accepting
// the spellings users copy from map sites and GIS tools.
func ParseCRS(s string) (CRS, error) {
	key := strings.ToLower(strings.TrimSpace(s))
	if c, ok := crsAliases[key]; ok {
		return c, nil
	}
	return "", fmt.Errorf("unknown coordinate system %q: use wgs84 (epsg:4326), cgcs2000 (epsg:4490), gcj02 (gcj-02, Amap/Tencent) or bd09 (bd-09, Baidu)", s)
}

// ToWGS84 converts p ({lon, lat}) from c to WGS84. Unknown systems are
// treated as WGS84; ParseCRS is where a bad name is caught.
func ToWGS84(c CRS, p orb.Point) orb.Point {
	switch c {
	case GCJ02:
		return invert(wgsToGCJ, p, p)
	case BD09:
		return invert(wgsToBD, bdToGCJApprox(p), p)
	}
	return p
}

// FromWGS84 converts p ({lon, lat}) from WGS84 to c.
func FromWGS84(c CRS, p orb.Point) orb.Point {
	switch c {
	case GCJ02:
		return wgsToGCJ(p)
	case BD09:
		return wgsToBD(p)
	}
	return p
}

// GeometryToWGS84 returns a new geometry with every coordinate converted from
// c to WGS84. WGS84 and CGCS2000 input is returned as is, not copied.
func GeometryToWGS84(c CRS, g orb.Geometry) orb.Geometry {
	if c != GCJ02 && c != BD09 {
		return g
	}
	return mapGeometry(g, func(p orb.Point) orb.Point { return ToWGS84(c, p) })
}

// GeometryFromWGS84 is the inverse of GeometryToWGS84, for exports to users
// who paste coordinates back into Chinese web maps.
func GeometryFromWGS84(c CRS, g orb.Geometry) orb.Geometry {
	if c != GCJ02 && c != BD09 {
		return g
	}
	return mapGeometry(g, func(p orb.Point) orb.Point { return FromWGS84(c, p) })
}

func mapGeometry(g orb.Geometry, f func(orb.Point) orb.Point) orb.Geometry {
	mapPts := func(ps []orb.Point) []orb.Point {
		if ps == nil {
			return nil
		}
		out := make([]orb.Point, len(ps))
		for i, p := range ps {
			out[i] = f(p)
		}
		return out
	}
	switch g := g.(type) {
	case orb.Point:
		return f(g)
	case orb.MultiPoint:
		return orb.MultiPoint(mapPts(g))
	case orb.LineString:
		return orb.LineString(mapPts(g))
	case orb.Ring:
		return orb.Ring(mapPts(g))
	case orb.MultiLineString:
		if g == nil {
			return g
		}
		out := make(orb.MultiLineString, len(g))
		for i, ls := range g {
			out[i] = mapPts(ls)
		}
		return out
	case orb.Polygon:
		return mapPolygon(g, mapPts)
	case orb.MultiPolygon:
		if g == nil {
			return g
		}
		out := make(orb.MultiPolygon, len(g))
		for i, p := range g {
			out[i] = mapPolygon(p, mapPts)
		}
		return out
	case orb.Bound:
		// A converted box is no longer axis-aligned; its corners' box is the
		// closest Bound.
		return orb.MultiPoint(mapPts(g.ToRing())).Bound()
	case orb.Collection:
		if g == nil {
			return g
		}
		out := make(orb.Collection, len(g))
		for i, m := range g {
			out[i] = mapGeometry(m, f)
		}
		return out
	}
	return g
}

func mapPolygon(p orb.Polygon, mapPts func([]orb.Point) []orb.Point) orb.Polygon {
	if p == nil {
		return nil
	}
	out := make(orb.Polygon, len(p))
	for i, r := range p {
		out[i] = mapPts(r)
	}
	return out
}

// invert solves forward(w) = target by fixed-point iteration from guess. The
// offsets are smooth and change by under 1e-5 per degree of input, so each
// step gains several digits; the loop stops well below a millimetre.
func invert(forward func(orb.Point) orb.Point, guess, target orb.Point) orb.Point {
	w := guess
	for i := 0; i < 30; i++ {
		f := forward(w)
		dx, dy := target[0]-f[0], target[1]-f[1]
		w[0] += dx
		w[1] += dy
		if math.Abs(dx) < 1e-12 && math.Abs(dy) < 1e-12 {
			break
		}
	}
	return w
}

// GCJ-02 constants of the public reverse-engineered transform (Krasovsky 1940).
const (
	gcjA  = 6378245.0
	gcjEE = 0.00669342162296594323
	xPi   = math.Pi * 3000.0 / 180.0
)

// outOfChina is the public transform's own box: outside it GCJ-02 applies no
// offset, and matching it keeps foreign points untouched as map sites do.
func outOfChina(p orb.Point) bool {
	return p[0] < 72.004 || p[0] > 137.8347 || p[1] < 0.8293 || p[1] > 55.8271
}

func wgsToGCJ(p orb.Point) orb.Point {
	if outOfChina(p) {
		return p
	}
	lon, lat := p[0], p[1]
	dLat := gcjLat(lon-105, lat-35)
	dLon := gcjLon(lon-105, lat-35)
	radLat := lat / 180 * math.Pi
	magic := math.Sin(radLat)
	magic = 1 - gcjEE*magic*magic
	sqrtMagic := math.Sqrt(magic)
	dLat = dLat * 180 / ((gcjA * (1 - gcjEE)) / (magic * sqrtMagic) * math.Pi)
	dLon = dLon * 180 / (gcjA / sqrtMagic * math.Cos(radLat) * math.Pi)
	return orb.Point{lon + dLon, lat + dLat}
}

func gcjLat(x, y float64) float64 {
	r := -100 + 2*x + 3*y + 0.2*y*y + 0.1*x*y + 0.2*math.Sqrt(math.Abs(x))
	r += (20*math.Sin(6*x*math.Pi) + 20*math.Sin(2*x*math.Pi)) * 2 / 3
	r += (20*math.Sin(y*math.Pi) + 40*math.Sin(y/3*math.Pi)) * 2 / 3
	r += (160*math.Sin(y/12*math.Pi) + 320*math.Sin(y*math.Pi/30)) * 2 / 3
	return r
}

func gcjLon(x, y float64) float64 {
	r := 300 + x + 2*y + 0.1*x*x + 0.1*x*y + 0.1*math.Sqrt(math.Abs(x))
	r += (20*math.Sin(6*x*math.Pi) + 20*math.Sin(2*x*math.Pi)) * 2 / 3
	r += (20*math.Sin(x*math.Pi) + 40*math.Sin(x/3*math.Pi)) * 2 / 3
	r += (150*math.Sin(x/12*math.Pi) + 300*math.Sin(x/30*math.Pi)) * 2 / 3
	return r
}

func gcjToBD(p orb.Point) orb.Point {
	x, y := p[0], p[1]
	z := math.Sqrt(x*x+y*y) + 0.00002*math.Sin(y*xPi)
	theta := math.Atan2(y, x) + 0.000003*math.Cos(x*xPi)
	return orb.Point{z*math.Cos(theta) + 0.0065, z*math.Sin(theta) + 0.006}
}

// bdToGCJApprox is Baidu's published inverse, good to a few metres; ToWGS84
// uses it only as the starting guess.
func bdToGCJApprox(p orb.Point) orb.Point {
	x, y := p[0]-0.0065, p[1]-0.006
	z := math.Sqrt(x*x+y*y) - 0.00002*math.Sin(y*xPi)
	theta := math.Atan2(y, x) - 0.000003*math.Cos(x*xPi)
	return orb.Point{z * math.Cos(theta), z * math.Sin(theta)}
}

func wgsToBD(p orb.Point) orb.Point { return gcjToBD(wgsToGCJ(p)) }
