package hazardstat

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"

	"safegrid/grid"
)

// Partitioned DBSCAN. The plane (UTM 51N) is cut into square tiles of TileM metres over
// the extent of what the filter can select; the tiles on the edge of that range reach to
// infinity, so a hazard outside the extent still has exactly one home tile. Each tile is
// one job: one statement clusters the tile's own hazards ("home") plus a halo, every
// hazard within 2·eps of the tile, found through the GiST index on geom_m
// (ST_ClusterDBSCAN … OVER () over that set). Why 2·eps: DBSCAN only undercounts a
// hazard's neighbours where its eps-disc leaves the job's input, and that makes it
// non-core, never falsely core. With a 2·eps halo, a home hazard and every hazard within
// eps of it see their whole eps-disc, so in its home tile
//   - a home hazard is core, border or noise exactly as in the unpartitioned DBSCAN, and
//   - every core–core link (p, q within eps) is seen, with both core, in p's home tile.
//
// A tile's clusters are the nodes of the merge. Nodes are joined (union-find) when they
// share a hazard that is truly core; core-ness is checked in SQL (ST_DWithin with LIMIT
// min_points) only for hazards clustered in two tiles, and only until each pair of nodes
// is joined or has no candidate left (linkCores). A false core never occurs, so no false
// merge does either. Each hazard takes the merged cluster of its home tile. The result has
// the same clusters as ST_ClusterDBSCAN(geom_m, eps, min_points) OVER () (same core
// members); a border hazard within eps of two clusters may land in either, as PostGIS
// allows.
//
// The jobs run on Workers connections, heaviest first (by a 1% sample), each worker taking
// the next job when it is done, so the cores stay busy to the end. A job returns no row
// per member: it describes each of its nodes by its home members (count, smallest id,
// coordinate sums, levels, categories, streets, convex hull), and lists only the
// clustered hazards that can link nodes (halo copies, and home hazards within 2·eps of
// the tile's edge). A merged cluster's hull is the hull of its nodes' hull vertices, its
// centroid the mean of its members: the same as ST_ConvexHull and ST_Centroid over all
// its members. Within a job the hazards reach DBSCAN in H3 order, so that neighbours are
// looked up near each other in memory (the frame does not matter: ST_ClusterDBSCAN reads
// the whole partition). On Citus a job would be a worker's share.
//
// Parameters: $1…$8 the filter, $9 eps, $10 min_points, $11…$14 the tile (x0, x1, y0,
// y1; ±1e9 on an open side), $15 the halo, $16 whether to list every home member.
const clusterJobSQL = `WITH c AS MATERIALIZED (
  SELECT h.district_code, h.id, h.geom_m, h.level, h.category, h.street_code, u.x, u.y,
         u.x >= $11::float8 AND u.x < $12::float8 AND u.y >= $13::float8 AND u.y < $14::float8 AS home,
         ST_ClusterDBSCAN(h.geom_m, $9::float8, $10::int) OVER (ORDER BY h.h3) AS cid
  FROM hazards h
  CROSS JOIN LATERAL (SELECT ST_X(h.geom_m) AS x, ST_Y(h.geom_m) AS y) u
  WHERE h.geom_m && ST_MakeEnvelope($11::float8 - $15::float8, $13::float8 - $15::float8, $12::float8 + $15::float8, $14::float8 + $15::float8, 32651)
    AND power(greatest($11::float8 - u.x, 0, u.x - $12::float8), 2) + power(greatest($13::float8 - u.y, 0, u.y - $14::float8), 2) <= power($15::float8, 2)
    AND ` + hazardFilterSQL + `
), m AS (
  SELECT * FROM c WHERE home AND cid IS NOT NULL
), k AS (
  SELECT cid, array_agg(category ORDER BY category) AS cats, array_agg(n ORDER BY category) AS catn
  FROM (SELECT cid, category, count(*)::int AS n FROM m GROUP BY cid, category) x
  GROUP BY cid
)
SELECT 0 AS kind, g.cid, '' AS dc, g.min_id AS id, g.n, g.general, g.major, g.sx, g.sy, g.hull, g.streets, k.cats, k.catn
FROM (
  SELECT cid, count(*)::int AS n, min(id) AS min_id, sum(x) AS sx, sum(y) AS sy,
         (count(*) FILTER (WHERE level = '一般'))::int AS general, (count(*) FILTER (WHERE level = '重大'))::int AS major,
         ST_AsBinary(ST_ConvexHull(ST_Collect(geom_m))) AS hull,
         array_remove(array_agg(DISTINCT street_code), NULL) AS streets
  FROM m GROUP BY cid
) g JOIN k USING (cid)
UNION ALL
SELECT CASE WHEN home THEN 1 ELSE 2 END, cid, district_code, id, 0, 0, 0, 0, 0, NULL::bytea, NULL::text[], NULL::text[], NULL::int[]
FROM c
WHERE cid IS NOT NULL
  AND (NOT home OR $16::bool OR least(x - $11::float8, $12::float8 - x, y - $13::float8, $14::float8 - y) <= $15::float8)`

