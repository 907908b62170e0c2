package geo

import (
	"encoding/csv"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
	"github.com/paulmach/orb/planar"
)

const sharedData = "../../shared/data/"

func readFeatures(t testing.TB, path string) *geojson.FeatureCollection {
	t.Helper()
	raw, err := os.ReadFile(sharedData + path)
	if err != nil {
		t.Skipf("shared data not available: %v", err)
	}
	fc, err := geojson.UnmarshalFeatureCollection(raw)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return fc
}

func loadDistricts(t testing.TB) []orb.MultiPolygon {
	t.Helper()
	fc := readFeatures(t, "shanghai-districts.geojson")
	var out []orb.MultiPolygon
	for _, f := range fc.Features {
		switch g := f.Geometry.(type) {
		case orb.Polygon:
			out = append(out, orb.MultiPolygon{g})
		case orb.MultiPolygon:
			out = append(out, g)
		default:
			t.Fatalf("district %v is a %T", f.Properties["en"], g)
		}
	}
	if len(out) != 16 {
		t.Fatalf("%d districts, want 16", len(out))
	}
	return out
}

var (
	regionOnce sync.Once
	regions    map[float64]*Region
)

func districtRegion(t testing.TB, tol float64) *Region {
	areas := loadDistricts(t)
	regionOnce.Do(func() {
		regions = map[float64]*Region{}
		for _, tol := range []float64{0, 100, 500} {
			regions[tol] = NewRegion(areas, tol)
		}
	})
	return regions[tol]
}

// refContains is the slow exact answer: inside some district, or within tol
// metres of a district boundary.
func refContains(areas []orb.MultiPolygon, p orb.Point, tol float64) (bool, float64) {
	best := math.Inf(1)
	for _, a := range areas {
		if planar.MultiPolygonContains(a, p) {
			return true, 0
		}
		for _, poly := range a {
			for _, r := range poly {
				for i := 1; i < len(r); i++ {
					best = math.Min(best, refSegDist(p, r[i-1], r[i]))
				}
			}
		}
	}
	return best <= tol, best
}

func refSegDist(p, a, b orb.Point) float64 {
	k := metresPerDegLon * math.Cos(p[1]*math.Pi/180)
	ax, ay := (a[0]-p[0])*k, (a[1]-p[1])*metresPerDegLat
	bx, by := (b[0]-p[0])*k, (b[1]-p[1])*metresPerDegLat
	return math.Sqrt(planar.DistanceFromSegmentSquared(orb.Point{ax, ay}, orb.Point{bx, by}, orb.Point{}))
}

// offshore returns a point dist metres due east of the easternmost district
// vertex: nothing of Shanghai lies east of that vertex, so the point is
// exactly dist metres from the land.
func offshore(areas []orb.MultiPolygon, dist float64) orb.Point {
	var east orb.Point
	east[0] = math.Inf(-1)
	for _, a := range areas {
		for _, p := range a {
			for _, v := range p[0] {
				if v[0] > east[0] {
					east = v
				}
			}
		}
	}
	return orb.Point{east[0] + dist/(metresPerDegLon*math.Cos(east[1]*math.Pi/180)), east[1]}
}

func TestRegionShanghai(t *testing.T) {
	areas := loadDistricts(t)
	off300 := offshore(areas, 300)
	tests := []struct {
		name string
		tol  float64
		p    orb.Point
		want bool
	}{
		{"People's Square", 500, peoplesSquare, true},
		{"People's Square, no tolerance", 0, peoplesSquare, true},
		{"Chongming island", 0, orb.Point{121.40, 31.62}, true},
		{"Jinshan", 100, orb.Point{121.34, 30.75}, true},
		{"East China Sea", 500, orb.Point{122.30, 31.00}, false},
		{"Suzhou, Jiangsu", 500, orb.Point{120.62, 31.30}, false},
		{"Jiaxing, Zhejiang", 500, orb.Point{120.75, 30.75}, false},
		{"swapped People's Square", 500, orb.Point{31.2304, 121.4737}, false},
		{"300 m off the coast, tolerance 500", 500, off300, true},
		{"300 m off the coast, tolerance 100", 100, off300, false},
		{"300 m off the coast, tolerance 0", 0, off300, false},
		{"NaN", 500, orb.Point{math.NaN(), 31}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := districtRegion(t, tc.tol)
			if got := r.Contains(tc.p); got != tc.want {
				t.Fatalf("Contains(%v) with tolerance %v = %v, want %v", tc.p, tc.tol, got, tc.want)
			}
			if !math.IsNaN(tc.p[0]) {
				if ref, _ := refContains(areas, tc.p, tc.tol); ref != tc.want {
					t.Fatalf("reference disagrees with the expectation for %v", tc.p)
				}
			}
		})
	}
}

