package geo

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
	"github.com/uber/h3-go/v4"
)

var peoplesSquare = orb.Point{121.4737, 31.2304}

func TestPointCellPublished(t *testing.T) {
	tests := []struct {
		name string
		p    orb.Point
		res  int
		want h3.Cell
	}{
		// h3 / h3-go documentation example.
		{"h3 docs San Francisco", orb.Point{-122.41795063018799, 37.775938728915946}, 9, 0x8928308280fffff},
		// Snowflake H3_LATLNG_TO_CELL docs: Brandenburg Gate at res 8.
		{"snowflake Brandenburg Gate", orb.Point{13.377704, 52.516262}, 8, 613036919424548863},
		// Databricks h3_longlatash3 docs.
		{"databricks (100, 45) res 6", orb.Point{100, 45}, 6, 604116085645508607},
		{"databricks Golden Gate res 13", orb.Point{-122.4783, 37.8199}, 13, 635714569676958015},
		// Shanghai, computed with h3-go v4.1.0 and checked below to contain the point.
		{"People's Square", peoplesSquare, 9, 0x89309959d73ffff},
		{"Lujiazui", orb.Point{121.4998, 31.2397}, SupervisionRes, PointCell(orb.Point{121.4998, 31.2397}, 9)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := PointCell(tc.p, tc.res)
			if got != tc.want {
				t.Fatalf("PointCell(%v, %d) = %s, want %s", tc.p, tc.res, got, tc.want)
			}
			if got.Resolution() != tc.res {
				t.Fatalf("resolution %d, want %d", got.Resolution(), tc.res)
			}
			poly := CellPolygon(got)
			if r := poly[0]; len(r) < 7 || r[0] != r[len(r)-1] {
				t.Fatalf("CellPolygon not a closed hexagon: %v", r)
			}
			if !planar.PolygonContains(poly, tc.p) {
				t.Fatalf("CellPolygon(%s) does not contain %v", got, tc.p)
			}
		})
	}
	if s := PointCell(peoplesSquare, SupervisionRes).String(); s != "89309959d73ffff" {
		t.Fatalf("People's Square res 9 = %s, want 89309959d73ffff", s)
	}
}

// sqlParent is the formula docs/DESIGN.md has SQL use instead of an h3 extension.
func sqlParent(h int64, r int) int64 {
	return (h &^ (15 << 52)) | (int64(r) << 52) | ((1 << (3 * (15 - r))) - 1)
}

func TestParentMatchesSQLFormula(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	n := 0
	for i := 0; i < 2000; i++ {
		p := orb.Point{120.85 + rng.Float64()*1.4, 30.40 + rng.Float64()*1.5}
		if i%10 == 0 { // and some far-away cells, other base cells and faces
			p = orb.Point{rng.Float64()*360 - 180, rng.Float64()*170 - 85}
		}
		c := PointCell(p, SupervisionRes)
		for r := 0; r <= SupervisionRes; r++ {
			want := c.Parent(r)
			if got := sqlParent(int64(c), r); got != int64(want) {
				t.Fatalf("cell %s r=%d: formula %x, h3 Parent %s", c, r, got, want)
			}
			n++
		}
	}
	if n != 2000*10 {
		t.Fatalf("checked %d parents", n)
	}
}

// square returns a closed axis-aligned square of side metres centred on c.
func square(c orb.Point, side float64) orb.Polygon {
	dx := side / 2 / (metresPerDegLon * math.Cos(c[1]*math.Pi/180))
	dy := side / 2 / metresPerDegLat
	return orb.Polygon{{
		{c[0] - dx, c[1] - dy}, {c[0] + dx, c[1] - dy}, {c[0] + dx, c[1] + dy},
		{c[0] - dx, c[1] + dy}, {c[0] - dx, c[1] - dy},
	}}
}

func TestSmallPolygonGetsCell(t *testing.T) {
	ps := PointCell(peoplesSquare, 9)
	hex := CellPolygon(ps)[0]
	// A vertex of the People's Square cell: a square centred there overlaps
	// the three cells meeting at it.
	vertex := hex[0]
	tests := []struct {
		name     string
		poly     orb.Polygon
		minCells int
		mustHave h3.Cell
	}{
		{"30 m square at People's Square", square(peoplesSquare, 30), 1, ps},
		{"30 m square off centre", square(orb.Point{121.4745, 31.2299}, 30), 1, PointCell(orb.Point{121.4745, 31.2299}, 9)},
		{"30 m square on a cell vertex", square(vertex, 30), 3, ps},
		{"1 m square", square(orb.Point{121.3001, 31.1002}, 1), 1, PointCell(orb.Point{121.3001, 31.1002}, 9)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Cells(tc.poly, 9)
			if len(got) < tc.minCells {
				t.Fatalf("got %d cells %v, want >= %d", len(got), got, tc.minCells)
			}
			if !slices.Contains(got, tc.mustHave) {
				t.Fatalf("cells %v lack %s", got, tc.mustHave)
			}
			checkCellsExact(t, tc.poly, got)
		})
	}
}

