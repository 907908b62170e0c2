package supervise

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/paulmach/orb"
)

func pathLength(start orb.Point, stops []orb.Point, order []int) float64 {
	total, at := 0.0, start
	for _, i := range order {
		total += straightM(at, stops[i])
		at = stops[i]
	}
	return total
}

// On random stop sets: the order is a permutation, starts at the stop nearest to the
// start, is never longer than the nearest-neighbour path, and no single 2-opt move after
// the first stop shortens it further.
func TestWalkingOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 15))
	for trial := range 60 {
		n := 1 + r.IntN(80)
		if trial == 0 {
			n = MaxRouteStops
		}
		start := orb.Point{121.40 + r.Float64()*0.05, 31.10 + r.Float64()*0.05}
		stops := make([]orb.Point, n)
		for i := range stops {
			stops[i] = orb.Point{121.40 + r.Float64()*0.05, 31.10 + r.Float64()*0.05}
		}
		order := walkingOrder(start, stops)
		sorted := slices.Clone(order)
		slices.Sort(sorted)
		for i, v := range sorted {
			if v != i {
				t.Fatalf("n=%d: %v is not a permutation", n, order)
			}
		}
		nearest := 0
		for i := range stops {
			if straightM(start, stops[i]) < straightM(start, stops[nearest]) {
				nearest = i
			}
		}
		if order[0] != nearest {
			t.Errorf("n=%d: starts at %d, the nearest is %d", n, order[0], nearest)
		}
		nn := nearestNeighbour(n, func(a, b int) float64 {
			pa, pb := start, start
			if a > 0 {
				pa = stops[a-1]
			}
			if b > 0 {
				pb = stops[b-1]
			}
			return straightM(pa, pb)
		})
		nnOrder := make([]int, n)
		for i, p := range nn[1:] {
			nnOrder[i] = p - 1
		}
		got, base := pathLength(start, stops, order), pathLength(start, stops, nnOrder)
		if got > base+1e-6 {
			t.Errorf("n=%d: 2-opt %.1f m, longer than nearest neighbour %.1f m", n, got, base)
		}
		if n > 400 && got > base*0.98 {
			t.Errorf("n=%d: 2-opt %.1f m barely improves nearest neighbour %.1f m", n, got, base)
		}
	}
	if walkingOrder(orb.Point{121.4, 31.1}, nil) != nil {
		t.Error("no stops, some order")
	}
	// A line of stops given out of order is walked end to end.
	start := orb.Point{121.40, 31.10}
	line := []orb.Point{{121.43, 31.10}, {121.41, 31.10}, {121.44, 31.10}, {121.42, 31.10}}
	if got := walkingOrder(start, line); !slices.Equal(got, []int{1, 3, 0, 2}) {
		t.Errorf("a line: %v", got)
	}
}