// clusterExtentSQL is the UTM extent the tiles cover: the street's or district's (the
// most specific of $6, $7), else the city's (every district).
const clusterExtentSQL = `SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM (
  SELECT ST_Transform(ST_SetSRID(ST_Extent(geom)::geometry, 4326), 32651) AS b
  FROM areas
  WHERE CASE WHEN $2::text IS NOT NULL THEN code = $2::text WHEN $1::text IS NOT NULL THEN code = $1::text ELSE level = 'district' END
) e WHERE b IS NOT NULL`

// clusterDataExtentSQL is the extent of the hazards the filter selects, for filters
// (an officer's cells) that select few hazards through an index but have no area.
const clusterDataExtentSQL = `SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM (
  SELECT ST_Extent(h.geom_m) AS b FROM hazards h WHERE ` + hazardFilterSQL + `
) e WHERE b IS NOT NULL`

// clusterSampleSQL is a sample ($9 percent of the pages) of the selected hazards, to
// split the dense tiles and start the heaviest first. It shapes the work, never the answer.
const clusterSampleSQL = `SELECT ST_X(h.geom_m), ST_Y(h.geom_m)
FROM hazards h TABLESAMPLE SYSTEM ($9::float4)
WHERE ` + hazardFilterSQL

// clusterSampleRows is about how many hazards clusterSampleSQL reads: the whole table
// while it holds fewer (or has not been analysed yet), else that share of its pages.
const clusterSampleRows = 20000

// samplePercentSQL is the share of hazards' pages that holds about $1 rows.
const samplePercentSQL = `SELECT CASE WHEN reltuples < $1::float8 THEN 100 ELSE greatest(0.01, 100 * $1::float8 / reltuples) END
FROM pg_class WHERE oid = 'hazards'::regclass`

// clusterShapeSQL makes each cluster's hull and centroid from the hull vertices of its
// nodes ($1 cluster, $2 x, $3 y) and the mean of its members ($4 cluster, $5 x, $6 y);
// $7 is the buffer for hulls that are points or lines.
const clusterShapeSQL = `WITH v AS (
  SELECT k, ST_ConvexHull(ST_Collect(ST_SetSRID(ST_MakePoint(x, y), 32651))) AS hull
  FROM unnest($1::int[], $2::float8[], $3::float8[]) AS u(k, x, y)
  GROUP BY k
)
SELECT c.k,
       ST_AsBinary(ST_Transform(CASE WHEN GeometryType(v.hull) = 'POLYGON' THEN v.hull ELSE ST_Buffer(v.hull, $7::float8, 8) END, 4326)),
       ST_X(w.g), ST_Y(w.g)
FROM unnest($4::int[], $5::float8[], $6::float8[]) AS c(k, cx, cy)
JOIN v ON v.k = c.k
CROSS JOIN LATERAL (SELECT ST_Transform(ST_SetSRID(ST_MakePoint(c.cx, c.cy), 32651), 4326) AS g) w
ORDER BY c.k`

const streetNamesSQL = `SELECT code, name FROM areas WHERE code = ANY($1::text[])`

