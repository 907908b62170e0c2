package coverage

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"sync/atomic"
	"time"
)

// MCLPInstance is a maximal covering location problem: demand weights, and for each
// candidate site the demand it would cover. Demand already covered by fixed stations is
// left out of it.
type MCLPInstance struct {
	Weight []float64
	Sets   [][]int32 // candidate → demand indices
}

// SolveOptions bound the optimiser.
type SolveOptions struct {
	// TimeLimit bounds the improvement phase (multistart after greedy + swap); 0 is 2 s.
	TimeLimit time.Duration
	Seed      uint64
	// LagrangeIters is the number of subgradient steps for the upper bound (0: 300).
	LagrangeIters int
}

// MCLPSolution is a set of chosen candidates, in the order a greedy would add them, with
// each one's marginal gain, the covered weight and an upper bound on the optimum.
type MCLPSolution struct {
	Sites      []int
	Gains      []float64
	Value      float64
	UpperBound float64 // Lagrangian bound: no choice of k sites covers more
	Restarts   int
}

// solver holds the incremental state of one solution: how many chosen sites cover each
// demand point, and (for points covered once) which one: own is the xor of the covering
// sites' indices, which is the site itself when the count is 1.
type solver struct {
	in     *MCLPInstance
	byDem  [][]int32 // demand → candidates covering it
	cnt    []int32
	own    []int32
	chosen []bool
	value  float64
}

func newSolver(in *MCLPInstance) *solver {
	s := &solver{in: in, cnt: make([]int32, len(in.Weight)), own: make([]int32, len(in.Weight)), chosen: make([]bool, len(in.Sets))}
	s.byDem = make([][]int32, len(in.Weight))
	for j, set := range in.Sets {
		for _, i := range set {
			s.byDem[i] = append(s.byDem[i], int32(j))
		}
	}
	return s
}

func (s *solver) reset() {
	clear(s.cnt)
	clear(s.own)
	clear(s.chosen)
	s.value = 0
}

func (s *solver) add(j int) {
	s.chosen[j] = true
	for _, i := range s.in.Sets[j] {
		if s.cnt[i] == 0 {
			s.value += s.in.Weight[i]
		}
		s.cnt[i]++
		s.own[i] ^= int32(j)
	}
}

func (s *solver) remove(j int) {
	s.chosen[j] = false
	for _, i := range s.in.Sets[j] {
		s.cnt[i]--
		s.own[i] ^= int32(j)
		if s.cnt[i] == 0 {
			s.value -= s.in.Weight[i]
		}
	}
}

func (s *solver) gain(j int) float64 {
	g := 0.0
	for _, i := range s.in.Sets[j] {
		if s.cnt[i] == 0 {
			g += s.in.Weight[i]
		}
	}
	return g
}

func (s *solver) loss(j int) float64 {
	l := 0.0
	for _, i := range s.in.Sets[j] {
		if s.cnt[i] == 1 {
			l += s.in.Weight[i]
		}
	}
	return l
}

// greedy adds sites until k are chosen, each time the one with the largest gain.
// With rng it picks at random among the best pick.
func (s *solver) greedy(k int, rng *rand.Rand, pick int) {
	type entry struct {
		j int
		g float64
	}
	n := 0
	for _, c := range s.chosen {
		if c {
			n++
		}
	}
	for ; n < k; n++ {
		best := make([]entry, 0, pick)
		for j := range s.in.Sets {
			if s.chosen[j] {
				continue
			}
			g := s.gain(j)
			if len(best) < pick || g > best[len(best)-1].g {
				best = append(best, entry{j, g})
				sort.SliceStable(best, func(a, b int) bool { return best[a].g > best[b].g })
				if len(best) > pick {
					best = best[:pick]
				}
			}
		}
		if len(best) == 0 {
			return
		}
		e := best[0]
		if rng != nil && len(best) > 1 {
			e = best[rng.IntN(len(best))]
		}
		s.add(e.j)
	}
}

