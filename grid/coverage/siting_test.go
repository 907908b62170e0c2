package coverage_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/uber/h3-go/v4"

	"safegrid/geo"
	"safegrid/grid"
	"safegrid/grid/coverage"
	"safegrid/grid/testdb"
)

// randomMCLP is a siting instance in a square of side metres: demand points with risk
// weights 1…4 and candidates uniformly at random; a candidate covers the demand within r.
func randomMCLP(seed uint64, demand, cands int, side, r float64) *coverage.MCLPInstance {
	rng := rand.New(rand.NewPCG(seed, 99))
	dx, dy := make([]float64, demand), make([]float64, demand)
	in := &coverage.MCLPInstance{Weight: make([]float64, demand), Sets: make([][]int32, cands)}
	for i := range dx {
		dx[i], dy[i] = rng.Float64()*side, rng.Float64()*side
		in.Weight[i] = float64(1 + rng.IntN(4))
	}
	for j := range in.Sets {
		x, y := rng.Float64()*side, rng.Float64()*side
		for i := range dx {
			if math.Hypot(dx[i]-x, dy[i]-y) <= r {
				in.Sets[j] = append(in.Sets[j], int32(i))
			}
		}
	}
	return in
}

// cbcOptimum solves the instance exactly with CBC (Debian coinor-cbc) through an LP file.
func cbcOptimum(t *testing.T, in *coverage.MCLPInstance, k int) float64 {
	t.Helper()
	if _, err := exec.LookPath("cbc"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("cbc is not installed (scripts/test-deps.sh installs coinor-cbc)")
		}
		t.Skip("cbc is not installed (scripts/test-deps.sh installs coinor-cbc)")
	}
	dir := t.TempDir()
	lp, sol := filepath.Join(dir, "mclp.lp"), filepath.Join(dir, "mclp.sol")
	var buf bytes.Buffer
	if err := coverage.WriteLP(&buf, in, k); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lp, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("cbc", lp, "solve", "solu", sol).CombinedOutput()
	if err != nil {
		t.Fatalf("cbc: %v\n%s", err, out)
	}
	data, err := os.ReadFile(sol)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`^Optimal - objective value\s+(-?[0-9.eE+-]+)`).FindSubmatch(data)
	if m == nil {
		t.Fatalf("cbc did not prove an optimum:\n%.300s", data)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return math.Abs(v)
}

// TestMCLPAgainstCBC: on instances small enough to solve exactly, the heuristic is within
// 0.5% of CBC's optimum, never above it, and the Lagrangian bound is never below it.
func TestMCLPAgainstCBC(t *testing.T) {
	for _, c := range []struct {
		demand, cands, k int
		r                float64
	}{
		{300, 60, 5, 1500},
		{1000, 150, 10, 1200},
	} {
		for seed := uint64(1); seed <= 3; seed++ {
			in := randomMCLP(seed, c.demand, c.cands, 10000, c.r)
			opt := cbcOptimum(t, in, c.k)
			sol := coverage.SolveMCLP(in, c.k, coverage.SolveOptions{TimeLimit: 500 * time.Millisecond, Seed: seed})
			if len(sol.Sites) != c.k {
				t.Fatalf("%d sites, want %d", len(sol.Sites), c.k)
			}
			sum := 0.0
			for _, g := range sol.Gains {
				sum += g
			}
			if math.Abs(sum-sol.Value) > 1e-6 {
				t.Errorf("gains add up to %v, value %v", sum, sol.Value)
			}
			if sol.Value < 0.995*opt || sol.Value > opt+1e-6 || sol.UpperBound < opt-1e-6 {
				t.Errorf("demand %d, candidates %d, k %d, seed %d: value %v, CBC optimum %v, bound %v", c.demand, c.cands, c.k, seed, sol.Value, opt, sol.UpperBound)
			}
			t.Logf("demand %d, candidates %d, k %d, seed %d: %.0f of %.0f (%.2f%%), bound %.1f, %d restarts",
				c.demand, c.cands, c.k, seed, sol.Value, opt, 100*sol.Value/opt, sol.UpperBound, sol.Restarts)
		}
	}
}

// TestLSCPMinimal: the fewest sites found equals the fewest found by trying every
// combination.
func TestLSCPMinimal(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		in := randomMCLP(seed, 200, 25, 10000, 1800)
		total := 0.0
		for _, w := range in.Weight {
			total += w
		}
		m := &coverage.SitingModel{Instance: *in, TotalWeight: total}
		const target = 0.6
		sol, reached, _ := m.SolveLSCP(target, coverage.SolveOptions{TimeLimit: 200 * time.Millisecond})
		if !reached || sol.Value < target*total-1e-9 {
			t.Fatalf("seed %d: reached %v, value %v of %v", seed, reached, sol.Value, total)
		}
		if want := bruteLSCP(in, target*total); len(sol.Sites) != want {
			t.Errorf("seed %d: %d sites, the fewest are %d", seed, len(sol.Sites), want)
		}
	}
	// An unreachable target says so.
	in := &coverage.MCLPInstance{Weight: []float64{1, 1, 1}, Sets: [][]int32{{0}, {1}}}
	m := &coverage.SitingModel{Instance: *in, TotalWeight: 3}
	if _, reached, _ := m.SolveLSCP(0.9, coverage.SolveOptions{}); reached {
		t.Error("an unreachable target was reached")
	}
}