func TestRegionMatchesBruteForce(t *testing.T) {
	areas := loadDistricts(t)
	rng := rand.New(rand.NewPCG(11, 12))
	var pts []orb.Point
	for i := 0; i < 6000; i++ {
		pts = append(pts, orb.Point{120.8 + rng.Float64()*1.5, 30.6 + rng.Float64()*1.35})
	}
	// And points crowded around the boundaries, where edge cells matter.
	for i := 0; i < 6000; i++ {
		a := areas[rng.IntN(len(areas))]
		ring := a[rng.IntN(len(a))][0]
		v := ring[rng.IntN(len(ring))]
		pts = append(pts, orb.Point{v[0] + (rng.Float64()-0.5)*0.02, v[1] + (rng.Float64()-0.5)*0.02})
	}
	type ref struct {
		inside bool
		dist   float64
	}
	refs := make([]ref, len(pts))
	for i, p := range pts {
		in, d := refContains(areas, p, 0)
		refs[i] = ref{in, d}
	}
	for _, tol := range []float64{0, 100, 500} {
		r := districtRegion(t, tol)
		in, edgeHits := 0, 0
		for i, p := range pts {
			want := refs[i].inside || refs[i].dist <= tol
			if got := r.Contains(p); got != want && math.Abs(refs[i].dist-tol) > 0.05 {
				t.Fatalf("tolerance %v: Contains(%v) = %v, reference %v (%.2f m from a boundary)", tol, p, got, want, refs[i].dist)
			}
			if want {
				in++
			}
			if fx, fy := (p[0]-r.x0)/r.dx, (p[1]-r.y0)/r.dy; fx >= 0 && fy >= 0 && int(fx) < r.nx && int(fy) < r.ny {
				if r.state[int(fy)*r.nx+int(fx)] >= 0 {
					edgeHits++
				}
			}
		}
		if in < 2000 || in > 10000 {
			t.Fatalf("tolerance %v: %d of %d points inside, implausible", tol, in, len(pts))
		}
		t.Logf("tolerance %v m: %d cells, %d edge cells, %d of %d test points inside, %d took the exact path",
			tol, len(r.state), len(r.edges), in, len(pts), edgeHits)
	}
}

