package grid

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"
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

// groups is how many statements share the tiles: Workers, or half the pool (2…4).
func (p ClusterParams) groups(s *Store) int {
	if p.Workers > 0 {
		return p.Workers
	}
	return int(min(4, max(2, s.Pool.Config().MaxConns/2)))
}

// Validate checks the parameters' ranges.
func (p ClusterParams) Validate() error {
	if !(p.EpsM > 0 && p.EpsM <= 5000) {
		return &InvalidError{Field: "eps_m", Reason: "must be more than 0 and at most 5000 metres"}
	}
	if p.MinPoints < 1 || p.MinPoints > 10000 {
		return &InvalidError{Field: "min_points", Reason: "must be between 1 and 10000"}
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

// Partitioned DBSCAN. The hazards are split into square tiles of UTM 51N (TileM metres).
// Each tile clusters its own hazards ("home") plus a halo: every hazard within 2·eps of the
// tile, copied into it (ST_ClusterDBSCAN … OVER (PARTITION BY tile)). Why 2·eps: DBSCAN
// only undercounts a hazard's neighbours where its eps-disc leaves the tile's input, and
// that makes it non-core, never falsely core. With a 2·eps halo, a home hazard and every
// hazard within eps of it see their whole eps-disc, so in its home tile
//   - a home hazard is core, border or noise exactly as in the unpartitioned DBSCAN, and
//   - every core–core link (p, q within eps) is seen, with both core, in p's home tile.
//
// Tile clusters are then merged (union-find) when they share a hazard that is truly core;
// core-ness is checked in SQL (ST_DWithin with LIMIT min_points) only for hazards
// clustered in two tiles, and only until each pair of tile clusters is joined or has no
// candidate left (linkCores). A false core never occurs, so no false merge does either. Each
// hazard takes the merged cluster of its home tile. The result has the same clusters as
// ST_ClusterDBSCAN(geom_m, eps, min_points) OVER () (same core members); a border hazard
// within eps of two clusters may land in either, as PostGIS allows.
//
// The tile of a hazard and its halo are arithmetic on ST_X/ST_Y (no spatial join): the
// first scan gives every hazard its home tile, the second copies the hazards near a tile
// edge into the neighbouring tiles within 2·eps. A tile is an ordinary window partition,
// never the whole table. Within a tile the hazards reach DBSCAN in H3 order, so that
// neighbours are looked up near each other in memory, which alone halves its time (the
// frame does not matter: ST_ClusterDBSCAN reads the whole partition). The tiles are dealt
// into $14 groups ($13 is this statement's group), run as concurrent statements; on Citus
// a group would be a worker's share.
const clusterTilesSQL = `WITH home AS (
  SELECT h.district_code, h.id, h.h3, h.geom_m,
         floor(ST_X(h.geom_m) / $11::float8)::int AS tx, floor(ST_Y(h.geom_m) / $11::float8)::int AS ty
  FROM hazards h
  WHERE ` + hazardFilterSQL + `
), near AS (
  SELECT h.district_code, h.id, h.h3, h.geom_m, e.tx, e.ty,
         ST_X(h.geom_m) - e.tx * $11::float8 AS fx, ST_Y(h.geom_m) - e.ty * $11::float8 AS fy
  FROM hazards h
  CROSS JOIN LATERAL (SELECT floor(ST_X(h.geom_m) / $11::float8)::int AS tx, floor(ST_Y(h.geom_m) / $11::float8)::int AS ty) e
  WHERE ` + hazardFilterSQL + `
), halo AS (
  SELECT n.district_code, n.id, n.h3, n.geom_m, n.tx + o.dx AS tx, n.ty + o.dy AS ty
  FROM near n
  CROSS JOIN (VALUES (-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)) AS o(dx, dy)
  WHERE (n.fx < $12::float8 OR n.fx > $11::float8 - $12::float8 OR n.fy < $12::float8 OR n.fy > $11::float8 - $12::float8)
    AND power(CASE o.dx WHEN -1 THEN n.fx WHEN 1 THEN $11::float8 - n.fx ELSE 0 END, 2)
      + power(CASE o.dy WHEN -1 THEN n.fy WHEN 1 THEN $11::float8 - n.fy ELSE 0 END, 2) <= power($12::float8, 2)
), tiled AS (
  SELECT district_code, id, h3, geom_m, tx, ty, true AS home FROM home WHERE ((tx * 31 + ty) % $14::int + $14::int) % $14::int = $13::int
  UNION ALL
  SELECT district_code, id, h3, geom_m, tx, ty, false FROM halo WHERE ((tx * 31 + ty) % $14::int + $14::int) % $14::int = $13::int
)
SELECT district_code, id, tx, ty, home, cid FROM (
  SELECT district_code, id, tx, ty, home,
         ST_ClusterDBSCAN(geom_m, $9::float8, $10::int) OVER (PARTITION BY tx, ty ORDER BY h3) AS cid
  FROM tiled
) c
WHERE cid IS NOT NULL`

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

// clusterSummarySQL describes each cluster from its members ($1 district codes, $2 ids,
// $3 cluster numbers); $4 is the buffer for hulls that are points or lines.
const clusterSummarySQL = `WITH m AS (
  SELECT h.geom_m, h.level, h.category, h.street_code, m.k
  FROM unnest($1::text[], $2::bigint[], $3::int[]) AS m(dc, id, k)
  JOIN hazards h ON h.district_code = m.dc AND h.id = m.id
), g AS (
  SELECT k, count(*) AS n, ST_ConvexHull(ST_Collect(geom_m)) AS hull, ST_Centroid(ST_Collect(geom_m)) AS centroid,
         count(*) FILTER (WHERE level = '一般') AS general, count(*) FILTER (WHERE level = '重大') AS major,
         mode() WITHIN GROUP (ORDER BY category) AS category,
         array_remove(array_agg(DISTINCT street_code), NULL) AS streets
  FROM m GROUP BY k
)
SELECT g.k, g.n,
       ST_AsBinary(ST_Transform(CASE WHEN GeometryType(g.hull) = 'POLYGON' THEN g.hull ELSE ST_Buffer(g.hull, $4::float8, 8) END, 4326)),
       ST_X(ST_Transform(g.centroid, 4326)), ST_Y(ST_Transform(g.centroid, 4326)),
       g.general, g.major, g.category,
       coalesce((SELECT array_agg(s.code ORDER BY s.code) FROM unnest(g.streets) AS s(code)), '{}'),
       coalesce((SELECT array_agg(coalesce(a.name, '') ORDER BY s.code) FROM unnest(g.streets) AS s(code) LEFT JOIN areas a ON a.code = s.code), '{}')
FROM g ORDER BY g.k`

// membership is the clusters of the clustered hazards (noise left out), numbered 1… by
// size, largest first (ties: smallest hazard id first).
type membership struct {
	dc      []string
	id      []int64
	cluster []int32
}

// HazardClusters runs the partitioned DBSCAN over the hazards f selects and describes
// each cluster.
func (s *Store) HazardClusters(ctx context.Context, f HazardFilter, p ClusterParams) ([]HazardCluster, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	m, err := s.clusterMembership(ctx, f, p)
	if err != nil {
		return nil, err
	}
	return s.describeClusters(ctx, m, p)
}

// clusterMembership is the partitioned DBSCAN (see clusterTilesSQL).
func (s *Store) clusterMembership(ctx context.Context, f HazardFilter, p ClusterParams) (membership, error) {
	groups := p.groups(s)
	parts := make([]*tileGroup, groups)
	err := concurrently(ctx, groups, func(ctx context.Context, g int) error {
		var err error
		parts[g], err = s.clusterTileGroup(ctx, f, p, g, groups)
		return err
	})
	if err != nil {
		return membership{}, err
	}
	// Node numbers of group g are offset by the nodes of the groups before it (a tile, so
	// a node, belongs to one group).
	var home membership
	var homeNode []int32
	halo := map[int64]*sharedHazard{}
	offset := int32(0)
	for _, tg := range parts {
		home.dc = append(home.dc, tg.dc...)
		home.id = append(home.id, tg.id...)
		for _, n := range tg.node {
			homeNode = append(homeNode, n+offset)
		}
		for id, sh := range tg.halo {
			all := halo[id]
			if all == nil {
				all = &sharedHazard{dc: sh.dc, home: -1}
				halo[id] = all
			}
			for _, n := range sh.nodes {
				all.nodes = append(all.nodes, n+offset)
			}
		}
		offset += tg.nodes
	}
	// A hazard clustered in its home tile and in another is a candidate link; a hazard
	// that is noise at home is not core, so it links nothing.
	var candDC []string
	var candID []int64
	for i, id := range home.id {
		if sh := halo[id]; sh != nil {
			sh.home = homeNode[i]
			candDC = append(candDC, sh.dc)
			candID = append(candID, id)
		}
	}
	uf := newUnionFind(int(offset))
	if err := s.linkCores(ctx, f, p, groups, halo, uf, candDC, candID); err != nil {
		return membership{}, err
	}
	home.cluster = make([]int32, len(home.id))
	for i := range homeNode {
		home.cluster[i] = uf.find(homeNode[i])
	}
	home.renumber()
	return home, nil
}

// linkCores unions the tile clusters that share a core hazard. Checking every candidate
// would be one index probe each (hundreds of thousands city-wide), but one core suffices
// per pair of clusters: each round checks up to batch candidates per pair not yet joined,
// drops the candidates whose clusters are joined by then, and doubles batch, so a pair
// with no core in common costs O(log n) rounds, not one round per hazard.
func (s *Store) linkCores(ctx context.Context, f HazardFilter, p ClusterParams, groups int, halo map[int64]*sharedHazard, uf *unionFind, candDC []string, candID []int64) error {
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
			rows, err := s.Pool.Query(ctx, clusterCoreSQL, append(f.args(), p.EpsM, p.MinPoints, pickDC[lo:hi], pickID[lo:hi])...)
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

// tileGroup is what one group's statement returned: its clustered home hazards with
// their tile cluster (node), and the halo copies that were clustered, by hazard.
type tileGroup struct {
	dc    []string
	id    []int64
	node  []int32
	halo  map[int64]*sharedHazard
	nodes int32
}

type sharedHazard struct {
	dc    string
	home  int32 // node of the home tile; -1 while unseen (noise at home)
	nodes []int32
}

func (s *Store) clusterTileGroup(ctx context.Context, f HazardFilter, p ClusterParams, g, groups int) (*tileGroup, error) {
	type nodeKey struct{ tx, ty, cid int32 }
	nodes := map[nodeKey]int32{}
	tg := &tileGroup{halo: map[int64]*sharedHazard{}}
	args := append(f.args(), p.EpsM, p.MinPoints, p.tile(), 2*p.EpsM+1, g, groups) // +1 m: float slack
	var (
		dc         string
		id         int64
		tx, ty, cd int32
		isHome     bool
	)
	err := withAnalysisSettings(ctx, s, func(q pgx.Tx) error {
		rows, err := q.Query(ctx, clusterTilesSQL, args...)
		if err != nil {
			return err
		}
		_, err = pgx.ForEachRow(rows, []any{&dc, &id, &tx, &ty, &isHome, &cd}, func() error {
			k := nodeKey{tx, ty, cd}
			n, ok := nodes[k]
			if !ok {
				n = int32(len(nodes))
				nodes[k] = n
			}
			if isHome {
				tg.dc = append(tg.dc, dc)
				tg.id = append(tg.id, id)
				tg.node = append(tg.node, n)
				return nil
			}
			sh := tg.halo[id]
			if sh == nil {
				sh = &sharedHazard{dc: dc, home: -1}
				tg.halo[id] = sh
			}
			sh.nodes = append(sh.nodes, n)
			return nil
		})
		return err
	})
	tg.nodes = int32(len(nodes))
	return tg, err
}

// withAnalysisSettings runs fn in a read-only transaction tuned for one big analytic
// statement: no JIT (compiling the window query costs more than it saves) and room to
// sort the tiles in memory. The plain reference query runs under the same settings.
func withAnalysisSettings(ctx context.Context, s *Store, fn func(pgx.Tx) error) error {
	return pgx.BeginTxFunc(ctx, s.Pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL jit = off`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SET LOCAL work_mem = '128MB'`); err != nil {
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
func (s *Store) plainMembership(ctx context.Context, f HazardFilter, p ClusterParams) (membership, error) {
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

func (s *Store) describeClusters(ctx context.Context, m membership, p ClusterParams) ([]HazardCluster, error) {
	if len(m.id) == 0 {
		return []HazardCluster{}, nil
	}
	rows, err := s.Pool.Query(ctx, clusterSummarySQL, m.dc, m.id, m.cluster, p.EpsM/2)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (HazardCluster, error) {
		var (
			c              HazardCluster
			hull           []byte
			general, major int
			codes, names   []string
		)
		if err := row.Scan(&c.ID, &c.Members, &hull, &c.Centroid[0], &c.Centroid[1], &general, &major, &c.TopCategory, &codes, &names); err != nil {
			return c, err
		}
		g, err := wkb.Unmarshal(hull)
		if err != nil {
			return c, fmt.Errorf("cluster %d hull: %w", c.ID, err)
		}
		poly, ok := g.(orb.Polygon)
		if !ok {
			return c, fmt.Errorf("cluster %d hull is a %s", c.ID, g.GeoJSONType())
		}
		c.Hull = poly
		c.Levels = map[string]int{"一般": general, "重大": major}
		c.Streets = make([]StreetRef, len(codes))
		for i := range codes {
			c.Streets[i] = StreetRef{Code: codes[i], Name: names[i]}
		}
		return c, nil
	})
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
