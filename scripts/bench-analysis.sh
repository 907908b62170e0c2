#!/usr/bin/env bash
# bench-analysis: the planners' analyses on the scaled data set (generate --scale 50: 1M
# enterprises, 2M hazards, 170 fire stations), in one run:
#   coverage  safegrid analyze coverage for the whole city: the first (cold: land cells
#             built) and the median of RUNS warm runs in one process
#   siting    MCLP k=20 from the resolution-8 candidate cells (≥ 5,000): time and objective,
#             then CBC on the same instance (LP file): its optimum and time, and the ratios
#   risk      safegrid risk recompute for the whole city (cells, areas, snapshot written):
#             the median of RISK_RUNS runs' duration_ms, after one warm-up run
#   clusters  (hazard clustering: see the marked place below)
# Usage: DATABASE_URL=... scripts/bench-analysis.sh   (make bench-analysis sets it)
# Env: SCALE (50), RUNS (5), RISK_RUNS (3), K (20), TIME_LIMIT (seconds of siting multistart, 0.5),
#      CBC_SECONDS (CBC's time limit, 3600), SETUP_ONLY=1 (load the data and stop).
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE=${SCALE:-50}
RUNS=${RUNS:-5}
K=${K:-20}
TIME_LIMIT=${TIME_LIMIT:-0.5}
CBC_SECONDS=${CBC_SECONDS:-3600}
BIN=${BIN:-bin/safegrid}
work=${BENCH_DIR:-/var/tmp/safegrid-bench}
data="$work/data"
mkdir -p "$work"
. scripts/lib.sh

if ! command -v cbc >/dev/null; then
	echo "installing coinor-cbc for the exact siting optimum" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq coinor-cbc >&2 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq coinor-cbc >&2; } || true
fi

base=${DATABASE_URL:?set DATABASE_URL}
admin=$(db_url postgres)
db=safegrid_bench_analysis
bench=$(db_url $db)

# --- data: generated once, loaded once (a marker row records the scale) ---------------
generate_once "$BIN" "$data" "$SCALE" enterprises.geojson
loaded=$(psql -tA "$bench" -c "SELECT target FROM audit_log WHERE action = 'bench-analysis' ORDER BY id DESC LIMIT 1" 2>/dev/null || true)
if [ "$loaded" != "scale $SCALE with hazards" ]; then
	echo "loading scale $SCALE into $db" >&2
	psql -q "$admin" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
	DATABASE_URL=$bench "$BIN" migrate >&2
	for kind in areas fire_stations underground_spaces gas_occupancy_sites pipelines enterprises; do
		DATABASE_URL=$bench "$BIN" import --kind "$kind" "$data/$kind.geojson" >&2
	done
	# hazards: the risk recompute counts the open ones
	DATABASE_URL=$bench "$BIN" import --kind hazards --ignore-unknown "$data/hazards.geojson" >&2
	psql -q "$bench" -c "VACUUM ANALYZE" -c "INSERT INTO audit_log (actor, action, target) VALUES ('bench', 'bench-analysis', 'scale $SCALE with hazards')"
fi
# a data set loaded by an older binary gets the schema's newer migrations (indexes the
# analyses read, column types) before it is measured
DATABASE_URL=$bench "$BIN" migrate >&2
[ "${SETUP_ONLY:-}" = 1 ] && exit 0
export DATABASE_URL=$bench
echo "data: $(psql -tA "$bench" -c "SELECT format('%s enterprises, %s fire stations (%s existing), %s underground spaces, %s occupancy sites',
	(SELECT count(*) FROM enterprises), (SELECT count(*) FROM fire_stations), (SELECT count(*) FROM fire_stations WHERE status = 'existing'),
	(SELECT count(*) FROM underground_spaces), (SELECT count(*) FROM gas_occupancy_sites))"); $(nproc) CPUs"

# --- coverage ---------------------------------------------------------------------------
out=$("$BIN" analyze coverage --repeat $((RUNS + 1)))
cold=$(grep '^run 1:' <<<"$out" | awk '{print $3}')
warm=$(grep '^run ' <<<"$out" | tail -n +2 | awk '{print $3}' | median)
echo "coverage (whole city, 1 process): first run ${cold}s (builds the land cells), median of $RUNS warm runs ${warm}s"
grep -E '^ *overall' <<<"$out" | sed 's/^ */  /'

# --- risk recompute ---------------------------------------------------------------------
# The bench database keeps no snapshots between runs (each holds ~90,000 cells).
psql -q "$bench" -c "TRUNCATE risk_warnings, risk_cells, risk_areas, risk_runs, risk_snapshots"
RISK_RUNS=${RISK_RUNS:-3}
risk_ms=()
for i in $(seq 0 "$RISK_RUNS"); do
	line=$("$BIN" risk recompute | sed -n 1p)
	ms=$(sed -E 's/.* in ([0-9]+) ms$/\1/' <<<"$line")
	if [ "$i" = 0 ]; then risk_first=$line; else risk_ms+=("$ms"); fi
done
echo "risk recompute (whole city): $risk_first"
echo "  median of $RISK_RUNS further runs $(printf '%s\n' "${risk_ms[@]}" | median) ms (runs: ${risk_ms[*]} ms; load $(cut -d' ' -f1-3 /proc/loadavg))"
psql -q "$bench" -c "TRUNCATE risk_warnings, risk_cells, risk_areas, risk_runs, risk_snapshots"

# --- siting -----------------------------------------------------------------------------
lp="$work/mclp-k$K.lp"
t0=$(now)
"$BIN" analyze siting --k "$K" --time-limit "$TIME_LIMIT" --lp "$lp" --json "$work/siting.json" >"$work/siting.txt"
t1=$(now)
# The objective is the weight newly covered (after − before), as in the LP file.
ours=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["after"]["weight"]-r["before"]["weight"], r["seconds"], r["solve_seconds"], r["candidates"], r["demand_points"], r["upper_bound"]["weight"]-r["before"]["weight"])' "$work/siting.json")
read -r obj secs solve cands demand bound <<<"$ours"
echo "siting MCLP k=$K: $cands candidates, $demand demand cells; objective $obj (Lagrangian bound $bound); ${secs}s in all, of which ${solve}s optimising (the LP file run took $(calc "$t1 - $t0")s)"
if command -v cbc >/dev/null; then
	t0=$(now)
	cbc "$lp" sec "$CBC_SECONDS" solve solu "$work/cbc.sol" >"$work/cbc.log" 2>&1 || true
	t1=$(now)
	cbc_time=$(calc "$t1 - $t0")
	status=$(head -1 "$work/cbc.sol")
	opt=$(head -1 "$work/cbc.sol" | sed -E 's/.*objective value +(-?[0-9.e+]+).*/\1/' | tr -d -)
	echo "CBC: $status in ${cbc_time}s"
	echo "ratio: objective $(calc "$obj / $opt * 100")% of CBC's optimum; time $(calc "$secs / $cbc_time") of CBC's (whole analysis), $(calc "$solve / $cbc_time") (optimising only)"
else
	echo "cbc is not installed (scripts/test-deps.sh installs coinor-cbc): no optimum to compare with"
fi

# === CLUSTERING: hazard clustering, partitioned vs plain OVER () ============================
# (owned by the clustering helper: add its part here; the hazards are not loaded above yet)
# === END CLUSTERING ======================================================================