func TestCellsPointsAndSorted(t *testing.T) {
	a, b := peoplesSquare, orb.Point{121.5, 31.3}
	tests := []struct {
		name string
		g    orb.Geometry
		want []h3.Cell
	}{
		{"point", a, []h3.Cell{PointCell(a, 9)}},
		{"multipoint with duplicate", orb.MultiPoint{b, a, b}, sortedCells(PointCell(a, 9), PointCell(b, 9))},
		{"nil", nil, []h3.Cell{}},
		{"empty line", orb.LineString{}, []h3.Cell{}},
		{"degenerate line", orb.LineString{a, a}, []h3.Cell{PointCell(a, 9)}},
		// Bad coordinates are skipped, not handed to h3 (which would hang or
		// return garbage); ValidateGeometry is where they are rejected.
		{"NaN point", orb.Point{math.NaN(), 31}, []h3.Cell{}},
		{"line with a NaN vertex", orb.LineString{{math.NaN(), 31}, a}, []h3.Cell{PointCell(a, 9)}},
		{"line across the antimeridian", orb.LineString{{179.99, 0}, {-179.99, 0}},
			sortedCells(PointCell(orb.Point{179.99, 0}, 9), PointCell(orb.Point{-179.99, 0}, 9))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Cells(tc.g, 9)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("Cells = %v, want %v", got, tc.want)
			}
		})
	}
}

func sortedCells(cs ...h3.Cell) []h3.Cell {
	slices.Sort(cs)
	return slices.Compact(cs)
}

func pipeline20km() orb.LineString {
	// A gently winding line from Minhang towards Pudong, ~20 km long.
	var ls orb.LineString
	for i := 0; i <= 40; i++ {
		f := float64(i) / 40
		ls = append(ls, orb.Point{121.33 + 0.20*f, 31.10 + 0.03*f + 0.004*math.Sin(f*9)})
	}
	return ls
}

func TestPipelineChain(t *testing.T) {
	ls := pipeline20km()
	if l := lengthM(ls); l < 19000 || l > 23000 {
		t.Fatalf("test line is %.0f m, want about 20 km", l)
	}
	path := LinePath(ls, 9)
	if len(path) < 50 {
		t.Fatalf("only %d cells along 20 km", len(path))
	}
	if path[0] != PointCell(ls[0], 9) || path[len(path)-1] != PointCell(ls[len(ls)-1], 9) {
		t.Fatalf("path does not start and end at the endpoint cells")
	}
	for i := 1; i < len(path); i++ {
		if !path[i-1].IsNeighbor(path[i]) {
			t.Fatalf("path[%d]=%s and path[%d]=%s are not neighbours", i-1, path[i-1], i, path[i])
		}
	}
	cells := Cells(ls, 9)
	if !slices.Equal(sortedCells(slices.Clone(path)...), cells) {
		t.Fatalf("LinePath covers %d distinct cells, Cells %d", len(sortedCells(slices.Clone(path)...)), len(cells))
	}
	for _, c := range cells {
		if !hexMeetsLine(CellPolygon(c)[0], ls) {
			t.Fatalf("cell %s does not meet the line", c)
		}
	}
}

func lengthM(ls orb.LineString) float64 {
	s := 0.0
	for i := 1; i < len(ls); i++ {
		s += localDist(ls[i-1], ls[i])
	}
	return s
}

// The brute-force checks below use their own intersection predicate (segment
// crossing plus point-in-ring from orb), not the clipping code under test.

func orient(a, b, c orb.Point) float64 {
	return (b[0]-a[0])*(c[1]-a[1]) - (b[1]-a[1])*(c[0]-a[0])
}

func onSeg(a, b, p orb.Point) bool {
	return math.Min(a[0], b[0]) <= p[0] && p[0] <= math.Max(a[0], b[0]) &&
		math.Min(a[1], b[1]) <= p[1] && p[1] <= math.Max(a[1], b[1])
}

func segsMeet(a, b, c, d orb.Point) bool {
	o1, o2, o3, o4 := orient(a, b, c), orient(a, b, d), orient(c, d, a), orient(c, d, b)
	if ((o1 > 0 && o2 < 0) || (o1 < 0 && o2 > 0)) && ((o3 > 0 && o4 < 0) || (o3 < 0 && o4 > 0)) {
		return true
	}
	return (o1 == 0 && onSeg(a, b, c)) || (o2 == 0 && onSeg(a, b, d)) ||
		(o3 == 0 && onSeg(c, d, a)) || (o4 == 0 && onSeg(c, d, b))
}

