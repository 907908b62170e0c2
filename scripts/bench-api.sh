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
#      server's and the floor's pool; empty: pgxpool's default), ONLY (street,cell,tile; the OGC reads items,filter,sorted run only when named),
#      SETUP_ONLY=1 (load the data and stop), BENCH_DIR (/var/tmp/safegrid-bench),
#      PPROF=127.0.0.1:6060 (serve the server's pprof profiles there during the run),
#      RESPONSE_CACHE_MB (the server's kept answers, api/respcache.go; default 256, 0 turns
#      them off, so every request runs its queries).
# The server keeps answers until the data under them changes, so after the warm-up most of
# its requests are answered from memory; the lookups (hit, miss, shared) are printed at the
# end. RESPONSE_CACHE_MB=0 measures the query path alone against the same floor.
# Before/after in one run: BASE_BIN=path/to/another/safegrid (e.g. built from the commit
# before a change) starts `$BASE_BIN serve` too, on the same database (loaded by $BIN, so
# the baseline must work on its schema) with the same flags, on its own port (PPROF stays
# with the current server). Each round then loads both servers one after the other, never
# both at once (baseline first in odd rounds, current first in even ones, so that a drift
# in the machine's load hits both alike), each with one `$BIN bench api --rounds 1`: the
# current binary's load generator for both, which measures the floor after each server
# (so the run takes twice as long). The summary is a table of both servers' medians and
# current/baseline for req/s and p99, and the spread of each over the rounds.
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE=${SCALE:-50}
WORKERS=${WORKERS:-64}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
ROUNDS=${ROUNDS:-3}
MAX_CONNS=${MAX_CONNS:-0}
BIN=${BIN:-bin/safegrid}
BASE_BIN=${BASE_BIN:-}
RESPONSE_CACHE_MB=${RESPONSE_CACHE_MB:-256}
work=${BENCH_DIR:-/var/tmp/safegrid-bench}
data="$work/data"
mkdir -p "$work"
. scripts/lib.sh
export CGO_ENABLED=1
[ -x "$BIN" ] || go build -o "$BIN" ./cmd/safegrid
if [ -n "$BASE_BIN" ] && [ ! -x "$BASE_BIN" ]; then
	echo "BASE_BIN=$BASE_BIN is not an executable safegrid binary" >&2
	exit 1
fi

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

# --- the servers, each on a free loopback port ------------------------------------------
declare -A port pid
stop_servers() { for s in "${!pid[@]}"; do kill "${pid[$s]}" 2>/dev/null || true; wait "${pid[$s]}" 2>/dev/null || true; done; }
trap stop_servers EXIT
# start_server NAME BIN LOG [FLAG...]: `BIN serve` with the run's flags (and FLAGs) on a
# free loopback port, logging to LOG; waits until it is ready.
start_server() {
	local name=$1 bin=$2 log=$3
	shift 3
	port[$name]=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	DATABASE_URL=$bench "$bin" serve --listen "127.0.0.1:${port[$name]}" --max-conns "$MAX_CONNS" \
		--response-cache-mb "$RESPONSE_CACHE_MB" "$@" >"$log" 2>&1 &
	pid[$name]=$!
	for _ in $(seq 100); do
		curl -fsS "http://127.0.0.1:${port[$name]}/readyz" >/dev/null 2>&1 && return 0
		kill -0 "${pid[$name]}" 2>/dev/null || { echo "the $name server ($bin) did not start:" >&2; tail -5 "$log" >&2; exit 1; }
		sleep 0.2
	done
}
# kept_answers NAME: the server's response-cache lookups by result.
kept_answers() {
	local m
	m=$(curl -sS -w '\n%{http_code}' "http://127.0.0.1:${port[$1]}/metrics" 2>&1) || true
	if [ "${m##*$'\n'}" != 200 ]; then
		echo "unknown (GET /metrics: ${m##*$'\n'})"
		return
	fi
	sed -n 's/^safegrid_response_cache_lookups_total{result="\([a-z]*\)"} \(.*\)/\1 \2/p' <<<"$m" | paste -sd, - | sed 's/,/, /g'
}
# loadgen NAME ROUNDS: the current binary's load generator against the server NAME.
loadgen() {
	DATABASE_URL=$bench "$BIN" bench api --server "http://127.0.0.1:${port[$1]}" --workers "$WORKERS" --max-conns "$MAX_CONNS" \
		--duration "$DURATION" --warmup "$WARMUP" --rounds "$2" ${ONLY:+--only "$ONLY"}
}

