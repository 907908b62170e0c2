package coverage

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/paulmach/orb"
	"github.com/uber/h3-go/v4"
	"golang.org/x/sync/errgroup"

	"safegrid/geo"
	"safegrid/grid"
	"safegrid/grid/internal/pg"
)

// New-station siting (docs/DESIGN.md "Analysis definitions"). The model:
//
//   - Demand: enterprises weighted by risk (重大 4, 较大 3, 一般 2, 低 1), summed per
//     resolution-9 cell (the enterprises.h3 column) and placed at the cell's centre.
//   - Covered: a demand cell's centre within R (UTM 51N metres, as for coverage) of a
//     counted station (CoverageParams), or of a chosen site.
//   - Candidates: the cells at CandidateRes (default 8, about 0.7 km²) whose centre is in a
//     district, without those whose centre is within 200 m of a 危化品 enterprise
//     (GB 51080 §4.1.5); a new station stands at the centre. Or the caller's own points,
//     taken as given.
//   - MCLP: k sites maximising the weight newly covered. LSCP: the fewest sites that bring
//     the covered share of the weight to TargetShare.

// SitingParams are a siting analysis's inputs.
type SitingParams struct {
	CoverageParams
	K            int         `json:"k" doc:"MCLP: number of new stations (1 to 200); ignored with target_share"`
	TargetShare  float64     `json:"target_share" doc:"LSCP: the covered share of risk-weighted demand to reach (0 < t ≤ 1)"`
	CandidateRes int         `json:"candidate_resolution" doc:"H3 resolution of the candidate cells, 7 to 9 (default 8)"`
	Candidates   []SitePoint `json:"candidates,omitempty" doc:"the caller's own candidate sites instead of land cells"`
	TimeLimitS   float64     `json:"time_limit_s" doc:"seconds for the improvement phase (default 2, at most 60)"`
	Seed         uint64      `json:"seed"`
}

// SitePoint is a WGS84 location.
type SitePoint struct {
	Lon float64 `json:"lon" required:"true"`
	Lat float64 `json:"lat" required:"true"`
}

// SiteChoice is one chosen site.
type SiteChoice struct {
	Rank         int     `json:"rank"`
	Cell         string  `json:"cell" doc:"H3 cell (hex) at the candidate resolution"`
	Lon          float64 `json:"lon"`
	Lat          float64 `json:"lat"`
	DistrictCode string  `json:"district_code"`
	District     string  `json:"district"`
	StreetCode   string  `json:"street_code"`
	Street       string  `json:"street"`
	GainWeight   float64 `json:"gain_weight" doc:"risk-weighted demand it adds, after the sites ranked before it"`
	GainShare    float64 `json:"gain_share" doc:"gain_weight ÷ the total weight"`
}

// SitingCoverage is covered weight and its share of the total.
type SitingCoverage struct {
	Weight float64 `json:"weight"`
	Share  float64 `json:"share"`
}

// SitingResult is the answer of a siting analysis.
type SitingResult struct {
	Mode          string         `json:"mode" doc:"mclp or lscp"`
	K             int            `json:"k" doc:"sites chosen"`
	RadiusM       float64        `json:"radius_m"`
	DemandPoints  int            `json:"demand_points"`
	Candidates    int            `json:"candidates"`
	Excluded      int            `json:"excluded_candidates" doc:"the caller's candidates left out: within 200 m of a 危化品 enterprise (GB 51080 §4.1.5)"`
	Stations      int            `json:"stations" doc:"counted existing stations"`
	TotalWeight   float64        `json:"total_weight"`
	Before        SitingCoverage `json:"before"`
	After         SitingCoverage `json:"after"`
	UpperBound    SitingCoverage `json:"upper_bound" doc:"MCLP: no k sites cover more (Lagrangian bound)"`
	Sites         []SiteChoice   `json:"sites"`
	Reachable     bool           `json:"reachable" doc:"LSCP: the target was reached"`
	ProvedMinimum bool           `json:"proved_minimum" doc:"LSCP: the bound shows k−1 sites cannot reach the target"`
	Seconds       float64        `json:"seconds" doc:"the whole analysis"`
	SolveSeconds  float64        `json:"solve_seconds" doc:"the optimisation alone, after the instance is built"`
}

// SitingModel is a built siting instance: what the optimiser works on, and the candidates'
// places.
type SitingModel struct {
	Instance    MCLPInstance
	TotalWeight float64
	Before      float64
	Stations    int
	RadiusM     float64
	DemandCount int
	Excluded    int // the caller's candidates within 200 m of a 危化品 enterprise
	cands       []candidate
}

type candidate struct {
	cell             h3.Cell
	lon, lat         float64
	x, y             float64
	district, street string
}

