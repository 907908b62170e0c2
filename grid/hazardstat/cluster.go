// Package hazardstat finds where hazards gather: DBSCAN clusters in metres (partitioned
// city-wide) and Getis-Ord Gi* hot spots over H3 cells.
package hazardstat

import (
	"cmp"
	"context"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"

	"safegrid/grid"
	"safegrid/grid/internal/pg"
)

// HazardFilter selects the hazards an analysis (clusters, hot spots) runs over. Empty
// fields select everything; the scope of the caller is applied by setting Street or
// OfficerID.
type HazardFilter struct {
	Levels     []string   // 一般, 重大
	Statuses   []string   // reported, registered, ...
	Categories []string   // 消防安全, ...
	From, To   *time.Time // reported_at in [From, To)
	District   string     // 6-digit district code
	Street     string     // 9-digit street code
	OfficerID  int64      // > 0: only hazards in this officer's cells
}

// hazardFilterSQL is the WHERE condition of a HazardFilter on hazards h, bound to $1…$8
// (args). Statements that use it number their own parameters from $9.
const hazardFilterSQL = `($1::text[] IS NULL OR h.level = ANY($1::text[]))
  AND ($2::text[] IS NULL OR h.status = ANY($2::text[]))
  AND ($3::text[] IS NULL OR h.category = ANY($3::text[]))
  AND ($4::timestamptz IS NULL OR h.reported_at >= $4::timestamptz)
  AND ($5::timestamptz IS NULL OR h.reported_at < $5::timestamptz)
  AND ($6::text IS NULL OR h.district_code = $6::text)
  AND ($7::text IS NULL OR h.street_code = $7::text)
  AND ($8::bigint IS NULL OR h.h3 IN (SELECT c FROM officer_cells($8::bigint) AS c))`

func (f HazardFilter) args() []any {
	list := func(v []string) any {
		if len(v) == 0 {
			return nil
		}
		return v
	}
	str := func(v string) any {
		if v == "" {
			return nil
		}
		return v
	}
	var officer any
	if f.OfficerID > 0 {
		officer = f.OfficerID
	}
	return []any{list(f.Levels), list(f.Statuses), list(f.Categories), f.From, f.To, str(f.District), str(f.Street), officer}
}

// ClusterParams are DBSCAN's parameters, in metres (UTM 51N, hazards.geom_m).
type ClusterParams struct {
	EpsM      float64 // neighbourhood radius
	MinPoints int     // hazards within EpsM, itself included, that make a core hazard
	// TileM is the side of the square UTM tiles the work is partitioned into; 0 picks
	// max(10 km, 10 × EpsM). It changes the speed, never the answer.
	TileM float64
	// Workers is how many concurrent statements share the tiles; 0 picks 2…4 from the
	// pool's size. It changes the speed, never the answer.
	Workers int
}

func (p ClusterParams) tile() float64 {
	if p.TileM >= 4*p.EpsM+2 { // the 2·eps halo must not reach past the next tile
		return p.TileM
	}
	return max(10000, 10*p.EpsM)
}

// minSplit is the narrowest a dense tile is cut to: 4·eps+2 under an explicit TileM
// (tests), else 2.5 km or 10·eps (the halo of 2·eps then adds at most a third).
func (p ClusterParams) minSplit() float64 {
	if p.TileM >= 4*p.EpsM+2 {
		return 4*p.EpsM + 2
	}
	return max(2500, 10*p.EpsM)
}

// groups is how many statements share the tiles: Workers, or half the pool (2…4).
func (p ClusterParams) groups(s *Service) int {
	if p.Workers > 0 {
		return p.Workers
	}
	return int(min(4, max(2, s.db.Config().MaxConns/2)))
}

// Validate checks the parameters' ranges.
func (p ClusterParams) Validate() error {
	if !(p.EpsM > 0 && p.EpsM <= 5000) {
		return &grid.InvalidError{Field: "eps_m", Reason: "must be more than 0 and at most 5000 metres"}
	}
	if p.MinPoints < 1 || p.MinPoints > 10000 {
		return &grid.InvalidError{Field: "min_points", Reason: "must be between 1 and 10000"}
	}
	return nil
}

