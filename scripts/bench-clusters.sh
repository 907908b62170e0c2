#!/usr/bin/env bash
# bench-clusters: city-wide hazard clustering (DBSCAN) on the scaled data set (2,000,000
# hazards): the service's partitioned clustering against the plain
# ST_ClusterDBSCAN(geom_m, eps, min_points) OVER (), RUNS times each (alternating), median
# and ratio, and a check that both give the same clusters (BenchmarkClusterCity in
# grid/hazardstat/cluster_bench_test.go does the timing and the check).
#
# Usage: scripts/bench-clusters.sh   (DATABASE_URL names the server; default: the private
# cluster from scripts/db.sh). The data set is loaded once into the database
# safegrid_bench_clusters and reused while it holds the hazards; the import files come
# from BENCH_DIR (default /var/tmp/safegrid-bench/data, written by bench-import.sh or
# generated here with `safegrid generate --scale 50`).
# EPS_M (100), MIN_POINTS (10), RUNS (3), TILE_M and WORKERS adjust the run.
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE=${SCALE:-50}
BIN=${BIN:-bin/safegrid}
work=${BENCH_DIR:-/var/tmp/safegrid-bench}
export CGO_ENABLED=1
. scripts/lib.sh

base=${DATABASE_URL:-$(scripts/db.sh start)}
admin=$(db_url postgres)
bench=$(db_url safegrid_bench_clusters)

[ -x "$BIN" ] || go build -o "$BIN" ./cmd/safegrid
generate_once "$BIN" "$work/data" "$SCALE" hazards.geojson
want=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(next(f["rows"] for f in m["files"] if f["kind"]=="hazards"))' "$work/data/manifest.json" 2>/dev/null || echo 0)
have=$(psql -tAq "$bench" -c "SELECT count(*) FROM hazards" 2>/dev/null || echo -1)
if [ "$have" != "$want" ] || [ "$want" = 0 ]; then
	echo "loading $want hazards into safegrid_bench_clusters (a few minutes)" >&2
	psql -q "$admin" -c "DROP DATABASE IF EXISTS safegrid_bench_clusters WITH (FORCE)" -c "CREATE DATABASE safegrid_bench_clusters"
	DATABASE_URL=$bench "$BIN" migrate >&2
	DATABASE_URL=$bench "$BIN" import --kind areas "$work/data/areas.geojson" >&2
	DATABASE_URL=$bench "$BIN" import --kind hazards --ignore-unknown "$work/data/hazards.geojson" >&2
	psql -q "$bench" -c "VACUUM ANALYZE hazards"
fi

SAFEGRID_BENCH_CLUSTERS_URL=$bench go test ./grid/hazardstat -run '^$' -bench '^BenchmarkClusterCity$' -benchtime 1x -timeout 60m -count 1 |
	grep -v -E '^(goos|goarch|pkg|cpu|PASS|ok)'