func hexMeetsLine(hex orb.Ring, ls orb.LineString) bool {
	for _, p := range ls {
		if planar.RingContains(hex, p) {
			return true
		}
	}
	for i := 1; i < len(ls); i++ {
		for j := 1; j < len(hex); j++ {
			if segsMeet(ls[i-1], ls[i], hex[j-1], hex[j]) {
				return true
			}
		}
	}
	return false
}

func hexMeetsPolygon(hex orb.Ring, p orb.Polygon) bool {
	for _, r := range p {
		if hexMeetsLine(hex, orb.LineString(r)) {
			return true
		}
	}
	return planar.PolygonContains(p, hex[0])
}

func checkCellsExact(t *testing.T, g orb.Geometry, got []h3.Cell) {
	t.Helper()
	center := g.Bound().Center()
	radius := 0.0
	for _, q := range []orb.Point{g.Bound().Min, g.Bound().Max} {
		radius = math.Max(radius, localDist(center, q))
	}
	k := int(radius/250) + 3
	disk := h3.GridDisk(PointCell(center, 9), k)
	inDisk := map[h3.Cell]bool{}
	for _, c := range disk {
		inDisk[c] = true
	}
	gotSet := map[h3.Cell]bool{}
	for _, c := range got {
		if !inDisk[c] {
			t.Fatalf("cell %s is outside the disk of radius %d around the geometry", c, k)
		}
		gotSet[c] = true
	}
	for _, c := range disk {
		hex := CellPolygon(c)[0]
		var meets bool
		switch g := g.(type) {
		case orb.LineString:
			meets = hexMeetsLine(hex, g)
		case orb.Polygon:
			meets = hexMeetsPolygon(hex, g)
		case orb.MultiPolygon:
			for _, p := range g {
				meets = meets || hexMeetsPolygon(hex, p)
			}
		default:
			t.Fatalf("unsupported %T", g)
		}
		if meets != gotSet[c] {
			t.Fatalf("cell %s: hexagon meets geometry = %v, returned = %v", c, meets, gotSet[c])
		}
	}
}

func TestCellsBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	randPt := func() orb.Point {
		return orb.Point{121.1 + rng.Float64()*0.7, 30.9 + rng.Float64()*0.6}
	}
	for i := 0; i < 40; i++ {
		// Random polylines of 2-6 vertices within ~3 km.
		start := randPt()
		ls := orb.LineString{start}
		for j := rng.IntN(5); j >= 0; j-- {
			last := ls[len(ls)-1]
			ls = append(ls, orb.Point{last[0] + (rng.Float64()-0.5)*0.02, last[1] + (rng.Float64()-0.5)*0.02})
		}
		checkCellsExact(t, ls, Cells(ls, 9))
	}
	for i := 0; i < 40; i++ {
		// Random star-shaped polygons from 20 m to 2 km across, some with a hole.
		c := randPt()
		r := 0.0002 + rng.Float64()*rng.Float64()*0.01
		n := 3 + rng.IntN(12)
		var shell orb.Ring
		for j := 0; j < n; j++ {
			a := 2 * math.Pi * float64(j) / float64(n)
			rr := r * (0.5 + rng.Float64()*0.5)
			shell = append(shell, orb.Point{c[0] + rr*math.Cos(a), c[1] + rr*math.Sin(a)})
		}
		shell = append(shell, shell[0])
		poly := orb.Polygon{shell}
		if i%3 == 0 {
			h := r * 0.3
			poly = append(poly, orb.Ring{{c[0] - h, c[1] - h}, {c[0] - h, c[1] + h}, {c[0] + h, c[1] + h}, {c[0] + h, c[1] - h}, {c[0] - h, c[1] - h}})
		}
		checkCellsExact(t, poly, Cells(poly, 9))
	}
}

// Real street and town polygons (tests-only data): a sample checked cell by
// cell against the brute-force predicate.
func TestCellsRealStreets(t *testing.T) {
	fc := readFeatures(t, "tests-only/street-polygons-251-unnamed.geojson")
	for i := 0; i < len(fc.Features); i += 50 {
		g := fc.Features[i].Geometry
		got := Cells(g, 9)
		if len(got) == 0 {
			t.Fatalf("street polygon %d has no cells", i)
		}
		checkCellsExact(t, g, got)
	}
}

func TestCellsDistrictPolygonCovers(t *testing.T) {
	// A 3 km square: every cell whose centre is inside must be returned, and
	// the count must be near area / cell area.
	sq := square(peoplesSquare, 3000)
	got := Cells(sq, 9)
	checkCellsExact(t, sq, got)
	if len(got) < 90 || len(got) > 200 {
		t.Fatalf("3 km square has %d res-9 cells, want ~110-150", len(got))
	}
}