// defaults fills and checks the siting parameters.
func (p *SitingParams) defaults() error {
	p.CoverageParams = p.CoverageParams.WithDefaults()
	if err := p.CoverageParams.Validate(); err != nil {
		return err
	}
	if p.CandidateRes == 0 {
		p.CandidateRes = 8
	}
	if p.TimeLimitS == 0 {
		p.TimeLimitS = 2
	}
	switch {
	case p.CandidateRes < 7 || p.CandidateRes > 9:
		return &grid.InvalidError{Field: "candidate_resolution", Reason: "must be from 7 to 9"}
	case math.IsNaN(p.TimeLimitS) || p.TimeLimitS < 0 || p.TimeLimitS > 60:
		return &grid.InvalidError{Field: "time_limit_s", Reason: "must be from 0 to 60"}
	case math.IsNaN(p.TargetShare) || p.TargetShare < 0 || p.TargetShare > 1:
		return &grid.InvalidError{Field: "target_share", Reason: "must be more than 0 and at most 1"}
	case p.TargetShare == 0 && (p.K < 1 || p.K > 200):
		return &grid.InvalidError{Field: "k", Reason: "must be from 1 to 200 (or give target_share)"}
	case len(p.Candidates) > 100000:
		return &grid.InvalidError{Field: "candidates", Reason: "at most 100,000"}
	}
	for i, c := range p.Candidates {
		if c.Lon < 120 || c.Lon > 123 || c.Lat < 30 || c.Lat > 32.5 || math.IsNaN(c.Lon) || math.IsNaN(c.Lat) {
			return &grid.InvalidError{Field: fmt.Sprintf("candidates[%d]", i), Reason: "lon/lat must be a WGS84 point in Shanghai"}
		}
	}
	return nil
}