// swaps improves the solution by exchanging one chosen site for one that is not, taking
// the best exchange each round, until none improves. One round costs one pass over the
// candidate sets: gain(c in, j out) = Σ uncovered w in c + Σ w covered only by j in c − loss(j).
func (s *solver) swaps() {
	const eps = 1e-9
	extra := make([]float64, len(s.in.Sets))
	var touched []int32
	for {
		var sol []int
		loss := map[int]float64{}
		for j, c := range s.chosen {
			if c {
				sol = append(sol, j)
				loss[j] = s.loss(j)
			}
		}
		bestD, bestIn, bestOut := eps, -1, -1
		for c := range s.in.Sets {
			if s.chosen[c] {
				continue
			}
			base := 0.0
			for _, i := range s.in.Sets[c] {
				switch s.cnt[i] {
				case 0:
					base += s.in.Weight[i]
				case 1:
					o := s.own[i]
					if extra[o] == 0 {
						touched = append(touched, o)
					}
					extra[o] += s.in.Weight[i]
				}
			}
			for _, j := range sol {
				if d := base + extra[j] - loss[j]; d > bestD {
					bestD, bestIn, bestOut = d, c, j
				}
			}
			for _, o := range touched {
				extra[o] = 0
			}
			touched = touched[:0]
		}
		if bestIn < 0 {
			return
		}
		s.remove(bestOut)
		s.add(bestIn)
	}
}

func (s *solver) solution() []int {
	var out []int
	for j, c := range s.chosen {
		if c {
			out = append(out, j)
		}
	}
	return out
}

// SolveMCLP chooses k candidates: greedy, then best-improvement swaps, then (within the
// time limit) a multistart that perturbs the best solution (drops a few sites, refills
// them with a randomised greedy) and improves it by swaps again, keeping the best. The
// Lagrangian bound is computed too and ends the search early when it is reached.
func SolveMCLP(in *MCLPInstance, k int, opt SolveOptions) MCLPSolution {
	if opt.TimeLimit == 0 {
		opt.TimeLimit = 2 * time.Second
	}
	k = min(k, len(in.Sets))
	s := newSolver(in)
	s.greedy(k, nil, 1)
	s.swaps()
	best, bestV := s.solution(), s.value
	// The bound is computed beside the multistart (it is a pass over every set per step);
	// the multistart stops early once the bound shows the solution is optimal.
	bound := make(chan float64, 1)
	var ubBits atomic.Uint64
	ubBits.Store(math.Float64bits(math.Inf(1)))
	go func(lb float64) {
		ub := LagrangianBound(in, k, opt.LagrangeIters, lb)
		ubBits.Store(math.Float64bits(ub))
		bound <- ub
	}(bestV)
	rng := rand.New(rand.NewPCG(opt.Seed, 0x5a7e))
	deadline := time.Now().Add(opt.TimeLimit)
	restarts := 0
	for k > 1 && bestV < math.Float64frombits(ubBits.Load())*(1-1e-9) && time.Now().Before(deadline) {
		restarts++
		s.reset()
		for _, j := range best {
			s.add(j)
		}
		drop := 1 + rng.IntN(max(1, k/4))
		sol := s.solution()
		rng.Shuffle(len(sol), func(a, b int) { sol[a], sol[b] = sol[b], sol[a] })
		for _, j := range sol[:drop] {
			s.remove(j)
		}
		s.greedy(k, rng, 3)
		s.swaps()
		if s.value > bestV+1e-9 {
			best, bestV = s.solution(), s.value
		}
	}
	ub := <-bound
	out := MCLPSolution{Value: bestV, UpperBound: max(ub, bestV), Restarts: restarts}
	out.Sites, out.Gains = ordered(in, best)
	return out
}

// ordered lists sites in greedy order of marginal gain, with the gains.
func ordered(in *MCLPInstance, sites []int) ([]int, []float64) {
	s := newSolver(in)
	left := slices.Clone(sites)
	var order []int
	var gains []float64
	for len(left) > 0 {
		bi, bg := 0, -1.0
		for i, j := range left {
			if g := s.gain(j); g > bg {
				bi, bg = i, g
			}
		}
		order = append(order, left[bi])
		gains = append(gains, bg)
		s.add(left[bi])
		left = slices.Delete(left, bi, bi+1)
	}
	return order, gains
}

