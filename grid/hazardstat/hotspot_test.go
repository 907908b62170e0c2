package hazardstat_test

import (
	"context"
	"math"
	"testing"

	"github.com/paulmach/orb"
	"github.com/uber/h3-go/v4"

	"safegrid/geo"
	"safegrid/grid"
	"safegrid/grid/hazardstat"
	"safegrid/grid/testdb"
)

// The hand-computed example. k = 1; the centre cell has 8 hazards, each of its 6
// neighbours 2, nothing else. The population is the cells with a hazard plus their
// 1-rings: the centre, ring 1 (6 cells) and ring 2 (12 cells), n = 19.
//
//	Σx = 8 + 6·2 = 20            x̄ = 20/19 = 1.0526316
//	Σx² = 64 + 6·4 = 88          Σx²/n = 4.6315789
//	S² = 4.6315789 − 1.0526316² = 3.5235457,  S = 1.8771110
//
// Gi*_i = (Σ_j w_ij x_j − x̄ W_i) / (S √((n W_i − W_i²)/(n − 1))), W_i = neighbours of i
// (itself included) that are in the population.
//
//	centre:  W = 7, Σwx = 8 + 6·2 = 20
//	         (20 − 7·1.0526316) / (1.8771110 · √((133 − 49)/18)) = 12.6315789 / 4.0550232 = 3.1150448
//	ring 1:  W = 7 (itself, centre, 2 ring-1, 3 ring-2), Σwx = 2 + 8 + 2·2 = 14
//	         (14 − 7.3684211) / 4.0550232 = 1.6353985
//	ring 2, the 6 corner cells (1 ring-1 neighbour, 2 ring-2, 3 outside): W = 4, Σwx = 2
//	         (2 − 4.2105263) / (1.8771110 · √((76 − 16)/18)) = −2.2105263 / 3.4271201 = −0.6450099
//	ring 2, the 6 edge cells (2 ring-1 neighbours, 2 ring-2, 2 outside): W = 5, Σwx = 4
//	         (4 − 5.2631579) / (1.8771110 · √((95 − 25)/18)) = −1.2631579 / 3.7017128 = −0.3412361
//
// p (two-sided) = erfc(|z|/√2): centre 0.0018392 (bin 3, < 0.01), ring 1 0.1019655 (bin 0,
// just above 0.10), ring 2 0.519 and 0.733 (bin 0).
var (
	handCentre = geo.PointCell(orb.Point{121.4737, 31.2304}, 8)
	handZ      = map[string]float64{"centre": 3.1150448, "ring1": 1.6353985, "corner": -0.6450099, "edge": -0.3412361}
	handP      = map[string]float64{"centre": 0.0018392, "ring1": 0.1019655}
)

// handKind says which of the example's cells c is.
func handKind(t *testing.T, c h3.Cell) string {
	t.Helper()
	d := h3.GridDistance(handCentre, c)
	switch d {
	case 0:
		return "centre"
	case 1:
		return "ring1"
	case 2:
		n := 0
		for _, nb := range c.GridDisk(1) {
			if h3.GridDistance(handCentre, nb) == 1 {
				n++
			}
		}
		if n == 1 {
			return "corner"
		}
		return "edge"
	}
	t.Fatalf("cell %s is %d steps from the centre", c, d)
	return ""
}

func checkHandExample(t *testing.T, cells []hazardstat.HotspotCell) {
	t.Helper()
	if len(cells) != 19 {
		t.Fatalf("%d cells in the population, want 19", len(cells))
	}
	kinds := map[string]int{}
	for _, c := range cells {
		k := handKind(t, c.Cell)
		kinds[k]++
		if math.Abs(c.Z-handZ[k]) > 1e-6 {
			t.Errorf("%s cell %s: z %.7f, want %.7f", k, c.Cell, c.Z, handZ[k])
		}
		if p, ok := handP[k]; ok && math.Abs(c.P-p) > 1e-6 {
			t.Errorf("%s cell: p %.7f, want %.7f", k, c.P, p)
		}
		wantBin := 0
		if k == "centre" {
			wantBin = 3
		}
		if c.Bin != wantBin {
			t.Errorf("%s cell: bin %d, want %d", k, c.Bin, wantBin)
		}
	}
	if kinds["centre"] != 1 || kinds["ring1"] != 6 || kinds["corner"] != 6 || kinds["edge"] != 6 {
		t.Errorf("cells by kind %v", kinds)
	}
}

func handCounts(weighted bool) map[h3.Cell][2]int {
	counts := map[h3.Cell][2]int{handCentre: {8, 0}}
	if weighted { // 2 一般 + 2 重大 weigh 2 + 6 = 8
		counts[handCentre] = [2]int{2, 2}
	}
	for _, c := range handCentre.GridDisk(1)[1:] {
		counts[c] = [2]int{2, 0}
	}
	return counts
}

