package hazardstat_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"safegrid/grid"
	"safegrid/grid/hazardstat"
	"safegrid/grid/testdb"
)

// BenchmarkClusterCity times city-wide DBSCAN on a loaded database (the scale-50 data set,
// 2M hazards): the service's partitioned clustering against the plain
// ST_ClusterDBSCAN(geom_m, eps, min_points) OVER (), median of RUNS each, and checks that
// both give the same clusters. scripts/bench-clusters.sh loads the data and runs it:
//
//	SAFEGRID_BENCH_CLUSTERS_URL=postgres://… go test ./grid/hazardstat -run '^$' -bench ClusterCity -benchtime 1x
//
// EPS_M (100), MIN_POINTS (10), RUNS (3), TILE_M and WORKERS (0: the service's choice)
// adjust it.
func BenchmarkClusterCity(b *testing.B) {
	url := os.Getenv("SAFEGRID_BENCH_CLUSTERS_URL")
	if url == "" {
		b.Skip("SAFEGRID_BENCH_CLUSTERS_URL names no loaded database; scripts/bench-clusters.sh sets it")
	}
	env := func(name string, def float64) float64 {
		if v, err := strconv.ParseFloat(os.Getenv(name), 64); err == nil {
			return v
		}
		return def
	}
	p := hazardstat.ClusterParams{EpsM: env("EPS_M", 100), MinPoints: int(env("MIN_POINTS", 10)), Workers: int(env("WORKERS", 0)), TileM: env("TILE_M", 0)}
	runs := int(env("RUNS", 3))
	ctx := context.Background()
	st, err := grid.Open(ctx, url) // the default pool, as the service has
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	var n int
	if err := testdb.DB(st).QueryRow(ctx, `SELECT count(*) FROM hazards`).Scan(&n); err != nil {
		b.Fatal(err)
	}
	// The two run alternately, so that load from elsewhere falls on both alike.
	var plainM, partM map[int64]int32
	var plainS, partS []float64
	b.ResetTimer()
	for range runs {
		for _, plain := range []bool{true, false} {
			t0 := time.Now()
			m, err := hazardstat.ClusterMembers(ctx, st, hazardstat.HazardFilter{}, p, plain)
			if err != nil {
				b.Fatal(err)
			}
			if plain {
				plainM, plainS = m, append(plainS, time.Since(t0).Seconds())
			} else {
				partM, partS = m, append(partS, time.Since(t0).Seconds())
			}
		}
	}
	// The service's whole call: the partitioned clustering and the clusters' description,
	// as GET /api/v1/analysis/hazard-clusters runs it.
	var fullS []float64
	var clusters int
	for range runs {
		t0 := time.Now()
		cs, err := hazardstat.New(st).HazardClusters(ctx, hazardstat.HazardFilter{}, p)
		if err != nil {
			b.Fatal(err)
		}
		fullS, clusters = append(fullS, time.Since(t0).Seconds()), len(cs)
	}
	b.StopTimer()
	same, detail := sameClusters(ctx, b, st, p, plainM, partM)

	fmt.Printf("\n%d hazards, eps %g m, min_points %d, %d runs each (%s)\n", n, p.EpsM, p.MinPoints, runs, time.Now().UTC().Format(time.DateOnly))
	fmt.Printf("%-48s %10s  %s\n", "method", "median s", "runs")
	fmt.Printf("%-48s %10.2f  %v\n", "plain ST_ClusterDBSCAN(...) OVER ()", median(plainS), rounded(plainS))
	fmt.Printf("%-48s %10.2f  %v\n", "partitioned (tiles + 2·eps halo, merged)", median(partS), rounded(partS))
	fmt.Printf("%-48s %10.2f  %v\n", "HazardClusters (partitioned + description)", median(fullS), rounded(fullS))
	fmt.Printf("speed-up: %.2f× (target ≥ 3); %d clusters described\n", median(plainS)/median(partS), clusters)
	fmt.Printf("same clusters: %v (%s)\n", same, detail)
	b.ReportMetric(median(plainS)/median(partS), "speedup")
	if !same {
		b.Error("the partitioned clusters differ from the plain ones")
	}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func rounded(v []float64) []string {
	out := make([]string, len(v))
	for i, x := range v {
		out[i] = strconv.FormatFloat(x, 'f', 2, 64)
	}
	return out
}

// sameClusters checks two memberships as the tests do: the same clustered hazards, and
// the same clusters as sets of core hazards (core counted here in Go on a grid of eps
// buckets); border hazards may sit in either neighbouring cluster.
func sameClusters(ctx context.Context, b *testing.B, st *grid.Store, p hazardstat.ClusterParams, plain, part map[int64]int32) (bool, string) {
	rows, err := testdb.DB(st).Query(ctx, `SELECT id, ST_X(geom_m), ST_Y(geom_m) FROM hazards`)
	if err != nil {
		b.Fatal(err)
	}
	type pt struct {
		id   int64
		x, y float64
	}
	var pts []pt
	for rows.Next() {
		var q pt
		if err := rows.Scan(&q.id, &q.x, &q.y); err != nil {
			b.Fatal(err)
		}
		pts = append(pts, q)
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	type key struct{ i, j int64 }
	bucket := map[key][]int32{}
	k := func(x, y float64) key { return key{int64(math.Floor(x / p.EpsM)), int64(math.Floor(y / p.EpsM))} }
	for i, q := range pts {
		bucket[k(q.x, q.y)] = append(bucket[k(q.x, q.y)], int32(i))
	}
	eps2 := p.EpsM * p.EpsM
	cores := 0
	p2q, q2p := map[int32]int32{}, map[int32]int32{}
	diff := 0
	for _, q := range pts {
		if (plain[q.id] == 0) != (part[q.id] == 0) {
			diff++
		}
	}
	if diff > 0 {
		return false, fmt.Sprintf("%d hazards clustered by one and noise in the other", diff)
	}
	for _, q := range pts {
		c := k(q.x, q.y)
		n := 0
		for di := int64(-1); di <= 1; di++ {
			for dj := int64(-1); dj <= 1; dj++ {
				for _, o := range bucket[key{c.i + di, c.j + dj}] {
					dx, dy := pts[o].x-q.x, pts[o].y-q.y
					if dx*dx+dy*dy <= eps2 {
						n++
					}
				}
			}
		}
		if n < p.MinPoints {
			continue
		}
		cores++
		a, z := plain[q.id], part[q.id]
		if prev, ok := p2q[a]; ok && prev != z {
			return false, fmt.Sprintf("plain cluster %d is split", a)
		}
		if prev, ok := q2p[z]; ok && prev != a {
			return false, fmt.Sprintf("partitioned cluster %d joins two plain ones", z)
		}
		p2q[a], q2p[z] = z, a
	}
	moved := 0
	for id, a := range plain {
		if p2q[a] != part[id] {
			moved++
		}
	}
	return true, fmt.Sprintf("%d clusters, %d clustered hazards, %d core; %d border hazards in another neighbouring cluster", len(p2q), len(plain), cores, moved)
}
