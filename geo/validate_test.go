package geo

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"
)

func sq(x0, y0, x1, y1 float64) orb.Ring {
	return orb.Ring{{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}, {x0, y0}}
}

func TestCheckRange(t *testing.T) {
	tests := []struct {
		name  string
		g     orb.Geometry
		kinds []error
		want  string
	}{
		{"ok", peoplesSquare, nil, ""},
		{"ok extremes", orb.LineString{{-180, -90}, {180, 90}}, nil, ""},
		{"NaN lon", orb.Point{math.NaN(), 31}, []error{ErrRange}, "not a finite number"},
		{"Inf lat in polygon", orb.Polygon{{{121, 31}, {121, math.Inf(1)}, {122, 31}, {121, 31}}}, []error{ErrRange}, "not a finite number"},
		{"lon > 180", orb.Point{181.5, 31}, []error{ErrRange}, "longitude 181.5 is out of range"},
		{"lat < -90 with lon out too", orb.Point{200, -91}, []error{ErrRange}, "longitude 200"},
		{"swapped", orb.Point{31.2304, 121.4737}, []error{ErrRange, ErrSwapped}, "coordinates look swapped: (31.2304, 121.4737) reads as lat, lon"},
		{"swapped in a line", orb.LineString{{121.47, 31.23}, {31.24, 121.48}}, []error{ErrSwapped}, "latitude 121.48"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckRange(tc.g)
			if tc.kinds == nil {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
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
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
		})
	}
}