// openSide stands for an unbounded side of an edge tile (UTM metres, far outside China).
const openSide = 1e9

// clusterJob is one tile: [x0, x1) × [y0, y1) in UTM metres. Its nominal square
// (nx0…ny1) is where it was cut from; open sides reach ±openSide.
type clusterJob struct {
	x0, x1, y0, y1     float64
	nx0, nx1, ny0, ny1 float64
	weight             int // sampled hazards, to split and order the jobs
}

// split cuts a job into its four quarters; open sides stay open.
func (j clusterJob) split() []clusterJob {
	mx, my := (j.nx0+j.nx1)/2, (j.ny0+j.ny1)/2
	out := make([]clusterJob, 0, 4)
	for _, xs := range [2][4]float64{{j.x0, mx, j.nx0, mx}, {mx, j.x1, mx, j.nx1}} {
		for _, ys := range [2][4]float64{{j.y0, my, j.ny0, my}, {my, j.y1, my, j.ny1}} {
			out = append(out, clusterJob{x0: xs[0], x1: xs[1], nx0: xs[2], nx1: xs[3], y0: ys[0], y1: ys[1], ny0: ys[2], ny1: ys[3]})
		}
	}
	return out
}

func (j clusterJob) contains(x, y float64) bool {
	return x >= j.x0 && x < j.x1 && y >= j.y0 && y < j.y1
}

// clusterNode is one tile's cluster, described by its home members.
type clusterNode struct {
	n, general, major int
	minID             int64
	sx, sy            float64
	hull              []orb.Point // the vertices of the convex hull of its home members
	streets           []string
	cats              []string
	catn              []int
}

// linkRow is a clustered hazard that may link two nodes.
type linkRow struct {
	dc   string
	id   int64
	node int32
}

type jobResult struct {
	nodes []clusterNode
	home  []linkRow // home hazards near the edge (all of them when members are kept)
	halo  []linkRow // halo copies
}

// sharedHazard is a hazard clustered in a halo: its home node and the halo nodes.
type sharedHazard struct {
	dc    string
	home  int32 // node of the home tile; -1 while unseen (noise at home)
	nodes []int32
}

// partition is the merged result: every node, the union-find over them, and (when
// asked for) every clustered home hazard with its node.
type partition struct {
	nodes   []clusterNode
	uf      *unionFind
	members []linkRow
}

// HazardClusters runs the partitioned DBSCAN over the hazards f selects and describes
// each cluster. When the work does not finish in time it says the request is too broad.
func (s *Service) HazardClusters(ctx context.Context, f HazardFilter, p ClusterParams) ([]HazardCluster, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	part, err := s.clusterPartitioned(ctx, f, p, false)
	if err == nil {
		var cs []HazardCluster
		if cs, err = s.describeClusters(ctx, part, p); err == nil {
			return cs, nil
		}
	}
	if isTimeout(ctx, err) {
		return nil, &grid.TooBroadError{What: "hazard clustering", Hint: "narrow the filter (district, street, level, status, category, dates) or use a smaller eps_m", Err: err}
	}
	return nil, err
}

// isTimeout: the context's deadline passed, or the server's statement_timeout did.
func isTimeout(ctx context.Context, err error) bool {
	var pe *pgconn.PgError
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) ||
		ctx.Err() == nil && errors.As(err, &pe) && pe.Code == "57014"
}

// clusterMembership is the partitioned DBSCAN with every clustered hazard's cluster, for
// the comparison with the plain query.
func (s *Service) clusterMembership(ctx context.Context, f HazardFilter, p ClusterParams) (membership, error) {
	part, err := s.clusterPartitioned(ctx, f, p, true)
	if err != nil {
		return membership{}, err
	}
	var m membership
	for _, r := range part.members {
		m.dc = append(m.dc, r.dc)
		m.id = append(m.id, r.id)
		m.cluster = append(m.cluster, part.uf.find(r.node))
	}
	m.renumber()
	return m, nil
}