// LagrangianBound is an upper bound on the best coverage of k sites: relax "y_i ≤ Σ x_j
// over the sites covering i" with multipliers λ_i ∈ [0, w_i]; then
// L(λ) = Σ_i (w_i − λ_i) + the k largest Σ_{i∈S_j} λ_i, minimised by subgradient steps
// (Polyak, with lower bound lb).
func LagrangianBound(in *MCLPInstance, k, iters int, lb float64) float64 {
	if iters == 0 {
		iters = 300
	}
	n := len(in.Weight)
	lam := make([]float64, n)
	for i, w := range in.Weight {
		lam[i] = w / 2
	}
	c := make([]float64, len(in.Sets))
	idx := make([]int, len(in.Sets))
	g := make([]float64, n)
	best := math.Inf(1)
	theta, stall := 2.0, 0
	for it := 0; it < iters; it++ {
		for j, set := range in.Sets {
			c[j] = 0
			for _, i := range set {
				c[j] += lam[i]
			}
			idx[j] = j
		}
		kk := min(k, len(idx))
		slices.SortFunc(idx, func(a, b int) int {
			switch {
			case c[a] > c[b]:
				return -1
			case c[a] < c[b]:
				return 1
			}
			return a - b
		})
		L := 0.0
		for i := range g {
			g[i] = 0
			if in.Weight[i] > lam[i] {
				L += in.Weight[i] - lam[i]
				g[i] = -1
			}
		}
		for _, j := range idx[:kk] {
			L += c[j]
			for _, i := range in.Sets[j] {
				g[i]++
			}
		}
		if L < best-1e-9 {
			best, stall = L, 0
		} else if stall++; stall >= 20 {
			theta, stall = theta/2, 0
		}
		norm := 0.0
		for _, v := range g {
			norm += v * v
		}
		if norm == 0 || best-lb <= 1e-9*max(1, best) {
			break
		}
		t := theta * (L - lb) / norm
		for i := range lam {
			lam[i] = min(in.Weight[i], max(0, lam[i]-t*g[i]))
		}
	}
	return best
}

// WriteLP writes the instance as an LP file (CPLEX LP format, which CBC and GLPK read):
// maximise Σ w_i y_i subject to y_i ≤ Σ_{j covers i} x_j, Σ x_j = k, x binary, 0 ≤ y ≤ 1.
// Demand that no candidate covers is left out.
func WriteLP(w io.Writer, in *MCLPInstance, k int) error {
	bw := bufio.NewWriter(w)
	byDem := make([][]int32, len(in.Weight))
	for j, set := range in.Sets {
		for _, i := range set {
			byDem[i] = append(byDem[i], int32(j))
		}
	}
	fmt.Fprintln(bw, "Maximize")
	fmt.Fprint(bw, " obj:")
	for i, wt := range in.Weight {
		if len(byDem[i]) > 0 {
			fmt.Fprintf(bw, " + %.6f y%d\n", wt, i)
		}
	}
	fmt.Fprintln(bw, "Subject To")
	for i, js := range byDem {
		if len(js) == 0 {
			continue
		}
		fmt.Fprintf(bw, " d%d: y%d", i, i)
		for _, j := range js {
			fmt.Fprintf(bw, " - x%d", j)
		}
		fmt.Fprintln(bw, " <= 0")
	}
	fmt.Fprint(bw, " k:")
	for j := range in.Sets {
		fmt.Fprintf(bw, " + x%d", j)
		if j%20 == 19 {
			fmt.Fprintln(bw)
		}
	}
	fmt.Fprintf(bw, " = %d\n", k)
	fmt.Fprintln(bw, "Bounds")
	for i := range in.Weight {
		if len(byDem[i]) > 0 {
			fmt.Fprintf(bw, " 0 <= y%d <= 1\n", i)
		}
	}
	fmt.Fprintln(bw, "Binary")
	for j := range in.Sets {
		fmt.Fprintf(bw, " x%d\n", j)
	}
	fmt.Fprintln(bw, "End")
	return bw.Flush()
}
