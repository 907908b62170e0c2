package geo

import (
	"math"
	"testing"

	"github.com/paulmach/orb"
)

// haversineM is independent of the package's own distance helpers.
func haversineM(a, b orb.Point) float64 {
	const r = 6371008.8
	la1, la2 := a[1]*math.Pi/180, b[1]*math.Pi/180
	dLat := la2 - la1
	dLon := (b[0] - a[0]) * math.Pi / 180
	h := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(la1)*math.Cos(la2)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * r * math.Asin(math.Sqrt(h))
}

func TestParseCRS(t *testing.T) {
	tests := []struct {
		in      string
		want    CRS
		wantErr bool
	}{
		{"wgs84", WGS84, false},
		{"WGS84", WGS84, false},
		{"EPSG:4326", WGS84, false},
		{" epsg:4490 ", CGCS2000, false},
		{"CGCS2000", CGCS2000, false},
		{"gcj02", GCJ02, false},
		{"GCJ-02", GCJ02, false},
		{"bd09", BD09, false},
		{"BD-09", BD09, false},
		{"", "", true},
		{"epsg:3857", "", true},
		{"baidu mercator", "", true},
	}
	for _, tc := range tests {
		got, err := ParseCRS(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseCRS(%q) = %q, %v; want %q, err=%v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestKnownOffsets(t *testing.T) {
	tests := []struct {
		name string
		crs  CRS
		want orb.Point
	}{
		{"GCJ-02", GCJ02, orb.Point{121.4782, 31.2285}},
		{"BD-09", BD09, orb.Point{121.4848, 31.2343}},
		{"CGCS2000 identity", CGCS2000, peoplesSquare},
		{"WGS84 identity", WGS84, peoplesSquare},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := FromWGS84(tc.crs, peoplesSquare)
			if math.Abs(got[0]-tc.want[0]) > 1e-4 || math.Abs(got[1]-tc.want[1]) > 1e-4 {
				t.Fatalf("FromWGS84(%s, %v) = %v, want about %v", tc.crs, peoplesSquare, got, tc.want)
			}
		})
	}
	// Outside China GCJ-02 applies no offset.
	paris := orb.Point{2.35, 48.85}
	if got := FromWGS84(GCJ02, paris); got != paris {
		t.Fatalf("GCJ-02 moved Paris to %v", got)
	}
}

func TestRoundTripShanghai(t *testing.T) {
	const n = 60 // 3,600 points
	for _, c := range []CRS{GCJ02, BD09, CGCS2000} {
		maxErr, maxOff := 0.0, 0.0
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				w := orb.Point{120.85 + 1.40*float64(i)/(n-1), 30.40 + 1.50*float64(j)/(n-1)}
				shifted := FromWGS84(c, w)
				back := ToWGS84(c, shifted)
				maxErr = math.Max(maxErr, haversineM(w, back))
				maxOff = math.Max(maxOff, haversineM(w, shifted))
				// And the other way: a coordinate read off a map converts to a
				// WGS84 point that maps back onto it.
				again := FromWGS84(c, ToWGS84(c, w))
				maxErr = math.Max(maxErr, haversineM(w, again))
			}
		}
		t.Logf("%s: max offset %.1f m, max round-trip error %.2e m", c, maxOff, maxErr)
		if maxErr > 0.01 {
			t.Errorf("%s round trip error %.4f m, want < 1 cm", c, maxErr)
		}
		switch c {
		case CGCS2000:
			if maxOff != 0 {
				t.Errorf("CGCS2000 not identity: offset %.3f m", maxOff)
			}
		default:
			if maxOff < 300 || maxOff > 1500 {
				t.Errorf("%s offset %.0f m is implausible", c, maxOff)
			}
		}
	}
}

func TestGeometryToWGS84(t *testing.T) {
	poly := orb.Polygon{{{121.47, 31.23}, {121.48, 31.23}, {121.48, 31.24}, {121.47, 31.23}}}
	for _, c := range []CRS{GCJ02, BD09} {
		g := GeometryToWGS84(c, orb.Collection{peoplesSquare, orb.LineString{{121.4, 31.2}, {121.5, 31.3}}, poly})
		col := g.(orb.Collection)
		if p := col[0].(orb.Point); p != ToWGS84(c, peoplesSquare) {
			t.Errorf("%s: point %v", c, p)
		}
		if ls := col[1].(orb.LineString); ls[1] != ToWGS84(c, orb.Point{121.5, 31.3}) {
			t.Errorf("%s: line %v", c, ls)
		}
		if pg := col[2].(orb.Polygon); pg[0][2] != ToWGS84(c, poly[0][2]) {
			t.Errorf("%s: polygon %v", c, pg)
		}
		if poly[0][0] != (orb.Point{121.47, 31.23}) {
			t.Fatalf("%s: input modified", c)
		}
	}
	if g := GeometryToWGS84(CGCS2000, poly); g.(orb.Polygon)[0][0] != poly[0][0] {
		t.Errorf("CGCS2000 changed the geometry")
	}
}
