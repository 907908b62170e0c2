#!/usr/bin/env bash
# bench-api: three read endpoints under 64 concurrent connections on loopback, against
# their floor (the same store calls the handlers make, straight through pgx over a pool of
# the server's size), on the scaled data set (generate --scale 50: 1M enterprises, 2M
# hazards, 2,596 users, 2,376 grid units with officers):
#   street  GET /api/v1/streets/{code}/hazards as that street's office (first page of 100)
#   cell    GET /api/v1/cells/{cell} as the officer of that cell
#   tile    GET /tiles/enterprises/12/{x}/{y}.mvt as a planner (every zoom-12 tile with
#           an enterprise)
# `safegrid bench api` is the load generator (internal/loadgen); it prints each round and
# a Markdown table of the medians with the verdicts (p99 ≤ 25 ms, ≥ 70% of the floor).
# The data set is loaded once into the database safegrid_bench_api and reused (a row in
# its audit_log records the scale); the server runs on a free loopback port for the run.
# Usage: DATABASE_URL=... scripts/bench-api.sh   (make bench-api sets it)
# Env: SCALE (50), WORKERS (64), DURATION (10s), WARMUP (2s), ROUNDS (3), MAX_CONNS (the
#      server's and the floor's pool; empty: pgxpool's default), ONLY (street,cell,tile),
#      SETUP_ONLY=1 (load the data and stop), BENCH_DIR (/var/tmp/safegrid-bench),
#      PPROF=127.0.0.1:6060 (serve the server's pprof profiles there during the run),
#      RESPONSE_CACHE_MB (the server's kept answers, api/respcache.go; default 256, 0 turns
#      them off, so every request runs its queries).
# The server keeps answers until the data under them changes, so after the warm-up most of
# its requests are answered from memory; the lookups (hit, miss, shared) are printed at the
# end. RESPONSE_CACHE_MB=0 measures the query path alone against the same floor.
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE=${SCALE:-50}
WORKERS=${WORKERS:-64}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
ROUNDS=${ROUNDS:-3}
MAX_CONNS=${MAX_CONNS:-0}
BIN=${BIN:-bin/safegrid}
work=${BENCH_DIR:-/var/tmp/safegrid-bench}
data="$work/data"
mkdir -p "$work"
. scripts/lib.sh
export CGO_ENABLED=1
[ -x "$BIN" ] || go build -o "$BIN" ./cmd/safegrid

base=${DATABASE_URL:?set DATABASE_URL}
admin=$(db_url postgres)
db=safegrid_bench_api
bench=$(db_url $db)

# --- data: generated once, loaded once -------------------------------------------------
generate_once "$BIN" "$data" "$SCALE" hazards.geojson
loaded=$(psql -tA "$bench" -c "SELECT target FROM audit_log WHERE action = 'bench-api' ORDER BY id DESC LIMIT 1" 2>/dev/null || true)
if [ "$loaded" != "scale $SCALE" ]; then
	echo "loading scale $SCALE into $db (a few minutes)" >&2
	psql -q "$admin" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
	DATABASE_URL=$bench "$BIN" bench load "$data" >&2
	psql -q "$bench" -c "VACUUM ANALYZE" -c "INSERT INTO audit_log (actor, action, target) VALUES ('bench', 'bench-api', 'scale $SCALE')"
fi
[ "${SETUP_ONLY:-}" = 1 ] && exit 0
echo "data: $(psql -tA "$bench" -c "SELECT format('%s enterprises, %s hazards, %s users, %s grid units (%s with an officer), %s grid cells',
	(SELECT count(*) FROM enterprises), (SELECT count(*) FROM hazards), (SELECT count(*) FROM users),
	(SELECT count(*) FROM grid_units), (SELECT count(*) FROM grid_units WHERE officer_id IS NOT NULL), (SELECT count(*) FROM grid_cells))"); $(nproc) CPUs"

# --- the server, on a free loopback port -------------------------------------------------
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log="$work/bench-api-server.log"
DATABASE_URL=$bench "$BIN" serve --listen "127.0.0.1:$port" --max-conns "$MAX_CONNS" ${PPROF:+--pprof "$PPROF"} \
	--response-cache-mb "${RESPONSE_CACHE_MB:-256}" >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do
	curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
	kill -0 $server 2>/dev/null || { echo "the server did not start:" >&2; tail -5 "$log" >&2; exit 1; }
	sleep 0.2
done
echo "server: http://127.0.0.1:$port (log $log); load before: $(uptime | sed 's/.*load average/load average/')"

DATABASE_URL=$bench "$BIN" bench api --server "http://127.0.0.1:$port" --workers "$WORKERS" --max-conns "$MAX_CONNS" \
	--duration "$DURATION" --warmup "$WARMUP" --rounds "$ROUNDS" ${ONLY:+--only "$ONLY"}
echo "server's kept answers (response cache ${RESPONSE_CACHE_MB:-256} MB): $(curl -fsS "http://127.0.0.1:$port/metrics" |
	sed -n 's/^safegrid_response_cache_lookups_total{result="\([a-z]*\)"} \(.*\)/\1 \2/p' | paste -sd, - | sed 's/,/, /g')"
echo "load after: $(uptime | sed 's/.*load average/load average/'); $(date -u '+%Y-%m-%d %H:%M UTC')"