// clusterJobs tiles the extent of what f can select.
func (s *Service) clusterJobs(ctx context.Context, f HazardFilter, p ClusterParams) ([]clusterJob, error) {
	args := f.args()
	var x0, y0, x1, y1 float64
	var err error
	if f.OfficerID > 0 && f.Street == "" && f.District == "" {
		err = s.db.QueryRow(ctx, clusterDataExtentSQL, args...).Scan(&x0, &y0, &x1, &y1)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, nil // nothing matches
		}
	} else {
		err = s.db.QueryRow(ctx, clusterExtentSQL, args[5], args[6]).Scan(&x0, &y0, &x1, &y1)
		if errors.Is(err, pgx.ErrNoRows) { // no such area: one open tile
			return []clusterJob{{x0: -openSide, x1: openSide, y0: -openSide, y1: openSide}}, nil
		}
	}
	if err != nil {
		return nil, err
	}
	t := p.tile()
	for (math.Floor(x1/t)-math.Floor(x0/t)+1)*(math.Floor(y1/t)-math.Floor(y0/t)+1) > 4096 {
		t *= 2
	}
	tx0, tx1 := int(math.Floor(x0/t)), int(math.Floor(x1/t))
	ty0, ty1 := int(math.Floor(y0/t)), int(math.Floor(y1/t))
	side := func(i, lo, hi int) (float64, float64, float64, float64) { // the same float for a shared border
		a, b := float64(i)*t, float64(i+1)*t
		na, nb := a, b
		if i == lo {
			a = -openSide
		}
		if i == hi {
			b = openSide
		}
		return a, b, na, nb
	}
	var jobs []clusterJob
	for i := tx0; i <= tx1; i++ {
		for j := ty0; j <= ty1; j++ {
			var jb clusterJob
			jb.x0, jb.x1, jb.nx0, jb.nx1 = side(i, tx0, tx1)
			jb.y0, jb.y1, jb.ny0, jb.ny1 = side(j, ty0, ty1)
			jobs = append(jobs, jb)
		}
	}
	// Dense tiles are cut into quarters until no job holds more than a 6·workers-th of
	// the sample (or a quarter would be narrower than minSide), so that the long jobs
	// start first and none is left to run alone at the end.
	var percent float64
	if err := s.db.QueryRow(ctx, samplePercentSQL, clusterSampleRows).Scan(&percent); err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, clusterSampleSQL, append(args, percent)...)
	if err != nil {
		return nil, err
	}
	var xs, ys []float64
	var x, y float64
	if _, err := pgx.ForEachRow(rows, []any{&x, &y}, func() error {
		xs, ys = append(xs, x), append(ys, y)
		return nil
	}); err != nil {
		return nil, err
	}
	count := func(j *clusterJob) {
		for i := range xs {
			if j.contains(xs[i], ys[i]) {
				j.weight++
			}
		}
	}
	limit := max(1, len(xs)/(6*p.groups(s)))
	minSide := p.minSplit()
	var out []clusterJob
	for len(jobs) > 0 {
		j := jobs[len(jobs)-1]
		jobs = jobs[:len(jobs)-1]
		count(&j)
		if j.weight > limit && (j.nx1-j.nx0)/2 >= minSide {
			jobs = append(jobs, j.split()...)
			continue
		}
		out = append(out, j)
	}
	jobs = out
	slices.SortStableFunc(jobs, func(a, b clusterJob) int { return cmp.Compare(b.weight, a.weight) })
	return jobs, nil
}