func bruteLSCP(in *coverage.MCLPInstance, need float64) int {
	n := len(in.Sets)
	var best int = n + 1
	var rec func(start, k int, chosen []int)
	value := func(chosen []int) float64 {
		seen := map[int32]bool{}
		v := 0.0
		for _, j := range chosen {
			for _, i := range in.Sets[j] {
				if !seen[i] {
					seen[i] = true
					v += in.Weight[i]
				}
			}
		}
		return v
	}
	for k := 1; k <= n && best > n; k++ {
		rec = func(start, left int, chosen []int) {
			if best <= n {
				return
			}
			if left == 0 {
				if value(chosen) >= need-1e-9 {
					best = len(chosen)
				}
				return
			}
			for j := start; j < n; j++ {
				rec(j+1, left-1, append(chosen, j))
			}
		}
		rec(0, k, nil)
	}
	return best
}

// TestSitingOnFixture: with the caller's candidates, k = 1 picks the one at e5 (重大, 4),
// the heaviest uncovered demand, in 闵行 江川路街道.
func TestSitingOnFixture(t *testing.T) {
	st := testdb.New(t, coverageFixture)
	ctx := context.Background()
	an := coverage.NewAnalyst(st)
	pt := func(q string) coverage.SitePoint {
		var p coverage.SitePoint
		if err := testdb.DB(st).QueryRow(ctx, `SELECT ST_X(geom), ST_Y(geom) FROM enterprises WHERE `+q).Scan(&p.Lon, &p.Lat); err != nil {
			t.Fatal(err)
		}
		return p
	}
	e5, e6 := pt(`risk_level = '重大' AND district_code = '310112'`), pt(`risk_level = '一般'`)
	res, err := an.Siting(ctx, coverage.SitingParams{K: 1, Candidates: []coverage.SitePoint{e6, e5}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Candidates != 2 || len(res.Sites) != 1 {
		t.Fatalf("%+v", res)
	}
	s := res.Sites[0]
	if s.Lon != e5.Lon || s.DistrictCode != "310112" || s.District != "闵行区" || s.StreetCode != "310112001" || s.GainWeight != 4 {
		t.Errorf("site %+v", s)
	}
	if res.TotalWeight != 15 || math.Abs(res.After.Weight-res.Before.Weight-4) > 1e-9 || math.Abs(s.GainShare-4.0/15) > 1e-12 {
		t.Errorf("before %+v after %+v total %v", res.Before, res.After, res.TotalWeight)
	}

	// Land candidates: a 危化品 enterprise takes the cells within 200 m out of the list.
	m, err := an.BuildSiting(ctx, coverage.SitingParams{K: 2})
	if err != nil {
		t.Fatal(err)
	}
	before := len(m.Instance.Sets)
	res2, err := an.Siting(ctx, coverage.SitingParams{K: 2})
	if err != nil {
		t.Fatal(err)
	}
	c := h3.Cell(h3.IndexFromString(res2.Sites[0].Cell)).LatLng()
	if _, err := testdb.DB(st).Exec(ctx, `INSERT INTO enterprises (district_code, uscc, name, industry, risk_level, h3, geom)
VALUES ('310112', '913100009999999999', '化工', '危化品储存', '低', $3, ST_SetSRID(ST_MakePoint($1::float8, $2::float8), 4326))`,
		c.Lng, c.Lat, int64(geo.PointCell(orb.Point{c.Lng, c.Lat}, 9))); err != nil {
		t.Fatal(err)
	}
	m2, err := an.BuildSiting(ctx, coverage.SitingParams{K: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(m2.Instance.Sets) >= before {
		t.Errorf("candidates %d, then %d with a 危化品 enterprise on one", before, len(m2.Instance.Sets))
	}
	res3, err := an.Siting(ctx, coverage.SitingParams{K: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range res3.Sites {
		if s.Cell == res2.Sites[0].Cell {
			t.Errorf("site %s is within 200 m of a 危化品 enterprise", s.Cell)
		}
	}

	// The caller's own candidates obey the same 200 m rule: one beside the 危化品
	// enterprise is left out (and counted); only such candidates is an error.
	beside := coverage.SitePoint{Lon: c.Lng + 0.001, Lat: c.Lat} // about 95 m east
	res4, err := an.Siting(ctx, coverage.SitingParams{K: 1, Candidates: []coverage.SitePoint{beside, e5}})
	if err != nil {
		t.Fatal(err)
	}
	if res4.Candidates != 1 || res4.Excluded != 1 || len(res4.Sites) != 1 || res4.Sites[0].Lon != e5.Lon {
		t.Errorf("caller candidates beside a 危化品 enterprise: %+v", res4)
	}
	var inv *grid.InvalidError
	if _, err := an.Siting(ctx, coverage.SitingParams{K: 1, Candidates: []coverage.SitePoint{beside}}); !errors.As(err, &inv) || inv.Field != "candidates" {
		t.Errorf("only candidates beside a 危化品 enterprise: %v", err)
	}

	// LSCP: everything is reachable (the 危化品 enterprise from other candidates).
	ls, err := an.Siting(ctx, coverage.SitingParams{TargetShare: 1})
	if err != nil {
		t.Fatal(err)
	}
	if ls.Mode != "lscp" || !ls.Reachable || ls.After.Share < 1-1e-9 || ls.K != len(ls.Sites) || ls.K == 0 {
		t.Errorf("lscp %+v", ls)
	}
	if _, err := an.Siting(ctx, coverage.SitingParams{K: 0}); err == nil {
		t.Error("k 0 was accepted")
	}
}