func TestRepresentativePoint(t *testing.T) {
	// A U shape whose centroid falls in the notch.
	u := orb.Polygon{{{0, 0}, {3, 0}, {3, 3}, {2, 3}, {2, 1}, {1, 1}, {1, 3}, {0, 3}, {0, 0}}}
	withHole := orb.Polygon{
		{{0, 0}, {4, 0}, {4, 4}, {0, 4}, {0, 0}},
		{{1, 1}, {3, 1}, {3, 3}, {1, 3}, {1, 1}},
	}
	tests := []struct {
		name   string
		g      orb.Geometry
		want   *orb.Point
		inside orb.Polygon
	}{
		{"point", peoplesSquare, &peoplesSquare, nil},
		{"line half length", orb.LineString{{121, 31}, {121, 31.1}, {121, 31.3}}, &orb.Point{121, 31.15}, nil},
		{"square centroid", orb.Polygon{{{0, 0}, {2, 0}, {2, 2}, {0, 2}, {0, 0}}}, &orb.Point{1, 1}, nil},
		{"U shape", u, nil, u},
		{"hole at centroid", withHole, nil, withHole},
		{"multipolygon picks largest", orb.MultiPolygon{square(orb.Point{121, 31}, 10), u}, nil, u},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := RepresentativePoint(tc.g)
			if tc.want != nil && (math.Abs(got[0]-tc.want[0]) > 1e-9 || math.Abs(got[1]-tc.want[1]) > 1e-9) {
				t.Fatalf("got %v, want %v", got, *tc.want)
			}
			if tc.inside != nil && !planar.PolygonContains(tc.inside, got) {
				t.Fatalf("%v is not inside the polygon", got)
			}
		})
	}
}

func BenchmarkPointCell(b *testing.B) {
	p := peoplesSquare
	for i := 0; b.Loop(); i++ {
		p[0] = 121.4 + float64(i%1000)*1e-4
		PointCell(p, SupervisionRes)
	}
}

func BenchmarkCellsLine20km(b *testing.B) {
	ls := pipeline20km()
	for b.Loop() {
		Cells(ls, SupervisionRes)
	}
}

// clearCellShapes empties the process-wide hexagon and neighbour cache.
func clearCellShapes() {
	cellShapes.hex.Clear()
	cellShapes.nbrs.Clear()
	cellShapes.nHex.Store(0)
	cellShapes.nNbrs.Store(0)
}

// The hexagons and neighbour lists are shared by all geometries and goroutines: Cells
// must give the same answer from a cold cache, a warm one, from goroutines filling it at
// once, and past its size limit (when cells are computed each time).
func TestCellsSharedShapes(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var geoms []orb.Geometry
	for i := 0; i < 40; i++ {
		var ls orb.LineString
		p := orb.Point{121.2 + r.Float64()*0.5, 31.0 + r.Float64()*0.3}
		for j := 0; j < 20; j++ {
			ls = append(ls, p)
			p = orb.Point{p[0] + (r.Float64()-0.5)*0.01, p[1] + (r.Float64()-0.5)*0.01}
		}
		geoms = append(geoms, ls)
		geoms = append(geoms, orb.Polygon{closeRing(orb.Ring(ls[:8]))})
	}
	clearCellShapes()
	cold := make([][]h3.Cell, len(geoms))
	for i, g := range geoms {
		cold[i] = Cells(g, SupervisionRes)
	}
	if cellShapes.nHex.Load() == 0 || cellShapes.nNbrs.Load() == 0 {
		t.Fatal("nothing cached")
	}
	check := func(what string, got [][]h3.Cell) {
		t.Helper()
		for i := range geoms {
			if !slices.Equal(got[i], cold[i]) {
				t.Fatalf("%s: geometry %d: %d cells, cold cache %d", what, i, len(got[i]), len(cold[i]))
			}
		}
	}
	warm := make([][]h3.Cell, len(geoms))
	for i, g := range geoms {
		warm[i] = Cells(g, SupervisionRes)
	}
	check("warm", warm)

	clearCellShapes()
	par := make([][]h3.Cell, len(geoms))
	var wg sync.WaitGroup
	var next atomic.Int64
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < len(geoms); i = int(next.Add(1) - 1) {
				par[i] = Cells(geoms[i], SupervisionRes)
			}
		}()
	}
	wg.Wait()
	check("filled at once", par)

	clearCellShapes()
	cellShapes.nHex.Store(maxCellShapes)
	cellShapes.nNbrs.Store(maxCellShapes)
	full := make([][]h3.Cell, len(geoms))
	for i, g := range geoms {
		full[i] = Cells(g, SupervisionRes)
	}
	check("full cache", full)
	if _, ok := cellShapes.hex.Load(cold[0][0]); ok {
		t.Error("a full cache took a cell")
	}
	clearCellShapes()
}