if [ -n "$BASE_BIN" ]; then
	log="$work/bench-api-baseline-server.log"
	start_server baseline "$BASE_BIN" "$log"
	echo "baseline server: http://127.0.0.1:${port[baseline]} (log $log): $(bin_id "$BASE_BIN")"
fi
log="$work/bench-api-server.log"
start_server current "$BIN" "$log" ${PPROF:+--pprof "$PPROF"}
echo "server: http://127.0.0.1:${port[current]} (log $log); load before: $(uptime | sed 's/.*load average/load average/')"

if [ -z "$BASE_BIN" ]; then
	loadgen current "$ROUNDS"
	echo "server's kept answers (response cache $RESPONSE_CACHE_MB MB): $(kept_answers current)"
	echo "load after: $(uptime | sed 's/.*load average/load average/'); $(date -u '+%Y-%m-%d %H:%M UTC')"
	exit 0
fi

# --- before/after: rounds alternate baseline, current -------------------------------------
echo "current server: $(bin_id "$BIN")"
res="$work/bench-api-rounds.txt" # round server endpoint req/s p50 p99 floor-req/s floor-p50 floor-p99 (ms)
out="$work/bench-api-loadgen.txt"
: >"$res"
for r in $(seq "$ROUNDS"); do
	order="baseline current"
	[ $((r % 2)) = 0 ] && order="current baseline" # a steady drift in the machine's load hits both alike
	for s in $order; do
		loadgen "$s" 1 >"$out" || { echo "bench api against the $s server failed:" >&2; cat "$out" >&2; exit 1; }
		# the load generator's own header once, then its round lines named by round and server
		[ "$r$s" = 1baseline ] && sed -n "/^round /q; s/, 1 rounds\$/, $ROUNDS rounds of both servers (baseline first in odd rounds; one bench api each)/; p" "$out"
		sed -n "s/^round 1 /round $r $(printf '%-8s' "$s") /p" "$out"
		awk -v r="$r" -v s="$s" '/^round / { gsub(/ms/, ""); print r, s, $3, $5, $8, $10, $13, $16, $18 }' "$out" >>"$res"
	done
done

# col SERVER ENDPOINT EXPR: one awk expression over the rounds' columns ($4 req/s, $5 p50,
# $6 p99, $7 the floor's req/s) of SERVER on ENDPOINT, one value a line.
col() { awk -v s="$1" -v e="$2" '$2 == s && $3 == e { print '"$3"' }' "$res"; }
printf '\nmedians of %d rounds per server (%d connections, %s each), current/baseline:\n\n' "$ROUNDS" "$WORKERS" "$DURATION"
echo "| endpoint | baseline req/s | current req/s | current/baseline | baseline p50 ms | current p50 ms | baseline p99 ms | current p99 ms | current/baseline | baseline/floor | current/floor |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
endpoints=$(awk '!seen[$3]++ { print $3 }' "$res")
for e in $endpoints; do
	br=$(col baseline "$e" '$4' | median); cr=$(col current "$e" '$4' | median)
	b99=$(col baseline "$e" '$6' | median); c99=$(col current "$e" '$6' | median)
	printf '| %s | %.0f | %.0f | **%.2f** | %.1f | %.1f | %.1f | %.1f | **%.2f** | %.2f | %.2f |\n' "$e" "$br" "$cr" "$(ratio "$cr" "$br")" \
		"$(col baseline "$e" '$5' | median)" "$(col current "$e" '$5' | median)" "$b99" "$c99" "$(ratio "$c99" "$b99")" \
		"$(col baseline "$e" '$4 / $7' | median)" "$(col current "$e" '$4 / $7' | median)"
done
printf '\nspread over the rounds (min–max, ± half the range over the median):\n'
for e in $endpoints; do
	printf '%-7s req/s baseline %s, current %s; p99 baseline %s, current %s; floor req/s %s\n' "$e" \
		"$(col baseline "$e" '$4' | spread %.0f)" "$(col current "$e" '$4' | spread %.0f)" \
		"$(col baseline "$e" '$6' | spread %.1f ms)" "$(col current "$e" '$6' | spread %.1f ms)" \
		"$(awk -v e="$e" '$3 == e { print $7 }' "$res" | spread %.0f)"
done
echo "kept answers (response cache $RESPONSE_CACHE_MB MB): baseline server $(kept_answers baseline); current server $(kept_answers current)"
echo "load after: $(uptime | sed 's/.*load average/load average/'); $(date -u '+%Y-%m-%d %H:%M UTC')"