// HazardCluster is one DBSCAN cluster of hazards (隐患聚集区).
type HazardCluster struct {
	ID       int         // 1…, largest cluster first
	Members  int         // hazards in the cluster, core and border
	Hull     orb.Polygon // convex hull of the members (WGS84); buffered by EpsM/2 when the hull is a point or a line
	Centroid orb.Point   // centroid of the members (WGS84)
	Levels   map[string]int
	// TopCategory is the most common category (ties: the first in sort order).
	TopCategory string
	Streets     []StreetRef // the streets its members lie in
}

// StreetRef names a street/town 街道/镇.
type StreetRef struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

// clusterCoreSQL keeps the hazards of ($11 district codes, $12 ids) that are core: at least
// $10 matching hazards (itself included) within $9 metres. LIMIT stops each count early.
const clusterCoreSQL = `SELECT m.id
FROM unnest($11::text[], $12::bigint[]) AS m(dc, id)
JOIN hazards x ON x.district_code = m.dc AND x.id = m.id
WHERE (SELECT count(*) FROM (
    SELECT 1 FROM hazards h
    WHERE ST_DWithin(h.geom_m, x.geom_m, $9::float8) AND ` + hazardFilterSQL + `
    LIMIT $10::int) n) >= $10::int`

// clusterPlainSQL is the unpartitioned reference: one window over every matching hazard.
// The tests and the benchmark compare against it; the service never runs it.
const clusterPlainSQL = `SELECT district_code, id, cid FROM (
  SELECT h.district_code, h.id, ST_ClusterDBSCAN(h.geom_m, $9::float8, $10::int) OVER () AS cid
  FROM hazards h
  WHERE ` + hazardFilterSQL + `
) c
WHERE cid IS NOT NULL`

// membership is the clusters of the clustered hazards (noise left out), numbered 1… by
// size, largest first (ties: smallest hazard id first).
type membership struct {
	dc      []string
	id      []int64
	cluster []int32
}

// linkCores unions the tile clusters that share a core hazard. Checking every candidate
// would be one index probe each (hundreds of thousands city-wide), but one core suffices
// per pair of clusters: each round checks up to batch candidates per pair not yet joined,
// drops the candidates whose clusters are joined by then, and doubles batch, so a pair
// with no core in common costs O(log n) rounds, not one round per hazard.
func (s *Service) linkCores(ctx context.Context, f HazardFilter, p ClusterParams, groups int, halo map[int64]*sharedHazard, uf *unionFind, candDC []string, candID []int64) error {
	pending := make([]int, len(candID))
	for i := range pending {
		pending[i] = i
	}
	for batch := 1; len(pending) > 0; batch *= 2 {
		taken := map[[2]int32]int{}
		var pickDC []string
		var pickID []int64
		var rest []int
		for _, c := range pending {
			sh := halo[candID[c]]
			root := uf.find(sh.home)
			key, open := [2]int32{}, false
			for _, n := range sh.nodes {
				if r := uf.find(n); r != root {
					key, open = [2]int32{root, r}, true
					break
				}
			}
			switch {
			case !open:
			case taken[key] < batch:
				taken[key]++
				pickDC, pickID = append(pickDC, candDC[c]), append(pickID, candID[c])
			default:
				rest = append(rest, c)
			}
		}
		var mu sync.Mutex
		chunk := (len(pickID) + groups - 1) / groups
		err := concurrently(ctx, groups, func(ctx context.Context, g int) error {
			lo, hi := min(g*chunk, len(pickID)), min((g+1)*chunk, len(pickID))
			if lo == hi {
				return nil
			}
			var id int64
			rows, err := s.db.Query(ctx, clusterCoreSQL, append(f.args(), p.EpsM, p.MinPoints, pickDC[lo:hi], pickID[lo:hi])...)
			if err != nil {
				return err
			}
			_, err = pgx.ForEachRow(rows, []any{&id}, func() error {
				mu.Lock()
				defer mu.Unlock()
				sh := halo[id]
				for _, n := range sh.nodes {
					uf.union(sh.home, n)
				}
				return nil
			})
			return err
		})
		if err != nil {
			return err
		}
		pending = rest
	}
	return nil
}