func TestValidateGeometry(t *testing.T) {
	shell := sq(0, 0, 10, 10)
	tests := []struct {
		name string
		g    orb.Geometry
		kind error // nil: valid
		want string
	}{
		// Valid.
		{"point", orb.Point{121, 31}, nil, ""},
		{"multipoint", orb.MultiPoint{{121, 31}, {121, 31}}, nil, ""},
		{"line", orb.LineString{{121, 31}, {121.1, 31.1}}, nil, ""},
		{"line with repeated point", orb.LineString{{121, 31}, {121, 31}, {121.1, 31.1}}, nil, ""},
		{"self-crossing line is still valid", orb.LineString{{0, 0}, {2, 2}, {2, 0}, {0, 2}}, nil, ""},
		{"triangle", orb.Polygon{{{0, 0}, {1, 0}, {0, 1}, {0, 0}}}, nil, ""},
		{"square with repeated vertex", orb.Polygon{{{0, 0}, {1, 0}, {1, 0}, {1, 1}, {0, 1}, {0, 0}}}, nil, ""},
		{"polygon with hole", orb.Polygon{shell, sq(2, 2, 4, 4)}, nil, ""},
		{"hole touching shell once", orb.Polygon{shell, orb.Ring{{0, 5}, {3, 4}, {3, 6}, {0, 5}}}, nil, ""},
		{"two holes touching once", orb.Polygon{shell, sq(2, 2, 4, 4), sq(4, 4, 6, 6)}, nil, ""},
		{"multipolygon touching at a corner", orb.MultiPolygon{{sq(0, 0, 1, 1)}, {sq(1, 1, 2, 2)}}, nil, ""},
		{"island in a lake", orb.MultiPolygon{{shell, sq(2, 2, 8, 8)}, {sq(3, 3, 7, 7)}}, nil, ""},
		{"collection", orb.Collection{orb.Point{1, 1}, orb.Polygon{shell}}, nil, ""},

		// Empty.
		{"nil", nil, ErrEmpty, "missing"},
		{"empty line", orb.LineString{}, ErrEmpty, "line is empty"},
		{"empty polygon", orb.Polygon{}, ErrEmpty, "polygon is empty"},
		{"empty multipolygon", orb.MultiPolygon{}, ErrEmpty, "multi-polygon is empty"},
		{"empty member", orb.MultiPolygon{{shell}, {}}, ErrEmpty, "polygon 2 of the multi-polygon is empty"},

		// Range.
		{"NaN", orb.LineString{{121, 31}, {math.NaN(), 31}}, ErrRange, "not a finite number"},
		{"lon > 180", orb.Polygon{{{0, 0}, {190, 0}, {0, 1}, {0, 0}}}, ErrRange, "longitude 190"},

		// Lines.
		{"single-point line", orb.LineString{{121, 31}}, ErrInvalid, "single point"},
		{"line of one repeated point", orb.LineString{{121, 31}, {121, 31}, {121, 31}}, ErrInvalid, "all are the same"},
		{"multiline member of one point", orb.MultiLineString{{{0, 0}, {1, 1}}, {{2, 2}}}, ErrInvalid, "line 2 of the multi-line"},

		// Rings.
		{"unclosed ring", orb.Polygon{{{0, 0}, {1, 0}, {1, 1}, {0, 1}}}, ErrInvalid, "not closed"},
		{"3-point ring", orb.Polygon{{{0, 0}, {1, 0}, {0, 0}}}, ErrInvalid, "only 3 points"},
		{"2 distinct points", orb.Polygon{{{0, 0}, {1, 0}, {1, 0}, {0, 0}}}, ErrInvalid, "fewer than 3 distinct"},
		{"bow-tie", orb.Polygon{{{0, 0}, {2, 2}, {2, 0}, {0, 2}, {0, 0}}}, ErrInvalid, "shell crosses itself at (1, 1)"},
		{"spike back along itself", orb.Polygon{{{0, 0}, {4, 0}, {4, 4}, {4, 6}, {4, 5}, {0, 4}, {0, 0}}}, ErrInvalid, "doubles back"},
		{"spike at the closing vertex", orb.Polygon{{{0, 0}, {4, 0}, {4, 4}, {0, 4}, {0, -2}, {0, 0}}}, ErrInvalid, "doubles back"},
		{"figure eight touching itself", orb.Polygon{{{0, 0}, {2, 0}, {1, 1}, {2, 2}, {0, 2}, {1, 1}, {0, 0}}}, ErrInvalid, "touches itself at (1, 1)"},
		{"vertex on own edge", orb.Polygon{{{0, 0}, {4, 0}, {4, 4}, {2, 0}, {0, 4}, {0, 0}}}, ErrInvalid, "touches itself"},
		{"collinear overlap of non-adjacent edges", orb.Polygon{{{0, 0}, {4, 0}, {4, 2}, {3, 2}, {3, 0}, {1, 0}, {1, -1}, {0, -1}, {0, 0}}}, ErrInvalid, "shell"},

		// Rings of one polygon.
		{"hole outside shell", orb.Polygon{shell, sq(20, 20, 22, 22)}, ErrInvalid, "hole 1 lies outside the shell"},
		{"hole crossing shell", orb.Polygon{shell, sq(8, 8, 12, 12)}, ErrInvalid, "shell and hole 1 cross each other"},
		{"hole sharing an edge", orb.Polygon{shell, sq(0, 2, 3, 4)}, ErrInvalid, "run along the same edge"},
		{"hole touching shell twice", orb.Polygon{shell, orb.Ring{{0, 5}, {5, 2}, {10, 5}, {5, 8}, {0, 5}}}, ErrInvalid, "more than one point"},
		{"holes crossing", orb.Polygon{shell, sq(2, 2, 5, 5), sq(4, 4, 7, 7)}, ErrInvalid, "hole 1 and hole 2 cross"},
		{"hole inside hole", orb.Polygon{shell, sq(1, 1, 9, 9), sq(3, 3, 5, 5)}, ErrInvalid, "lies inside hole"},
		{"hole is the shell", orb.Polygon{shell, shell}, ErrInvalid, "same edge"},

		// Multipolygons.
		{"overlapping polygons", orb.MultiPolygon{{sq(0, 0, 2, 2)}, {sq(1, 1, 3, 3)}}, ErrInvalid, "cross each other"},
		{"nested polygons", orb.MultiPolygon{{sq(0, 0, 10, 10)}, {sq(1, 1, 3, 3)}}, ErrInvalid, "polygon 2 of the multi-polygon lies inside polygon 1"},
		{"polygons sharing an edge", orb.MultiPolygon{{sq(0, 0, 1, 1)}, {sq(1, 0, 2, 1)}}, ErrInvalid, "share an edge"},
		{"bad polygon in collection", orb.Collection{orb.Point{1, 1}, orb.Polygon{{{0, 0}, {2, 2}, {2, 0}, {0, 2}, {0, 0}}}}, ErrInvalid, "member 2: shell crosses itself"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateGeometry(tc.g)
			if tc.kind == nil {
				if err != nil {
					t.Fatalf("valid geometry rejected: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("invalid geometry accepted, want %v", tc.kind)
			}
			if !errors.Is(err, tc.kind) {
				t.Errorf("error %q does not wrap %v", err, tc.kind)
			}
			var ge *GeometryError
			if !errors.As(err, &ge) {
				t.Errorf("error %T is not a *GeometryError", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
		})
	}
}

// wobblyRing makes a simple ring of n vertices shaped like a coastline: the
// radius wanders smoothly around the angle, so edges are short and the ring,
// being star-shaped about its centre, can never cross itself.
func wobblyRing(n int, seed uint64) orb.Ring {
	rng := rand.New(rand.NewPCG(seed, 1))
	r := make(orb.Ring, 0, n+1)
	rad := 0.05
	for i := 0; i < n; i++ {
		a := 2 * math.Pi * float64(i) / float64(n)
		rad = math.Max(0.02, math.Min(0.08, rad+(rng.Float64()-0.5)*0.002))
		r = append(r, orb.Point{121.4 + rad*math.Cos(a), 31.2 + rad*math.Sin(a)})
	}
	return append(r, r[0])
}

// starRing is the hard case for any segment index: n spikes with random
// radii, so long edges pile up in every grid cell.
func starRing(n int, seed uint64) orb.Ring {
	rng := rand.New(rand.NewPCG(seed, 1))
	r := make(orb.Ring, 0, n+1)
	for i := 0; i < n; i++ {
		a := 2 * math.Pi * float64(i) / float64(n)
		rad := 0.05 * (0.6 + 0.4*rng.Float64())
		r = append(r, orb.Point{121.4 + rad*math.Cos(a), 31.2 + rad*math.Sin(a)})
	}
	return append(r, r[0])
}

func TestValidateLargeRing(t *testing.T) {
	ring := wobblyRing(10000, 3)
	hole := wobblyRing(2000, 4)
	for i := range hole {
		hole[i] = orb.Point{121.4 + (hole[i][0]-121.4)*0.2, 31.2 + (hole[i][1]-31.2)*0.2}
	}
	start := time.Now()
	if err := ValidateGeometry(orb.Polygon{ring, hole}); err != nil {
		t.Fatalf("valid 10,000-vertex polygon rejected: %v", err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("validating 12,000 vertices took %v, want < 100 ms", d)
	} else {
		t.Logf("12,000 vertices validated in %v", d)
	}
	// Swap two far-apart vertices: the ring now crosses itself.
	bad := append(orb.Ring(nil), ring...)
	bad[100], bad[5100] = bad[5100], bad[100]
	if err := ValidateGeometry(orb.Polygon{bad}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "crosses itself") {
		t.Fatalf("self-crossing 10,000-vertex ring: got %v", err)
	}
}

func TestValidateRealDistricts(t *testing.T) {
	areas := loadDistricts(t)
	for i, a := range areas {
		if err := ValidateGeometry(a); err != nil {
			t.Errorf("district %d: %v", i, err)
		}
	}
}

func TestValidateRealStreets(t *testing.T) {
	fc := readFeatures(t, "tests-only/street-polygons-251-unnamed.geojson")
	if len(fc.Features) != 251 {
		t.Fatalf("%d street polygons, want 251", len(fc.Features))
	}
	for i, f := range fc.Features {
		if err := ValidateGeometry(f.Geometry); err != nil {
			t.Errorf("street polygon %d: %v", i, err)
		}
	}
}

func BenchmarkValidate10kRing(b *testing.B) {
	p := orb.Polygon{wobblyRing(10000, 3)}
	for b.Loop() {
		if err := ValidateGeometry(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidate10kSpikes(b *testing.B) {
	p := orb.Polygon{starRing(10000, 3)}
	for b.Loop() {
		if err := ValidateGeometry(p); err != nil {
			b.Fatal(err)
		}
	}
}

func TestUSCC(t *testing.T) {
	build := func(first17 string) string {
		c, err := USCCCheckChar(first17)
		if err != nil {
			t.Fatalf("USCCCheckChar(%q): %v", first17, err)
		}
		return first17 + string(c)
	}
	tests := []struct {
		code string
		ok   bool
		want string
	}{
		// Published codes, each confirmed by its own check character.
		{"91350100M000100Y43", true, ""},
		{"91330100799655058B", true, ""}, // Alibaba (China) Co., Ltd.
		{"9144030071526726XG", true, ""}, // Shenzhen Tencent Computer Systems
		{"91110108551385082Q", true, ""}, // Xiaomi Technology
		// Built with USCCCheckChar: a Shanghai company, a social organisation,
		// an "other" registration.
		{build("91310000MA1FL8XQ3"), true, ""},
		{build("51310115MJ4960123"), true, ""},
		{build("Y1310000123456789"), true, ""},
		{"91310000MA1FL8XQ37", true, ""},

		{"91310000MA1FL8XQ30", false, "position 18: check character is '0', should be '7'"},
		{"91350100M000100Y44", false, "should be '3'"},
		{"91350100M000100Y4", false, "18 characters, got 17"},
		{"91350100M000100Y433", false, "18 characters, got 19"},
		{"", false, "got 0"},
		{"91350100I000100Y43", false, "position 9: the letter 'I'"},
		{"91350100M0O0100Y43", false, "position 11: the letter 'O'"},
		{"9135010ZM000100Y43", false, "position 8: the letter 'Z'"},
		{"91350100M000100S43", false, "position 16: the letter 'S'"},
		{"V1350100M000100Y43", false, "position 1: the letter 'V'"},
		{"91350100m000100y43", false, "position 9: lowercase 'm'"},
		{"91350100M000100Y4-", false, "position 18: '-'"},
		{"91350100M000100Y4统", false, "position 18"},
		{"B1350100M000100Y43", false, "position 1: 'B' is not a registration department"},
		{"9A350100M000100Y43", false, "position 2"},
		{"9135A100M000100Y43", false, "position 5"},
		{"91990100M000100Y43", false, "no province 99"},
	}
	for _, tc := range tests {
		t.Run(tc.code, func(t *testing.T) {
			err := CheckUSCC(tc.code)
			if tc.ok {
				if err != nil {
					t.Fatalf("valid code rejected: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("invalid code accepted")
			}
			if !errors.Is(err, ErrUSCC) {
				t.Errorf("%v does not wrap ErrUSCC", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
		})
	}
	if _, err := USCCCheckChar("9135010"); err == nil {
		t.Error("USCCCheckChar accepted 7 characters")
	}
	if c, _ := USCCCheckChar("91350100M000100Y4"); c != '3' {
		t.Errorf("USCCCheckChar = %q, want '3'", c)
	}
}