// BuildSiting builds the siting instance: the counted stations, the demand cells and the
// candidates, and each candidate's newly covered demand.
func (a *Analyst) BuildSiting(ctx context.Context, p SitingParams) (*SitingModel, error) {
	if err := p.defaults(); err != nil {
		return nil, err
	}
	r := p.RadiusM()
	st, err := a.countedStations(ctx, p.CoverageParams)
	if err != nil {
		return nil, err
	}
	rc := newReach(st, r)

	// Demand (risk weight per resolution-9 cell, at the cell's centre) and candidates, at
	// the same time.
	var dcell []h3.Cell
	var dw, dx, dy []float64
	var cands []candidate
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		ents, err := a.enterpriseCells(gctx)
		if err != nil {
			return err
		}
		weight := map[h3.Cell]float64{}
		for _, c := range ents {
			if h3.Cell(c.h3).IsValid() {
				weight[h3.Cell(c.h3)] += RiskWeight(c.risk) * float64(c.n)
			}
		}
		dcell = slices.Sorted(maps.Keys(weight))
		for _, c := range dcell {
			dw = append(dw, weight[c])
		}
		lons, lats := make([]float64, len(dcell)), make([]float64, len(dcell))
		for i, c := range dcell {
			ll := c.LatLng()
			lons[i], lats[i] = ll.Lng, ll.Lat
		}
		dx, dy, err = a.toUTM(gctx, lons, lats)
		return err
	})
	var excluded int
	g.Go(func() (err error) {
		cands, excluded, err = a.candidates(gctx, p)
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	m := &SitingModel{Stations: len(st), RadiusM: r, DemandCount: len(dcell), Excluded: excluded}
	// Only demand not covered yet enters the instance.
	var ux, uy []float64
	for i := range dcell {
		m.TotalWeight += dw[i]
		if rc.covered(dx[i], dy[i]) {
			m.Before += dw[i]
			continue
		}
		m.Instance.Weight = append(m.Instance.Weight, dw[i])
		ux, uy = append(ux, dx[i]), append(uy, dy[i])
	}

	// Candidate → uncovered demand within R, through buckets R wide.
	buckets := map[[2]int64][]int32{}
	key := func(x, y float64) [2]int64 { return [2]int64{int64(math.Floor(x / r)), int64(math.Floor(y / r))} }
	for i := range ux {
		k := key(ux[i], uy[i])
		buckets[k] = append(buckets[k], int32(i))
	}
	m.Instance.Sets = make([][]int32, len(cands))
	for j, c := range cands {
		k := key(c.x, c.y)
		var set []int32
		for ddx := int64(-1); ddx <= 1; ddx++ {
			for ddy := int64(-1); ddy <= 1; ddy++ {
				for _, i := range buckets[[2]int64{k[0] + ddx, k[1] + ddy}] {
					if math.Hypot(ux[i]-c.x, uy[i]-c.y) <= r {
						set = append(set, i)
					}
				}
			}
		}
		m.Instance.Sets[j] = set
	}
	m.cands = cands
	return m, nil
}

// hazchemNearSQL lists the UTM points ($1 x, $2 y; 1-based) within 200 m of a 危化品
// enterprise (GB 51080 §4.1.5).
const hazchemNearSQL = `SELECT i::int FROM unnest($1::float8[], $2::float8[]) WITH ORDINALITY AS c(x, y, i)
WHERE EXISTS (SELECT 1 FROM enterprises e
              WHERE ST_DWithin(e.geom_m, ST_SetSRID(ST_MakePoint(c.x, c.y), 32651), 200) AND e.industry LIKE '危化品%')`

// nearHazchem reports, for each UTM point, whether a 危化品 enterprise is within 200 m.
func (a *Analyst) nearHazchem(ctx context.Context, xs, ys []float64) ([]bool, error) {
	var near []int
	if err := pg.Collect(ctx, a.db, &near, hazchemNearSQL, xs, ys); err != nil {
		return nil, err
	}
	out := make([]bool, len(xs))
	for _, i := range near {
		out[i-1] = true
	}
	return out, nil
}

// candidates are the land cells at CandidateRes away from hazardous chemicals, or the
// caller's points that are; excluded counts the caller's points left out. A station
// stands at least 200 m from a hazardous-chemical site wherever it is proposed.
func (a *Analyst) candidates(ctx context.Context, p SitingParams) (out []candidate, excluded int, err error) {
	out, err = a.candidateList(ctx, p)
	if err != nil || len(p.Candidates) == 0 {
		return out, 0, err
	}
	xs, ys := make([]float64, len(out)), make([]float64, len(out))
	for i, c := range out {
		xs[i], ys[i] = c.x, c.y
	}
	near, err := a.nearHazchem(ctx, xs, ys)
	if err != nil {
		return nil, 0, err
	}
	kept := out[:0]
	for i, c := range out {
		if !near[i] {
			kept = append(kept, c)
		}
	}
	if len(kept) == 0 {
		return nil, 0, &grid.InvalidError{Field: "candidates", Reason: "every candidate is within 200 m of a hazardous-chemical (危化品) enterprise (GB 51080 §4.1.5)"}
	}
	return kept, len(out) - len(kept), nil
}

func (a *Analyst) candidateList(ctx context.Context, p SitingParams) ([]candidate, error) {
	var out []candidate
	if len(p.Candidates) > 0 {
		lons, lats := make([]float64, len(p.Candidates)), make([]float64, len(p.Candidates))
		for i, c := range p.Candidates {
			lons[i], lats[i] = c.Lon, c.Lat
		}
		xs, ys, err := a.toUTM(ctx, lons, lats)
		if err != nil {
			return nil, err
		}
		rows, err := a.db.Query(ctx, `
SELECT i, coalesce(t.district_code, ''), coalesce(t.street_code, '')
FROM unnest($1::float8[], $2::float8[]) WITH ORDINALITY AS c(x, y, i), area_tag(ST_SetSRID(ST_MakePoint(c.x, c.y), 4326)) AS t`, lons, lats)
		if err != nil {
			return nil, err
		}
		out = make([]candidate, len(p.Candidates))
		for rows.Next() {
			var i int
			var d, s string
			if err := rows.Scan(&i, &d, &s); err != nil {
				return nil, err
			}
			c := p.Candidates[i-1]
			out[i-1] = candidate{cell: geo.PointCell(orb.Point{c.Lon, c.Lat}, p.CandidateRes), lon: c.Lon, lat: c.Lat, x: xs[i-1], y: ys[i-1], district: d, street: s}
		}
		return out, rows.Err()
	}
	land, err := a.landCells(ctx, p.CandidateRes)
	if err != nil {
		return nil, err
	}
	xs, ys := make([]float64, len(land)), make([]float64, len(land))
	for i, lc := range land {
		xs[i], ys[i] = lc.x, lc.y
	}
	excluded, err := a.nearHazchem(ctx, xs, ys)
	if err != nil {
		return nil, err
	}
	for i, lc := range land {
		if excluded[i] {
			continue
		}
		ll := lc.cell.LatLng()
		out = append(out, candidate{cell: lc.cell, lon: ll.Lng, lat: ll.Lat, x: lc.x, y: lc.y, district: lc.district, street: lc.street})
	}
	return out, nil
}

// Siting runs MCLP (K sites) or, with TargetShare, LSCP.
func (a *Analyst) Siting(ctx context.Context, p SitingParams) (*SitingResult, error) {
	start := time.Now()
	if err := p.defaults(); err != nil {
		return nil, err
	}
	m, err := a.BuildSiting(ctx, p)
	if err != nil {
		return nil, err
	}
	solveStart := time.Now()
	opt := SolveOptions{TimeLimit: time.Duration(p.TimeLimitS * float64(time.Second)), Seed: p.Seed}
	res := &SitingResult{Mode: "mclp", RadiusM: m.RadiusM, DemandPoints: m.DemandCount, Candidates: len(m.cands), Excluded: m.Excluded, Stations: m.Stations, TotalWeight: m.TotalWeight, Sites: []SiteChoice{}}
	share := func(w float64) SitingCoverage {
		c := SitingCoverage{Weight: w}
		if m.TotalWeight > 0 {
			c.Share = w / m.TotalWeight
		}
		return c
	}
	var sol MCLPSolution
	if p.TargetShare > 0 {
		res.Mode = "lscp"
		sol, res.Reachable, res.ProvedMinimum = m.SolveLSCP(p.TargetShare, opt)
	} else {
		sol = SolveMCLP(&m.Instance, p.K, opt)
		res.Reachable = true
	}
	res.SolveSeconds = time.Since(solveStart).Seconds()
	res.K = len(sol.Sites)
	res.Before = share(m.Before)
	res.After = share(m.Before + sol.Value)
	res.UpperBound = share(m.Before + sol.UpperBound)
	names := map[string]string{}
	if err := a.areaNames(ctx, names); err != nil {
		return nil, err
	}
	for n, j := range sol.Sites {
		c := m.cands[j]
		res.Sites = append(res.Sites, SiteChoice{
			Rank: n + 1, Cell: c.cell.String(), Lon: c.lon, Lat: c.lat,
			DistrictCode: c.district, District: names[c.district], StreetCode: c.street, Street: names[c.street],
			GainWeight: sol.Gains[n], GainShare: share(sol.Gains[n]).Share,
		})
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// SolveLSCP finds the fewest sites bringing the covered share to target: greedy gives an
// upper count; then each smaller count is tried (drop + swaps, then the MCLP search) until
// it fails.
// proved is true when the Lagrangian bound shows one site fewer cannot reach the target.
func (m *SitingModel) SolveLSCP(target float64, opt SolveOptions) (sol MCLPSolution, reached, proved bool) {
	need := target*m.TotalWeight - m.Before - 1e-9*m.TotalWeight
	if need <= 0 {
		return MCLPSolution{}, true, true
	}
	s := newSolver(&m.Instance)
	k := 0
	for s.value < need {
		before := s.value
		s.greedy(k+1, nil, 1)
		if s.value <= before {
			break // nothing left to gain: the target is out of reach
		}
		k++
	}
	if s.value < need {
		sol = MCLPSolution{Value: s.value, UpperBound: s.value}
		sol.Sites, sol.Gains = ordered(&m.Instance, s.solution())
		for len(sol.Gains) > 0 && sol.Gains[len(sol.Gains)-1] <= 0 { // the site that added nothing
			sol.Sites, sol.Gains = sol.Sites[:len(sol.Sites)-1], sol.Gains[:len(sol.Gains)-1]
		}
		return sol, false, false
	}
	// Drop the site whose loss is least and repair by swaps while the target holds; when
	// that fails, one multistart search with a site fewer; stop when that fails too.
	best := s.solution()
	for k > 1 {
		drop, least := -1, math.Inf(1)
		for _, j := range s.solution() {
			if l := s.loss(j); l < least {
				drop, least = j, l
			}
		}
		s.remove(drop)
		s.swaps()
		if s.value >= need {
			best, k = s.solution(), k-1
			continue
		}
		try := SolveMCLP(&m.Instance, k-1, opt)
		if try.Value < need {
			break
		}
		s.reset()
		for _, j := range try.Sites {
			s.add(j)
		}
		best, k = s.solution(), k-1
	}
	sol = MCLPSolution{UpperBound: math.NaN()}
	sol.Sites, sol.Gains = ordered(&m.Instance, best)
	for _, g := range sol.Gains {
		sol.Value += g
	}
	sol.UpperBound = sol.Value
	proved = k == 1 || LagrangianBound(&m.Instance, k-1, opt.LagrangeIters, 0) < need
	return sol, true, proved
}

// areaNames fills names with every district's and street's name by code.
func (a *Analyst) areaNames(ctx context.Context, names map[string]string) error {
	rows, err := a.db.Query(ctx, `SELECT code, name FROM areas WHERE level IN ('district', 'street')`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var c, n string
		if err := rows.Scan(&c, &n); err != nil {
			return err
		}
		names[c] = n
	}
	return rows.Err()
}
