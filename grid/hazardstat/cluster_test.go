package hazardstat_test

import (
	"context"
	"errors"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkt"
	"github.com/paulmach/orb/planar"

	"safegrid/grid"
	"safegrid/grid/hazardstat"
	"safegrid/grid/testdb"
)

// utmHazard is a synthetic hazard placed in UTM 51N metres.
type utmHazard struct {
	x, y            float64
	level, category string
	street          string
}

// seedClusterAreas adds one district and two of its streets, around People's Square.
func seedClusterAreas(t *testing.T, st *grid.Store) {
	t.Helper()
	for _, q := range []string{
		`INSERT INTO areas (code, name, geom) VALUES ('310101', '黄浦区', ST_Multi(ST_MakeEnvelope(121.30, 31.10, 121.60, 31.35, 4326)))`,
		`INSERT INTO areas (code, name, geom) VALUES ('310101002', '南京东路街道', ST_Multi(ST_MakeEnvelope(121.30, 31.10, 121.45, 31.35, 4326)))`,
		`INSERT INTO areas (code, name, geom) VALUES ('310101013', '外滩街道', ST_Multi(ST_MakeEnvelope(121.45, 31.10, 121.60, 31.35, 4326)))`,
	} {
		if _, err := testdb.DB(st).Exec(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
}

// insertUTMHazards writes hazards at UTM points; their h3 is left 0 (clustering ignores it).
func insertUTMHazards(t *testing.T, st *grid.Store, hs []utmHazard) {
	t.Helper()
	var xs, ys []float64
	var levels, cats, streets []string
	for _, h := range hs {
		lv, cat, street := h.level, h.category, h.street
		if lv == "" {
			lv = "一般"
		}
		if cat == "" {
			cat = "消防安全"
		}
		xs, ys, levels, cats, streets = append(xs, h.x), append(ys, h.y), append(levels, lv), append(cats, cat), append(streets, street)
	}
	_, err := testdb.DB(st).Exec(context.Background(), `INSERT INTO hazards (district_code, level, category, description, street_code, h3, geom)
SELECT '310101', l, c, 'synthetic', nullif(s, ''), 0, ST_Transform(ST_SetSRID(ST_MakePoint(x, y), 32651), 4326)
FROM unnest($1::float8[], $2::float8[], $3::text[], $4::text[], $5::text[]) AS u(x, y, l, c, s)`, xs, ys, levels, cats, streets)
	if err != nil {
		t.Fatal(err)
	}
}

// borderHazards builds a few thousand hazards around tile borders (multiples of tile
// metres): blobs centred on borders and corners, chains that cross borders and hold
// together only link by link, and uniform noise.
func borderHazards(tile float64, seed uint64) []utmHazard {
	r := rand.New(rand.NewPCG(seed, 1))
	const x0, y0 = 350000.0, 3450000.0 // multiples of every tile size used
	var hs []utmHazard
	levels := []string{"一般", "一般", "一般", "重大"}
	add := func(x, y float64) {
		hs = append(hs, utmHazard{x: x, y: y, level: levels[r.IntN(len(levels))]})
	}
	for range 40 {
		cx := x0 + tile*float64(1+r.IntN(3))
		cy := y0 + tile*float64(1+r.IntN(3))
		switch r.IntN(3) { // on a vertical border, a horizontal one, or a corner
		case 0:
			cy += r.Float64() * tile
		case 1:
			cx += r.Float64() * tile
		}
		sd := 20 + r.Float64()*80
		for range 15 + r.IntN(60) {
			add(cx+r.NormFloat64()*sd, cy+r.NormFloat64()*sd)
		}
	}
	for range 10 { // chains across a border, points 40 m apart
		cx := x0 + tile*float64(1+r.IntN(3))
		cy := y0 + tile*float64(1+r.IntN(3)) + r.Float64()*tile
		a := r.Float64() * math.Pi
		for i := -15; i <= 15; i++ {
			for range 3 {
				add(cx+float64(i)*40*math.Cos(a)+r.NormFloat64()*5, cy+float64(i)*40*math.Sin(a)+r.NormFloat64()*5)
			}
		}
	}
	for range 1500 {
		add(x0+r.Float64()*4*tile, y0+r.Float64()*4*tile)
	}
	return hs
}

// TestClusterPartitionedMatchesPlain compares the partitioned DBSCAN with the plain
// ST_ClusterDBSCAN(...) OVER () on the same hazards: the same noise, the same clusters as
// sets of core hazards, and every border hazard in a cluster that has a core within eps.
func TestClusterPartitionedMatchesPlain(t *testing.T) {
	st := testdb.New(t, nil)
	ctx := context.Background()
	seedClusterAreas(t, st)
	const tile = 2000.0
	insertUTMHazards(t, st, borderHazards(tile, 7))

	// The hazards as stored (metres after the round trip through WGS84).
	pos := map[int64]orb.Point{}
	rows, err := testdb.DB(st).Query(ctx, `SELECT id, ST_X(geom_m), ST_Y(geom_m), level FROM hazards`)
	if err != nil {
		t.Fatal(err)
	}
	level := map[int64]string{}
	for rows.Next() {
		var id int64
		var x, y float64
		var lv string
		if err := rows.Scan(&id, &x, &y, &lv); err != nil {
			t.Fatal(err)
		}
		pos[id] = orb.Point{x, y}
		level[id] = lv
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name    string
		eps     float64
		minPts  int
		workers int // statements sharing the tiles: never changes the answer
		f       hazardstat.HazardFilter
	}{
		{"eps 50 min 5", 50, 5, 1, hazardstat.HazardFilter{}},
		{"eps 120 min 4", 120, 4, 3, hazardstat.HazardFilter{}},
		{"eps 30 min 3", 30, 3, 0, hazardstat.HazardFilter{}},
		{"eps 80 min 3, 重大 only", 80, 3, 2, hazardstat.HazardFilter{Levels: []string{"重大"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := hazardstat.ClusterParams{EpsM: tc.eps, MinPoints: tc.minPts, TileM: tile, Workers: tc.workers}
			plain, err := hazardstat.ClusterMembers(ctx, st, tc.f, p, true)
			if err != nil {
				t.Fatal(err)
			}
			part, err := hazardstat.ClusterMembers(ctx, st, tc.f, p, false)
			if err != nil {
				t.Fatal(err)
			}
			// Core hazards by brute force over the filtered set.
			var ids []int64
			for id := range pos {
				if len(tc.f.Levels) == 0 || slices.Contains(tc.f.Levels, level[id]) {
					ids = append(ids, id)
				}
			}
			core := map[int64]bool{}
			for _, a := range ids {
				n := 0
				for _, b := range ids {
					if planar.Distance(pos[a], pos[b]) <= tc.eps {
						n++
					}
				}
				core[a] = n >= tc.minPts
			}

			if len(plain) != len(part) {
				t.Errorf("clustered hazards: plain %d, partitioned %d", len(plain), len(part))
			}
			for id := range plain {
				if _, ok := part[id]; !ok {
					t.Errorf("hazard %d clustered by plain DBSCAN is noise when partitioned", id)
				}
			}
			// Clusters as sets of cores: a bijection between plain and partitioned ids.
			p2q, q2p := map[int32]int32{}, map[int32]int32{}
			crossing := map[int32]map[[2]int]bool{}
			for id, pc := range plain {
				if !core[id] {
					continue
				}
				qc, ok := part[id]
				if !ok {
					continue
				}
				if prev, seen := p2q[pc]; seen && prev != qc {
					t.Errorf("plain cluster %d is split into partitioned %d and %d", pc, prev, qc)
				}
				if prev, seen := q2p[qc]; seen && prev != pc {
					t.Errorf("partitioned cluster %d joins plain %d and %d", qc, prev, pc)
				}
				p2q[pc], q2p[qc] = qc, pc
				if crossing[pc] == nil {
					crossing[pc] = map[[2]int]bool{}
				}
				crossing[pc][[2]int{int(math.Floor(pos[id][0] / tile)), int(math.Floor(pos[id][1] / tile))}] = true
			}
			// Every clustered hazard is core or within eps of a core of its own cluster.
			coresOf := map[int32][]int64{}
			for id, qc := range part {
				if core[id] {
					coresOf[qc] = append(coresOf[qc], id)
				}
			}
			for id, qc := range part {
				if core[id] {
					continue
				}
				if !slices.ContainsFunc(coresOf[qc], func(c int64) bool { return planar.Distance(pos[id], pos[c]) <= tc.eps }) {
					t.Errorf("border hazard %d is in cluster %d but no core of it is within eps", id, qc)
				}
			}
			multi := 0
			for _, tiles := range crossing {
				if len(tiles) > 1 {
					multi++
				}
			}
			t.Logf("%d hazards, %d clustered, %d clusters, %d of them span tiles", len(ids), len(part), len(p2q), multi)
			if multi < 5 {
				t.Errorf("only %d clusters span a tile border: the test data does not test the merge", multi)
			}
		})
	}
}

func TestHazardClustersDescribe(t *testing.T) {
	st := testdb.New(t, nil)
	ctx := context.Background()
	seedClusterAreas(t, st)
	// Hazards across the two streets' border (lon 121.45 ≈ x 355,000 m at y 3,455,000 m).
	var hs []utmHazard
	for i := range 6 { // a blob of 6 hazards, 3 on each street
		street := "310101002"
		if i%2 == 1 {
			street = "310101013"
		}
		lv := "一般"
		if i == 0 {
			lv = "重大"
		}
		cat := "消防安全"
		if i >= 4 {
			cat = "用电安全"
		}
		hs = append(hs, utmHazard{x: 352000 + float64(i%3)*20, y: 3455000 + float64(i/3)*20, level: lv, category: cat, street: street})
	}
	hs = append(hs,
		utmHazard{x: 360000, y: 3455000, street: "310101013"}, // a pair: the hull is a line
		utmHazard{x: 360030, y: 3455000, street: "310101013"},
		utmHazard{x: 365000, y: 3455000}, // noise
	)
	insertUTMHazards(t, st, hs)

	cs, err := hazardstat.New(st).HazardClusters(ctx, hazardstat.HazardFilter{}, hazardstat.ClusterParams{EpsM: 50, MinPoints: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 {
		t.Fatalf("%d clusters, want 2: %+v", len(cs), cs)
	}
	a, b := cs[0], cs[1]
	if a.ID != 1 || a.Members != 6 || a.Levels["重大"] != 1 || a.Levels["一般"] != 5 || a.TopCategory != "消防安全" {
		t.Errorf("first cluster %+v", a)
	}
	if len(a.Streets) != 2 || a.Streets[0] != (hazardstat.StreetRef{Code: "310101002", Name: "南京东路街道"}) || a.Streets[1].Name != "外滩街道" {
		t.Errorf("first cluster's streets %+v", a.Streets)
	}
	if b.ID != 2 || b.Members != 2 || len(b.Streets) != 1 || b.Streets[0].Code != "310101013" {
		t.Errorf("second cluster %+v", b)
	}
	for _, c := range cs {
		if len(c.Hull) != 1 || len(c.Hull[0]) < 4 || planar.Area(c.Hull) <= 0 {
			t.Errorf("cluster %d hull %v", c.ID, c.Hull)
		}
		if !planar.PolygonContains(c.Hull, c.Centroid) || c.Centroid[0] < 121 || c.Centroid[0] > 122 || c.Centroid[1] < 31 || c.Centroid[1] > 31.5 {
			t.Errorf("cluster %d centroid %v outside its hull or not lon/lat", c.ID, c.Centroid)
		}
	}

	// Filters: only the street 310101002's hazards: 3 of the blob are left.
	cs, err = hazardstat.New(st).HazardClusters(ctx, hazardstat.HazardFilter{Street: "310101002"}, hazardstat.ClusterParams{EpsM: 50, MinPoints: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 || cs[0].Members != 3 {
		t.Errorf("street filter: %+v", cs)
	}
	if _, err := hazardstat.New(st).HazardClusters(ctx, hazardstat.HazardFilter{}, hazardstat.ClusterParams{EpsM: 0, MinPoints: 2}); err == nil {
		t.Error("eps 0 accepted")
	}
}

// TestClusterBorderHazardDoesNotMerge: two clusters on either side of a tile border, 90 m
// apart, and one hazard on the border within eps of one hazard of each. It is clustered
// in both tiles but is not core (3 hazards within eps, itself included, min_points 4), so
// the clusters stay two, as in the plain DBSCAN; a chain of core hazards across the same
// border stays one.
func TestClusterBorderHazardDoesNotMerge(t *testing.T) {
	st := testdb.New(t, nil)
	ctx := context.Background()
	seedClusterAreas(t, st)
	const border, y = 352000.0, 3452500.0 // a multiple of the 2,000 m tile
	var hs []utmHazard
	for _, dx := range []float64{45, 60, 62, 64, 66} {
		hs = append(hs, utmHazard{x: border - dx, y: y}, utmHazard{x: border + dx, y: y})
	}
	hs = append(hs, utmHazard{x: border, y: y})
	for i := -6; i <= 6; i++ { // the chain, 1 km away: 3 hazards every 30 m
		for j := range 3 {
			hs = append(hs, utmHazard{x: border + float64(i)*30, y: y + 1000 + float64(j)*3})
		}
	}
	insertUTMHazards(t, st, hs)
	p := hazardstat.ClusterParams{EpsM: 50, MinPoints: 4, TileM: 2000}
	for _, plain := range []bool{true, false} {
		m, err := hazardstat.ClusterMembers(ctx, st, hazardstat.HazardFilter{}, p, plain)
		if err != nil {
			t.Fatal(err)
		}
		clusters := map[int32]int{}
		for _, c := range m {
			clusters[c]++
		}
		// The chain (39) is cluster 1; the two sides 5 each, the border hazard in one of them.
		if len(m) != 50 || len(clusters) != 3 || clusters[1] != 39 || clusters[2]+clusters[3] != 11 {
			t.Errorf("plain %v: %d clustered, clusters by size %v; want 50 in 3 (39, 6, 5)", plain, len(m), clusters)
		}
	}
}

// TestClusterSummariesMatchSQL: the clusters the service describes from its tiles'
// summaries (counts, levels, most common category, streets, hull of the hull vertices,
// centroid from coordinate sums) are what one plain SQL statement over every member says.
func TestClusterSummariesMatchSQL(t *testing.T) {
	st := testdb.New(t, nil)
	ctx := context.Background()
	seedClusterAreas(t, st)
	insertUTMHazards(t, st, borderHazards(2000, 11))
	if _, err := testdb.DB(st).Exec(ctx, `UPDATE hazards SET category = (ARRAY['消防安全', '用电安全', '危化品管理'])[1 + id % 3],
  street_code = CASE id % 4 WHEN 0 THEN NULL WHEN 1 THEN '310101002' ELSE '310101013' END`); err != nil {
		t.Fatal(err)
	}
	for _, p := range []hazardstat.ClusterParams{{EpsM: 50, MinPoints: 5, TileM: 2000}, {EpsM: 30, MinPoints: 3, TileM: 2000, Workers: 3}, {EpsM: 100, MinPoints: 4}} {
		got, ref, err := hazardstat.ClustersBothWays(ctx, st, hazardstat.HazardFilter{}, p)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(ref) || len(got) < 20 {
			t.Fatalf("%+v: %d clusters, reference %d", p, len(got), len(ref))
		}
		for i, c := range got {
			r := ref[i]
			var streets []string
			for _, s := range c.Streets {
				streets = append(streets, s.Code)
			}
			if c.ID != r.ID || c.Members != r.Members || c.Levels["一般"] != r.General || c.Levels["重大"] != r.Major ||
				c.TopCategory != r.TopCategory || !slices.Equal(streets, r.Streets) {
				t.Errorf("%+v cluster %d: %+v, reference %+v", p, c.ID, c, r)
			}
			if math.Abs(c.Centroid[0]-r.Centroid[0]) > 1e-9 || math.Abs(c.Centroid[1]-r.Centroid[1]) > 1e-9 {
				t.Errorf("cluster %d centroid %v, reference %v", c.ID, c.Centroid, r.Centroid)
			}
			g, err := wkt.Unmarshal(r.HullWKT)
			if err != nil {
				t.Fatal(err)
			}
			want, ok := g.(orb.Polygon)
			if !ok || len(want) != 1 || len(c.Hull) != 1 || !sameVertices(c.Hull[0], want[0]) {
				t.Errorf("cluster %d hull %v, reference %v", c.ID, c.Hull, r.HullWKT)
			}
		}
	}
}

// sameVertices: the two closed rings have the same vertices (each may start anywhere).
func sameVertices(a, b orb.Ring) bool {
	set := func(r orb.Ring) map[[2]float64]bool {
		m := map[[2]float64]bool{}
		for _, p := range r {
			m[[2]float64{math.Round(p[0]*1e9) / 1e9, math.Round(p[1]*1e9) / 1e9}] = true
		}
		return m
	}
	return maps.Equal(set(a), set(b))
}

// TestHazardClustersTooBroad: clustering that runs out of time says the request is too
// broad (the API's 422), not that the service is unavailable.
func TestHazardClustersTooBroad(t *testing.T) {
	st := testdb.New(t, nil)
	seedClusterAreas(t, st)
	insertUTMHazards(t, st, borderHazards(2000, 3))
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	_, err := hazardstat.New(st).HazardClusters(ctx, hazardstat.HazardFilter{}, hazardstat.ClusterParams{EpsM: 50, MinPoints: 5})
	var tb *grid.TooBroadError
	if !errors.As(err, &tb) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v (%T)", err, err)
	}
}