func TestGiStarHandExample(t *testing.T) {
	checkHandExample(t, hazardstat.GiStar(handCounts(false), hazardstat.HotspotParams{Resolution: 8, K: 1}))
	cells := hazardstat.GiStar(handCounts(true), hazardstat.HotspotParams{Resolution: 8, K: 1, Weighted: true})
	checkHandExample(t, cells)
	for _, c := range cells {
		if c.Cell == handCentre && (c.Count != 4 || c.Value != 8) {
			t.Errorf("weighted centre: count %d value %g, want 4 and 8", c.Count, c.Value)
		}
	}
	// One cell with hazards: its 1-ring is the whole population (W = n), where Gi* is
	// undefined: z 0, p 1. No hazards: no cells.
	for _, c := range hazardstat.GiStar(map[h3.Cell][2]int{handCentre: {3, 0}}, hazardstat.HotspotParams{Resolution: 8, K: 1}) {
		if math.IsNaN(c.Z) || math.IsInf(c.Z, 0) || c.Cell == handCentre && (c.Z != 0 || c.P != 1 || c.Bin != 0) {
			t.Errorf("cell %s: z %v p %v bin %d", c.Cell, c.Z, c.P, c.Bin)
		}
	}
	if cells := hazardstat.GiStar(nil, hazardstat.HotspotParams{Resolution: 8, K: 1}); len(cells) != 0 {
		t.Errorf("no hazards: %d cells", len(cells))
	}
}

func TestBenjaminiHochberg(t *testing.T) {
	// m = 5, α = 0.05: the thresholds k·α/m are 0.01, 0.02, 0.03, 0.04, 0.05 against the
	// sorted p 0.001 (yes), 0.015 (yes), 0.04 (no), 0.045 (no), 0.2 (no): the largest k that
	// passes is 2, so every p ≤ 0.015 is significant.
	ps := []float64{0.2, 0.015, 0.045, 0.001, 0.04}
	if got := hazardstat.BenjaminiHochberg(ps, 0.05); got != 0.015 {
		t.Errorf("cut %v, want 0.015", got)
	}
	if got := hazardstat.BenjaminiHochberg([]float64{0.5, 0.9}, 0.05); got != -1 {
		t.Errorf("cut %v, want -1 (nothing significant)", got)
	}
	// With FDR the example's centre (p 0.0018) stays at 99%: its rank-1 threshold is
	// 0.01/19 = 0.000526 < 0.0018, but at 95% 0.05/19 = 0.00263 ≥ 0.0018: bin 2.
	for _, c := range hazardstat.GiStar(handCounts(false), hazardstat.HotspotParams{Resolution: 8, K: 1, FDR: true}) {
		want := 0
		if c.Cell == handCentre {
			want = 2
		}
		if c.Bin != want {
			t.Errorf("FDR: cell %s bin %d, want %d", c.Cell, c.Bin, want)
		}
	}
}

// insertCellHazards writes n hazards at the centre of each resolution-9 cell.
func insertCellHazards(t *testing.T, st *grid.Store, cells map[h3.Cell][2]int) {
	t.Helper()
	var cs []int64
	var lons, lats []float64
	var levels []string
	for c, n := range cells {
		c9 := c
		if c.Resolution() < 9 {
			c9 = c.CenterChild(9)
		}
		ll := c9.LatLng()
		for i := range n[0] + n[1] {
			lv := "一般"
			if i >= n[0] {
				lv = "重大"
			}
			cs, lons, lats, levels = append(cs, int64(c9)), append(lons, ll.Lng), append(lats, ll.Lat), append(levels, lv)
		}
	}
	_, err := testdb.DB(st).Exec(context.Background(), `INSERT INTO hazards (district_code, level, category, description, h3, geom)
SELECT '310101', l, '消防安全', 'synthetic', c, ST_SetSRID(ST_MakePoint(x, y), 4326)
FROM unnest($1::bigint[], $2::float8[], $3::float8[], $4::text[]) AS u(c, x, y, l)`, cs, lons, lats, levels)
	if err != nil {
		t.Fatal(err)
	}
}

func TestHotspotsFromTheDatabase(t *testing.T) {
	st := testdb.New(t, nil)
	seedClusterAreas(t, st)
	insertCellHazards(t, st, handCounts(true))
	ctx := context.Background()
	cells, err := hazardstat.New(st).Hotspots(ctx, hazardstat.HazardFilter{}, hazardstat.HotspotParams{Resolution: 8, K: 1, Weighted: true})
	if err != nil {
		t.Fatal(err)
	}
	checkHandExample(t, cells)
	// Unweighted, the centre has 4 hazards and the ring 2 each: a different answer.
	cells, err = hazardstat.New(st).Hotspots(ctx, hazardstat.HazardFilter{}, hazardstat.HotspotParams{Resolution: 8, K: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cells {
		if c.Cell == handCentre && (c.Value != 4 || math.Abs(c.Z-handZ["centre"]) < 0.1) {
			t.Errorf("unweighted centre: value %g z %g", c.Value, c.Z)
		}
	}
	// Filters reach the counts: only 重大 leaves the centre's 2.
	cells, err = hazardstat.New(st).Hotspots(ctx, hazardstat.HazardFilter{Levels: []string{"重大"}}, hazardstat.HotspotParams{Resolution: 8, K: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(cells) != 7 {
		t.Errorf("重大 only: %d cells, want 7 (the centre and its ring)", len(cells))
	}
	if _, err := hazardstat.New(st).Hotspots(ctx, hazardstat.HazardFilter{}, hazardstat.HotspotParams{Resolution: 10, K: 1}); err == nil {
		t.Error("resolution 10 accepted")
	}
}