// withAnalysisSettings runs fn in a read-only transaction tuned for one big analytic
// statement: no JIT (compiling the window query costs more than it saves) and room to
// sort the tiles in memory. The plain reference query runs under the same settings.
func withAnalysisSettings(ctx context.Context, s *Service, fn func(pgx.Tx) error) error {
	return pgx.BeginTxFunc(ctx, s.db, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL jit = off`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SET LOCAL work_mem = '128MB'`); err != nil {
			return err
		}
		// Each tile's statement is planned for its own envelope: a generic plan cannot
		// see how few rows the envelope selects and may scan the table.
		if _, err := tx.Exec(ctx, `SET LOCAL plan_cache_mode = force_custom_plan`); err != nil {
			return err
		}
		return fn(tx)
	})
}

// concurrently runs fn(0…n-1) at once and returns the first error; the others' context
// is cancelled then.
func concurrently(ctx context.Context, n int, fn func(context.Context, int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(ctx, i); err != nil {
				cancel(err)
			}
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && ctx.Err() != nil {
		return err
	}
	return nil
}

// plainMembership is the unpartitioned DBSCAN (clusterPlainSQL), for comparison.
func (s *Service) plainMembership(ctx context.Context, f HazardFilter, p ClusterParams) (membership, error) {
	var m membership
	var (
		dc  string
		id  int64
		cid int32
	)
	err := withAnalysisSettings(ctx, s, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, clusterPlainSQL, append(f.args(), p.EpsM, p.MinPoints)...)
		if err != nil {
			return err
		}
		_, err = pgx.ForEachRow(rows, []any{&dc, &id, &cid}, func() error {
			m.dc = append(m.dc, dc)
			m.id = append(m.id, id)
			m.cluster = append(m.cluster, cid)
			return nil
		})
		return err
	})
	if err != nil {
		return m, err
	}
	m.renumber()
	return m, nil
}

// renumber makes cluster numbers 1… by size (largest first, ties by smallest hazard id),
// so the same clusters get the same numbers whichever way they were computed.
func (m *membership) renumber() {
	type info struct {
		old   int32
		n     int
		minID int64
	}
	byOld := map[int32]*info{}
	for i, c := range m.cluster {
		in := byOld[c]
		if in == nil {
			in = &info{old: c, minID: math.MaxInt64}
			byOld[c] = in
		}
		in.n++
		in.minID = min(in.minID, m.id[i])
	}
	list := make([]*info, 0, len(byOld))
	for _, in := range byOld {
		list = append(list, in)
	}
	slices.SortFunc(list, func(a, b *info) int {
		if a.n != b.n {
			return b.n - a.n
		}
		return cmp.Compare(a.minID, b.minID)
	})
	next := make(map[int32]int32, len(list))
	for i, in := range list {
		next[in.old] = int32(i + 1)
	}
	for i, c := range m.cluster {
		m.cluster[i] = next[c]
	}
}

// unionFind is a disjoint-set forest over 0…n-1 with path halving and union by size.
type unionFind struct {
	parent []int32
	size   []int32
}

func newUnionFind(n int) *unionFind {
	u := &unionFind{parent: make([]int32, n), size: make([]int32, n)}
	for i := range u.parent {
		u.parent[i] = int32(i)
		u.size[i] = 1
	}
	return u
}

func (u *unionFind) find(x int32) int32 {
	for u.parent[x] != x {
		u.parent[x] = u.parent[u.parent[x]]
		x = u.parent[x]
	}
	return x
}

func (u *unionFind) union(a, b int32) {
	a, b = u.find(a), u.find(b)
	if a == b {
		return
	}
	if u.size[a] < u.size[b] {
		a, b = b, a
	}
	u.parent[b] = a
	u.size[a] += u.size[b]
}

// Service runs this package's queries on a store's pool. It holds no state of its own,
// so one per store is enough and it is safe for concurrent use.
type Service struct{ db *pgxpool.Pool }

// New returns the service over st.
func New(st *grid.Store) *Service { return &Service{db: st.DB(pg.Key{})} }