func TestRegionCheck(t *testing.T) {
	r := districtRegion(t, 500)
	off := orb.Point{122.30, 31.00}
	tests := []struct {
		name  string
		g     orb.Geometry
		kinds []error
		want  string
	}{
		{"point inside", peoplesSquare, nil, ""},
		{"line inside", orb.LineString{peoplesSquare, {121.5, 31.25}}, nil, ""},
		{"swapped point", orb.Point{31.2304, 121.4737}, []error{ErrSwapped}, "coordinates look swapped: (31.2304, 121.4737) reads as lat, lon"},
		{"swapped polygon", orb.Polygon{{{31.23, 121.47}, {31.23, 121.48}, {31.24, 121.48}, {31.23, 121.47}}}, []error{ErrSwapped}, "look swapped"},
		{"outside", off, []error{ErrOutside}, "outside Shanghai (beyond the district boundaries and their shore tolerance) at (122.3, 31)"},
		{"line leaving Shanghai", orb.LineString{peoplesSquare, {121.6, 31.2}, off, {121.5, 31.1}}, []error{ErrOutside}, "at (122.3, 31)"},
		{"NaN", orb.Point{math.NaN(), 31}, []error{ErrRange}, "not a finite number"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := r.Check(tc.g)
			if tc.kinds == nil {
				if err != nil {
					t.Fatalf("unexpected %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, k := range tc.kinds {
				if !errors.Is(err, k) {
					t.Errorf("%v does not wrap %v", err, k)
				}
			}
			if errors.Is(err, ErrOutside) && errors.Is(err, ErrSwapped) {
				t.Errorf("%v wraps both ErrOutside and ErrSwapped", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
		})
	}
}

func TestShanghaiBound(t *testing.T) {
	areas := loadDistricts(t)
	box := BoundRegion(ShanghaiBound())
	for _, a := range areas {
		for _, p := range a {
			for _, v := range p[0] {
				if !box.Contains(v) {
					t.Fatalf("district vertex %v outside ShanghaiBound", v)
				}
			}
		}
	}
	tests := []struct {
		p    orb.Point
		want bool
	}{
		{peoplesSquare, true},
		{orb.Point{122.24, 31.42}, true}, // Sheshan island
		{orb.Point{122.05, 30.63}, true}, // Yangshan port
		{orb.Point{122.30, 31.00}, false},
		{orb.Point{31.2304, 121.4737}, false},
		{orb.Point{116.40, 39.90}, false},
	}
	for _, tc := range tests {
		if got := box.Contains(tc.p); got != tc.want {
			t.Errorf("ShanghaiBound Contains(%v) = %v, want %v", tc.p, got, tc.want)
		}
	}
	if err := box.Check(orb.Point{31.2304, 121.4737}); !errors.Is(err, ErrSwapped) {
		t.Errorf("box Check of swapped point: %v", err)
	}
}

// Real label points of Shanghai's streets and towns (OSM) must all be inside.
func TestRegionStreetLabels(t *testing.T) {
	f, err := os.Open(sharedData + "shanghai-streets.csv")
	if err != nil {
		t.Skipf("shared data not available: %v", err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	r := districtRegion(t, 0)
	n := 0
	for _, row := range rows[1:] {
		lon, err1 := strconv.ParseFloat(row[5], 64)
		lat, err2 := strconv.ParseFloat(row[6], 64)
		if err1 != nil || err2 != nil {
			continue // zones without a label point
		}
		n++
		if err := r.Check(orb.Point{lon, lat}); err != nil {
			t.Errorf("%s %s: %v", row[0], row[1], err)
		}
	}
	if n < 200 {
		t.Fatalf("only %d label points", n)
	}
}

// Baidu petrol stations copied off Baidu Maps: converted from BD-09 they
// should sit next to the petrol stations OpenStreetMap has (WGS84), and
// unconverted they should not.
func TestBD09PetrolStations(t *testing.T) {
	baidu := readFeatures(t, "tests-only/baidu-petrol-stations-bd09.geojson")
	osm := readFeatures(t, "osm/fuel-stations.geojson")
	var osmPts []orb.Point
	for _, f := range osm.Features {
		if p, ok := f.Geometry.(orb.Point); ok {
			osmPts = append(osmPts, p)
		}
	}
	nearest := func(p orb.Point) float64 {
		best := math.Inf(1)
		for _, q := range osmPts {
			best = math.Min(best, haversineM(p, q))
		}
		return best
	}
	region := districtRegion(t, 500)
	var raw, conv []float64
	inside := 0
	for _, f := range baidu.Features {
		p, ok := f.Geometry.(orb.Point)
		if !ok {
			continue
		}
		w := ToWGS84(BD09, p)
		if region.Contains(w) {
			inside++
		}
		raw = append(raw, nearest(p))
		conv = append(conv, nearest(w))
	}
	// Count stations that match an OSM station within 60 m: a real match
	// is a few metres off, the BD-09 offset in Shanghai is ~1 km.
	match := func(d []float64) int {
		n := 0
		for _, v := range d {
			if v < 60 {
				n++
			}
		}
		return n
	}
	sort.Float64s(conv)
	t.Logf("%d Baidu stations, %d inside Shanghai after conversion; OSM matches within 60 m: %d converted, %d raw",
		len(conv), inside, match(conv), match(raw))
	if len(conv) < 400 || inside < len(conv)*9/10 {
		t.Fatalf("only %d of %d converted stations inside Shanghai", inside, len(conv))
	}
	if match(conv) < 15 || match(conv) < 4*match(raw) {
		t.Fatalf("conversion does not line Baidu up with OSM: %d vs %d raw matches", match(conv), match(raw))
	}
}

func BenchmarkRegionContains(b *testing.B) {
	r := districtRegion(b, 500)
	rng := rand.New(rand.NewPCG(5, 6))
	pts := make([]orb.Point, 1<<16)
	for i := range pts {
		pts[i] = orb.Point{
			ShanghaiBound().Min[0] + rng.Float64()*(ShanghaiBound().Max[0]-ShanghaiBound().Min[0]),
			ShanghaiBound().Min[1] + rng.Float64()*(ShanghaiBound().Max[1]-ShanghaiBound().Min[1]),
		}
	}
	b.ResetTimer()
	n := 0
	for i := 0; b.Loop(); i++ {
		if r.Contains(pts[i&(len(pts)-1)]) {
			n++
		}
	}
	_ = n
}

func BenchmarkNewRegion(b *testing.B) {
	areas := loadDistricts(b)
	for b.Loop() {
		NewRegion(areas, 500)
	}
}
