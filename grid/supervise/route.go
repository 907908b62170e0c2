package supervise

import (
	"github.com/paulmach/orb"
	orbgeo "github.com/paulmach/orb/geo"
)

// The walking order of an officer's due inspections (docs/FIELDWORK.md): an open path from
// where the officer stands through every due enterprise, built nearest-neighbour first
// and improved by 2-opt. Distances are straight lines (great-circle metres), not the
// street network: a river or a walled compound between two stops is not seen.

// MaxRouteStops is the most due enterprises a walking order is computed for; an officer's
// due list is a few hundred at most, and more is refused rather than ordered slowly.
const MaxRouteStops = 500

// maxTwoOptPasses bounds the improvement: each pass is O(n²), and a pass that changes
// nothing ends it earlier.
const maxTwoOptPasses = 50

// straightM is the great-circle distance in metres between two WGS84 points (haversine on
// a sphere of the equatorial radius: within 0.5% of the geodesic).
func straightM(a, b orb.Point) float64 { return orbgeo.DistanceHaversine(a, b) }

// walkingOrder returns the order in which to visit stops starting from start: a
// permutation of the stops' indexes, beginning with the stop nearest to start, never
// longer than the nearest-neighbour path. The path does not return to the start.
func walkingOrder(start orb.Point, stops []orb.Point) []int {
	n := len(stops)
	if n == 0 {
		return nil
	}
	// Point 0 is the start, 1..n the stops.
	pts := append([]orb.Point{start}, stops...)
	d := make([]float64, (n+1)*(n+1))
	for i := range pts {
		for j := i + 1; j < len(pts); j++ {
			v := straightM(pts[i], pts[j])
			d[i*(n+1)+j], d[j*(n+1)+i] = v, v
		}
	}
	dist := func(a, b int) float64 { return d[a*(n+1)+b] }
	path := nearestNeighbour(n, dist)
	twoOpt(path, dist)
	out := make([]int, n)
	for i, p := range path[1:] {
		out[i] = p - 1
	}
	return out
}

// nearestNeighbour is the path from point 0 that always walks to the nearest point not
// yet visited (the lower index on ties, so the order is deterministic).
func nearestNeighbour(n int, dist func(a, b int) float64) []int {
	path := make([]int, 1, n+1)
	seen := make([]bool, n+1)
	seen[0] = true
	cur := 0
	for range n {
		next := -1
		for j := 1; j <= n; j++ {
			if !seen[j] && (next < 0 || dist(cur, j) < dist(cur, next)) {
				next = j
			}
		}
		seen[next] = true
		path = append(path, next)
		cur = next
	}
	return path
}

// twoOpt improves the open path in place. path[0], the start, and path[1], the stop
// nearest to it, stay first: the officer walks to the nearest enterprise, then the rest
// of the path is shortened. Reversing
// path[i..j] replaces the edges (i-1, i) and (j, j+1) by (i-1, j) and (i, j+1); the last
// stop has no edge after it. A reversal is made only when it shortens the path by more
// than a millimetre, so the path never gets longer and the loop ends.
func twoOpt(path []int, dist func(a, b int) float64) {
	m := len(path)
	for range maxTwoOptPasses {
		improved := false
		for i := 2; i < m-1; i++ {
			for j := i + 1; j < m; j++ {
				before := dist(path[i-1], path[i])
				after := dist(path[i-1], path[j])
				if j+1 < m {
					before += dist(path[j], path[j+1])
					after += dist(path[i], path[j+1])
				}
				if after < before-1e-3 {
					for a, b := i, j; a < b; a, b = a+1, b-1 {
						path[a], path[b] = path[b], path[a]
					}
					improved = true
				}
			}
		}
		if !improved {
			return
		}
	}
}
