package hazardstat

import (
	"context"
	"math"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/uber/h3-go/v4"

	"safegrid/grid"
)

// Hot spots are Getis-Ord Gi* over H3 cells (ArcGIS's Hot Spot Analysis, binary weights):
//
//   - x_j is the hazard count of cell j at the resolution, or with Weighted the level-weighted
//     count: 一般 1, 重大 3 (HazardLevelWeight).
//   - The population (the n cells the statistic is defined over) is every cell with at least
//     one hazard plus every cell within K steps of one (its k-ring), with x = 0 for those.
//     So a hazard's neighbourhood is always complete, cells far from any hazard do not
//     dilute the mean, and the study area follows the data and the filter.
//   - w_ij = 1 when j is within K steps of i (GridDisk, i itself included: Gi*) and j is in
//     the population, else 0.
//   - Gi*_i = (Σ_j w_ij x_j − x̄ W_i) / (S √((n W_i − W_i²)/(n − 1))), with x̄ = Σx/n,
//     S = √(Σx²/n − x̄²), W_i = Σ_j w_ij (= Σ_j w_ij², the weights being 0/1).
//     Gi* is a z-score; p is two-sided from the normal distribution.
//   - Bin (ArcGIS Gi_Bin): ±3 at p < 0.01, ±2 at p < 0.05, ±1 at p < 0.10, 0 otherwise, with
//     the sign of z. With FDR, each threshold α is replaced by Benjamini–Hochberg's: the
//     largest p_(k) with p_(k) ≤ k α / n over the population's sorted p-values.
//
// Where the statistic is undefined (S = 0: every cell has the same value; or W_i = n) the
// cell gets z 0, p 1, bin 0.

// HazardLevelWeight is a hazard's weight in a weighted hot-spot analysis: 一般 1, 重大 3.
func HazardLevelWeight(level string) float64 {
	switch level {
	case "一般":
		return 1
	case "重大":
		return 3
	}
	return 0
}

// HotspotParams are the parameters of a hot-spot analysis.
type HotspotParams struct {
	Resolution int  // H3 resolution of the cells, 5…9
	K          int  // neighbourhood: cells within K steps, 1…5
	Weighted   bool // level-weighted counts (HazardLevelWeight)
	FDR        bool // Benjamini–Hochberg false discovery rate correction
}

// Validate checks the parameters' ranges.
func (p HotspotParams) Validate() error {
	if p.Resolution < 5 || p.Resolution > 9 {
		return &grid.InvalidError{Field: "resolution", Reason: "must be between 5 and 9"}
	}
	if p.K < 1 || p.K > 5 {
		return &grid.InvalidError{Field: "k", Reason: "must be between 1 and 5"}
	}
	return nil
}

// HotspotCell is one cell of the population with its statistic.
type HotspotCell struct {
	Cell  h3.Cell
	Count int     // hazards in the cell
	Value float64 // x: the count, or the level-weighted count
	Z     float64 // Gi* z-score
	P     float64 // two-sided p-value
	Bin   int     // −3…3
}

const hotspotCountsSQL = `SELECT h3_parent(h.h3, $9::int) AS cell,
       count(*) FILTER (WHERE h.level = '一般'), count(*) FILTER (WHERE h.level = '重大')
FROM hazards h
WHERE ` + hazardFilterSQL + `
GROUP BY 1`

// Hotspots computes Gi* over the hazards f selects. The cells are returned in cell order.
func (s *Service) Hotspots(ctx context.Context, f HazardFilter, p HotspotParams) ([]HotspotCell, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, hotspotCountsSQL, append(f.args(), p.Resolution)...)
	if err != nil {
		return nil, err
	}
	counts := map[h3.Cell][2]int{}
	var (
		cell           int64
		general, major int
	)
	_, err = pgx.ForEachRow(rows, []any{&cell, &general, &major}, func() error {
		counts[h3.Cell(cell)] = [2]int{general, major}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return GiStar(counts, p), nil
}

// GiStar computes the statistic from counts per cell ({一般, 重大}); see the comment above.
func GiStar(counts map[h3.Cell][2]int, p HotspotParams) []HotspotCell {
	idx := map[h3.Cell]int{}
	var out []HotspotCell
	add := func(c h3.Cell) {
		if _, ok := idx[c]; !ok {
			idx[c] = len(out)
			out = append(out, HotspotCell{Cell: c})
		}
	}
	disks := map[h3.Cell][]h3.Cell{}
	for c, n := range counts {
		if n[0]+n[1] == 0 {
			continue
		}
		add(c)
		i := idx[c]
		out[i].Count = n[0] + n[1]
		out[i].Value = float64(n[0] + n[1])
		if p.Weighted {
			out[i].Value = HazardLevelWeight("一般")*float64(n[0]) + HazardLevelWeight("重大")*float64(n[1])
		}
		disks[c] = c.GridDisk(p.K)
		for _, d := range disks[c] {
			add(d)
		}
	}
	n := float64(len(out))
	var sum, sum2 float64
	for _, c := range out {
		sum += c.Value
		sum2 += c.Value * c.Value
	}
	mean := sum / n
	sd := math.Sqrt(max(0, sum2/n-mean*mean))
	for i := range out {
		disk := disks[out[i].Cell]
		if disk == nil {
			disk = out[i].Cell.GridDisk(p.K)
		}
		var w, wx float64
		for _, d := range disk {
			if j, ok := idx[d]; ok {
				w++
				wx += out[j].Value
			}
		}
		den := sd * math.Sqrt((n*w-w*w)/(n-1))
		out[i].Z, out[i].P = 0, 1
		if sd > 1e-12*max(1, math.Abs(mean)) && den > 0 {
			out[i].Z = (wx - mean*w) / den
			out[i].P = math.Erfc(math.Abs(out[i].Z) / math.Sqrt2)
		}
	}
	binCells(out, p.FDR)
	slices.SortFunc(out, func(a, b HotspotCell) int {
		switch {
		case a.Cell < b.Cell:
			return -1
		case a.Cell > b.Cell:
			return 1
		}
		return 0
	})
	return out
}

// binCells sets Bin from P and the sign of Z, at fixed thresholds or FDR-corrected ones.
func binCells(cells []HotspotCell, fdr bool) {
	levels := []struct {
		alpha float64
		bin   int
	}{{0.01, 3}, {0.05, 2}, {0.10, 1}}
	cut := make([]float64, len(levels))
	for i, l := range levels {
		cut[i] = l.alpha
	}
	if fdr {
		ps := make([]float64, len(cells))
		for i, c := range cells {
			ps[i] = c.P
		}
		for i, l := range levels {
			cut[i] = BenjaminiHochberg(ps, l.alpha)
		}
	}
	for i := range cells {
		cells[i].Bin = 0
		for j, l := range levels {
			if (fdr && cells[i].P <= cut[j]) || (!fdr && cells[i].P < cut[j]) {
				cells[i].Bin = l.bin
				if cells[i].Z < 0 {
					cells[i].Bin = -l.bin
				}
				break
			}
		}
	}
}

// BenjaminiHochberg returns the p-value threshold that keeps the false discovery rate at
// alpha: the largest p_(k) (sorted ascending, k from 1) with p_(k) ≤ k·alpha/m, or −1
// when there is none (nothing is significant).
func BenjaminiHochberg(ps []float64, alpha float64) float64 {
	sorted := slices.Clone(ps)
	slices.Sort(sorted)
	m := float64(len(sorted))
	cut := -1.0
	for k, v := range sorted {
		if v <= float64(k+1)*alpha/m {
			cut = v
		}
	}
	return cut
}