// clusterPartitioned runs the jobs and merges their nodes; keep lists every member.
func (s *Service) clusterPartitioned(ctx context.Context, f HazardFilter, p ClusterParams, keep bool) (*partition, error) {
	jobs, err := s.clusterJobs(ctx, f, p)
	if err != nil {
		return nil, err
	}
	workers := p.groups(s)
	results := make([]*jobResult, len(jobs))
	var next atomic.Int64
	err = concurrently(ctx, min(workers, len(jobs)), func(ctx context.Context, _ int) error {
		return withAnalysisSettings(ctx, s, func(tx pgx.Tx) error {
			// The workers are the parallelism: a job's own parallel workers would only
			// compete with the other jobs for the same cores.
			if _, err := tx.Exec(ctx, `SET LOCAL max_parallel_workers_per_gather = 0`); err != nil {
				return err
			}
			for {
				i := int(next.Add(1) - 1)
				if i >= len(jobs) {
					return nil
				}
				r, err := runClusterJob(ctx, tx, f, p, jobs[i], keep)
				if err != nil {
					return err
				}
				results[i] = r
			}
		})
	})
	if err != nil {
		return nil, err
	}
	// Node numbers of job i are offset by the nodes of the jobs before it.
	part := &partition{}
	halo := map[int64]*sharedHazard{}
	var home []linkRow
	for _, r := range results {
		offset := int32(len(part.nodes))
		part.nodes = append(part.nodes, r.nodes...)
		for _, h := range r.home {
			home = append(home, linkRow{h.dc, h.id, h.node + offset})
		}
		for _, h := range r.halo {
			sh := halo[h.id]
			if sh == nil {
				sh = &sharedHazard{dc: h.dc, home: -1}
				halo[h.id] = sh
			}
			sh.nodes = append(sh.nodes, h.node+offset)
		}
	}
	// A hazard clustered in its home tile and in another is a candidate link; a hazard
	// that is noise at home is not core, so it links nothing.
	var candDC []string
	var candID []int64
	for _, h := range home {
		if sh := halo[h.id]; sh != nil {
			sh.home = h.node
			candDC = append(candDC, sh.dc)
			candID = append(candID, h.id)
		}
	}
	part.uf = newUnionFind(len(part.nodes))
	if err := s.linkCores(ctx, f, p, workers, halo, part.uf, candDC, candID); err != nil {
		return nil, err
	}
	if keep {
		part.members = home
	}
	return part, nil
}

// runClusterJob runs one tile's statement.
func runClusterJob(ctx context.Context, tx pgx.Tx, f HazardFilter, p ClusterParams, j clusterJob, keep bool) (*jobResult, error) {
	r := &jobResult{}
	local := map[int32]int32{} // the statement's cluster number → node
	nodeOf := func(cid int32) int32 {
		n, ok := local[cid]
		if !ok {
			n = int32(len(r.nodes))
			local[cid] = n
			r.nodes = append(r.nodes, clusterNode{})
		}
		return n
	}
	args := append(f.args(), p.EpsM, p.MinPoints, j.x0, j.x1, j.y0, j.y1, 2*p.EpsM+1, keep) // +1 m: float slack
	rows, err := tx.Query(ctx, clusterJobSQL, args...)
	if err != nil {
		return nil, err
	}
	var (
		kind, cid, n, general, major int32
		dc                           string
		id                           int64
		sx, sy                       float64
		hull                         []byte
		streets, cats                []string
		catn                         []int
	)
	_, err = pgx.ForEachRow(rows, []any{&kind, &cid, &dc, &id, &n, &general, &major, &sx, &sy, &hull, &streets, &cats, &catn}, func() error {
		node := nodeOf(cid)
		switch kind {
		case 0:
			pts, err := hullVertices(hull)
			if err != nil {
				return err
			}
			r.nodes[node] = clusterNode{n: int(n), general: int(general), major: int(major), minID: id, sx: sx, sy: sy,
				hull: pts, streets: streets, cats: cats, catn: catn}
		case 1:
			r.home = append(r.home, linkRow{dc, id, node})
		default:
			r.halo = append(r.halo, linkRow{dc, id, node})
		}
		return nil
	})
	return r, err
}

// hullVertices are the points of a convex hull as ST_ConvexHull returns it (a point, a
// line or a polygon).
func hullVertices(b []byte) ([]orb.Point, error) {
	g, err := wkb.Unmarshal(b)
	if err != nil {
		return nil, fmt.Errorf("node hull: %w", err)
	}
	switch g := g.(type) {
	case orb.Point:
		return []orb.Point{g}, nil
	case orb.MultiPoint:
		return g, nil
	case orb.LineString:
		return g, nil
	case orb.Polygon:
		return g[0], nil
	}
	return nil, fmt.Errorf("node hull is a %s", g.GeoJSONType())
}

// describeClusters merges the nodes into clusters, numbers them (largest first, ties by
// smallest hazard id) and makes their shapes.
func (s *Service) describeClusters(ctx context.Context, part *partition, p ClusterParams) ([]HazardCluster, error) {
	type acc struct {
		n, general, major int
		minID             int64
		sx, sy            float64
		hull              []orb.Point
		streets           map[string]bool
		cats              map[string]int
	}
	byRoot := map[int32]*acc{}
	var roots []int32
	for i, nd := range part.nodes {
		if nd.n == 0 {
			continue
		}
		r := part.uf.find(int32(i))
		a := byRoot[r]
		if a == nil {
			a = &acc{minID: math.MaxInt64, streets: map[string]bool{}, cats: map[string]int{}}
			byRoot[r] = a
			roots = append(roots, r)
		}
		a.n += nd.n
		a.general += nd.general
		a.major += nd.major
		a.minID = min(a.minID, nd.minID)
		a.sx += nd.sx
		a.sy += nd.sy
		a.hull = append(a.hull, nd.hull...)
		for _, st := range nd.streets {
			a.streets[st] = true
		}
		for i, c := range nd.cats {
			a.cats[c] += nd.catn[i]
		}
	}
	if len(roots) == 0 {
		return []HazardCluster{}, nil
	}
	slices.SortFunc(roots, func(x, y int32) int {
		a, b := byRoot[x], byRoot[y]
		if a.n != b.n {
			return b.n - a.n
		}
		return cmp.Compare(a.minID, b.minID)
	})
	out := make([]HazardCluster, len(roots))
	var hk, ck []int32
	var hx, hy, cx, cy []float64
	codes := map[string]bool{}
	for i, r := range roots {
		a := byRoot[r]
		k := int32(i + 1)
		for _, v := range a.hull {
			hk, hx, hy = append(hk, k), append(hx, v[0]), append(hy, v[1])
		}
		ck, cx, cy = append(ck, k), append(cx, a.sx/float64(a.n)), append(cy, a.sy/float64(a.n))
		c := HazardCluster{ID: int(k), Members: a.n, Levels: map[string]int{"一般": a.general, "重大": a.major}, Streets: []StreetRef{}}
		best := -1
		for cat, n := range a.cats { // the most common; ties: the first in byte order
			if n > best || n == best && cat < c.TopCategory {
				c.TopCategory, best = cat, n
			}
		}
		for st := range a.streets {
			c.Streets = append(c.Streets, StreetRef{Code: st})
			codes[st] = true
		}
		slices.SortFunc(c.Streets, func(x, y StreetRef) int { return cmp.Compare(x.Code, y.Code) })
		out[i] = c
	}
	names := map[string]string{}
	rows, err := s.db.Query(ctx, streetNamesSQL, slices.Collect(maps.Keys(codes)))
	if err != nil {
		return nil, err
	}
	var code, name string
	if _, err := pgx.ForEachRow(rows, []any{&code, &name}, func() error { names[code] = name; return nil }); err != nil {
		return nil, err
	}
	rows, err = s.db.Query(ctx, clusterShapeSQL, hk, hx, hy, ck, cx, cy, p.EpsM/2)
	if err != nil {
		return nil, err
	}
	var (
		k    int32
		hull []byte
		lon  float64
		lat  float64
	)
	if _, err := pgx.ForEachRow(rows, []any{&k, &hull, &lon, &lat}, func() error {
		c := &out[k-1]
		g, err := wkb.Unmarshal(hull)
		if err != nil {
			return fmt.Errorf("cluster %d hull: %w", k, err)
		}
		poly, ok := g.(orb.Polygon)
		if !ok {
			return fmt.Errorf("cluster %d hull is a %s", k, g.GeoJSONType())
		}
		c.Hull, c.Centroid = poly, orb.Point{lon, lat}
		return nil
	}); err != nil {
		return nil, err
	}
	for i := range out {
		for j := range out[i].Streets {
			out[i].Streets[j].Name = names[out[i].Streets[j].Code]
		}
	}
	return out, nil
}
