#!/usr/bin/env bash
# bench-import: load generated files of three kinds, each three ways, in one run, and print
# rows/s (median over the runs) and ratios:
#   enterprises  1,000,000 points (scale 50), RUNS runs
#   hazards      2,000,000 points (scale 50), HAZARD_RUNS runs
#   pipelines    the generated lines repeated PIPELINE_COPIES times (each copy's codes
#                suffixed -cN), 167,000 lines at the default 100, RUNS runs
# The three ways, into the emptied table each time:
#   (a) safegrid import of the GeoJSON (validation, CRS, H3, area tagging, the first history
#       rows of hazards and enterprises)
#   (b) the floor: a plain binary COPY of the same rows into the same table, no checks, done
#       the way the import loads an empty table: in one transaction, truncate, drop the
#       table's secondary indexes and its unique constraint, turn the foreign-key triggers
#       off, COPY, create the indexes again, commit
#   (c) GDAL's ogr2ogr loading the same GeoJSON into PostGIS (its own table, one GiST index)
#   (a0) only with BASE_BIN: (a) with another safegrid binary (e.g. one built from the commit
#       before a change), so that a change is measured before/after in one run; (a0) and (a)
#       swap places every run (a0 first in odd runs), and the summary adds (a0), the ratio
#       (a)/(a0) in rows/s and the spread of both over the runs
# Each run empties the table and the history the import writes with it (hazard_history,
# enterprise_risk_levels): the load of a new city.
# Usage: DATABASE_URL=... scripts/bench-import.sh   (make bench-import sets it)
# Env: SCALE (50), RUNS (3), HAZARD_RUNS (1), PIPELINE_COPIES (100), KINDS ("enterprises
#      hazards pipelines"), BIN (bin/safegrid), BASE_BIN (none), BENCH_DB (safegrid_bench:
#      the database, dropped and made again), BENCH_DIR (/var/tmp/safegrid-bench: the
#      generated files, the dumps of (b)).
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS_SCALE=${SCALE:-50}   # 20,000 enterprises and 40,000 hazards per unit of scale
RUNS=${RUNS:-3}
HAZARD_RUNS=${HAZARD_RUNS:-1}
PIPELINE_COPIES=${PIPELINE_COPIES:-100}
KINDS=${KINDS:-enterprises hazards pipelines}
BIN=${BIN:-bin/safegrid}
BASE_BIN=${BASE_BIN:-}
BENCH_DB=${BENCH_DB:-safegrid_bench}
work=${BENCH_DIR:-/var/tmp/safegrid-bench}
mkdir -p "$work"
. scripts/lib.sh
if [ -n "$BASE_BIN" ] && [ ! -x "$BASE_BIN" ]; then
	echo "BASE_BIN=$BASE_BIN is not an executable safegrid binary" >&2
	exit 1
fi

if ! command -v ogr2ogr >/dev/null; then
	echo "installing gdal-bin for ogr2ogr" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gdal-bin >&2 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gdal-bin >&2; }
fi

base=${DATABASE_URL:?set DATABASE_URL}
export PGOPTIONS="-c client_min_messages=warning"  # no NOTICEs from TRUNCATE … CASCADE
admin=$(db_url postgres)
bench=$(db_url "$BENCH_DB")

generate_once "$BIN" "$work/data" "$ROWS_SCALE" enterprises.geojson
# pipelines: the generated network is small at any scale; its lines repeated, codes made unique
pipes="$work/pipelines-x$PIPELINE_COPIES.geojson"
if [ ! -s "$pipes" ] || [ "$work/data/pipelines.geojson" -nt "$pipes" ]; then
	python3 - "$work/data/pipelines.geojson" "$PIPELINE_COPIES" >"$pipes.tmp" <<'PY'
import json, sys
feats = json.load(open(sys.argv[1]))["features"]
out = sys.stdout
out.write('{"type":"FeatureCollection","features":[\n')
first = True
for c in range(int(sys.argv[2])):
    for f in feats:
        f = dict(f, properties=dict(f["properties"], code="%s-c%d" % (f["properties"]["code"], c)))
        out.write(("" if first else ",\n") + json.dumps(f, ensure_ascii=False, separators=(",", ":")))
        first = False
out.write("\n]}\n")
PY
	mv "$pipes.tmp" "$pipes"
fi

psql -q "$admin" -c "DROP DATABASE IF EXISTS $BENCH_DB WITH (FORCE)" -c "CREATE DATABASE $BENCH_DB"
DATABASE_URL=$bench "$BIN" migrate >&2
DATABASE_URL=$bench "$BIN" import --kind areas "$work/data/areas.geojson" >&2

echo "server: PostgreSQL $(psql -tA "$bench" -c "SHOW server_version"), wal_level $(psql -tA "$bench" -c "SHOW wal_level"); $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
pg=$(python3 -c 'import sys,urllib.parse as u; p=u.urlparse(sys.argv[1]); print("PG:host=%s port=%s dbname=%s user=%s password=%s" % (p.hostname, p.port or 5432, p.path[1:], p.username, u.unquote(p.password or "")))' "$bench")

# reset_table TABLE: empty TABLE and the history an import writes with it.
reset_table() {
	local also=""
	[ "$1" = enterprises ] && also=", enterprise_risk_levels"
	psql -q "$bench" -c "TRUNCATE $1$also CASCADE" -c "CHECKPOINT"
}

# floor_copy TABLE COLS DUMP is (b): the dump of what (a) loaded, COPYed into the same (empty)
# table the way (a) does it for an empty table (grid/ingest/bulk.go): secondary indexes and
# the unique constraint dropped, COPY, then re-created from their own definitions, all in one
# transaction with the same maintenance settings; the catalog queries are part of the
# timing, as in (a).
floor_copy() {
	local table=$1 cols=$2 dump=$3 idx con
	idx=$(psql -tA "$bench" -c "SELECT format('%I.%I', schemaname, indexname) || E'\t' || indexdef FROM pg_indexes x
		WHERE schemaname = current_schema() AND tablename = '$table'
		AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = format('%I.%I', x.schemaname, x.indexname)::regclass) ORDER BY indexname")
	con=$(psql -tA "$bench" -c "SELECT format('%I', conname) || E'\t' || pg_get_constraintdef(c.oid) FROM pg_constraint c
		WHERE conrelid = '$table'::regclass AND contype = 'u'
		AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = c.conindid) ORDER BY conname")
	{
		echo "BEGIN;"
		echo "TRUNCATE $table CASCADE;"
		echo "SET LOCAL maintenance_work_mem = '1GB'; SET LOCAL max_parallel_maintenance_workers = $(( $(nproc) < 8 ? $(nproc) : 8 ));"
		echo "SET LOCAL session_replication_role = replica;"
		while IFS=$'\t' read -r name def; do [ -n "$name" ] && echo "DROP INDEX $name;"; done <<<"$idx"
		while IFS=$'\t' read -r name def; do [ -n "$name" ] && echo "ALTER TABLE $table DROP CONSTRAINT $name;"; done <<<"$con"
		echo "\\copy $table ($cols) FROM '$dump' WITH (FORMAT binary)"
		while IFS=$'\t' read -r name def; do [ -n "$name" ] && echo "$def;"; done <<<"$idx"
		while IFS=$'\t' read -r name def; do [ -n "$name" ] && echo "ALTER TABLE $table ADD CONSTRAINT $name $def;"; done <<<"$con"
		echo "COMMIT;"
	} | psql -q -v ON_ERROR_STOP=1 "$bench"
}

# timed_import BIN KIND FILE: (a), or (a0) with BASE_BIN, into the emptied table; sets secs and rows.
timed_import() {
	local t0 t1
	reset_table "$2"
	t0=$(now); DATABASE_URL=$bench "$1" import --kind "$2" "$3" >/dev/null 2>&1; t1=$(now)
	secs=$(calc "$t1 - $t0")
	rows=$(psql -tA "$bench" -c "SELECT count(*) FROM $2")
}

summary=()
# bench_kind KIND FILE RUNS: the three (four) ways, RUNS times, and the summary lines.
bench_kind() {
	local kind=$1 file=$2 runs=$3 i t0 t1 cols dump n n0=""
	# the columns (b) copies: every column the table stores that is not computed by it
	cols=$(psql -tA "$bench" -c "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
		WHERE attrelid = '$kind'::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = '' AND attidentity = ''")
	dump="$work/$kind.bin"
	local a=() a0=() b=() c=()
	for i in $(seq "$runs"); do
		if [ -n "$BASE_BIN" ] && [ $((i % 2)) = 1 ]; then timed_import "$BASE_BIN" "$kind" "$file"; a0+=("$secs"); n0=$rows; fi
		timed_import "$BIN" "$kind" "$file"; a+=("$secs"); n=$rows
		[ "$i" = 1 ] && psql -q "$bench" -c "\\copy (SELECT $cols FROM $kind) TO '$dump' WITH (FORMAT binary)"
		if [ -n "$BASE_BIN" ] && [ $((i % 2)) = 0 ]; then timed_import "$BASE_BIN" "$kind" "$file"; a0+=("$secs"); n0=$rows; fi
		if [ -n "$BASE_BIN" ] && [ "$n0" != "$n" ]; then
			echo "$kind run $i: the baseline loaded $n0 rows, the current binary $n: not the same work" >&2
			exit 1
		fi

		reset_table "$kind"
		t0=$(now); floor_copy "$kind" "$cols" "$dump"; t1=$(now)
		b+=("$(calc "$t1 - $t0")")

		psql -q "$bench" -c "DROP TABLE IF EXISTS ogr_$kind" -c "CHECKPOINT"
		t0=$(now); ogr2ogr -f PostgreSQL "$pg" "$file" -nln "ogr_$kind" -lco GEOMETRY_NAME=geom -lco SPATIAL_INDEX=GIST --config PG_USE_COPY YES -gt 65536 >/dev/null 2>&1; t1=$(now)
		c+=("$(calc "$t1 - $t0")")
		psql -q "$bench" -c "DROP TABLE IF EXISTS ogr_$kind"
		echo "$kind run $i: import ${a[-1]}s, ${BASE_BIN:+baseline import ${a0[-1]}s, }copy ${b[-1]}s, ogr2ogr ${c[-1]}s ($n rows); load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
	done
	local ma mb mc ma0
	ma=$(printf '%s\n' "${a[@]}" | median); mb=$(printf '%s\n' "${b[@]}" | median); mc=$(printf '%s\n' "${c[@]}" | median)
	summary+=("$(
		printf '\n%s: %d rows, median of %d run(s)\n' "$kind" "$n" "$runs"
		printf '%-44s %10s %12s %14s\n' "method" "median s" "rows/s" "vs COPY floor"
		printf '%-44s %10.2f %12.0f %14.2f\n' "(a) safegrid import (checks, H3, tagging)" "$ma" "$(calc "$n / $ma")" "$(calc "$mb / $ma")"
		if [ -n "$BASE_BIN" ]; then
			ma0=$(printf '%s\n' "${a0[@]}" | median)
			printf '%-44s %10.2f %12.0f %14.2f\n' "(a0) baseline: (a) with BASE_BIN" "$ma0" "$(calc "$n / $ma0")" "$(calc "$mb / $ma0")"
		fi
		printf '%-44s %10.2f %12.0f %14.2f\n' "(b) binary COPY, same rows/table, no checks" "$mb" "$(calc "$n / $mb")" "1.00"
		printf '%-44s %10.2f %12.0f %14.2f\n' "(c) ogr2ogr GeoJSON -> PostGIS" "$mc" "$(calc "$n / $mc")" "$(calc "$mb / $mc")"
		printf 'ratios: (a)/(b) = %.2f; (a)/(c) = %.2f (target >= 2)\n' "$(calc "$mb / $ma")" "$(calc "$mc / $ma")"
		printf 'spread over the runs: (a) %s, (b) %s, (c) %s\n' "$(printf '%s\n' "${a[@]}" | spread %.2f s)" \
			"$(printf '%s\n' "${b[@]}" | spread %.2f s)" "$(printf '%s\n' "${c[@]}" | spread %.2f s)"
		if [ -n "$BASE_BIN" ]; then
			# per run: (a)'s rows/s over (a0)'s, i.e. (a0)'s seconds over (a)'s
			per_run=$(for k in "${!a[@]}"; do calc "${a0[k]} / ${a[k]}"; done)
			printf 'before/after: (a)/(a0) = %.2f in rows/s, > 1 when the current binary is faster (medians: (a) %.0f, (a0) %.0f rows/s); per run: median %.2f, %s\n' \
				"$(calc "$ma0 / $ma")" "$(calc "$n / $ma")" "$(calc "$n / $ma0")" "$(median <<<"$per_run")" "$(spread <<<"$per_run")"
			printf 'spread of (a0): %s\n' "$(printf '%s\n' "${a0[@]}" | spread %.2f s)"
		fi
	)")
}

started=$(date -u '+%F %H:%M UTC')
for kind in $KINDS; do
	case $kind in
	enterprises) bench_kind enterprises "$work/data/enterprises.geojson" "$RUNS" ;;
	hazards) bench_kind hazards "$work/data/hazards.geojson" "$HAZARD_RUNS" ;;
	pipelines) bench_kind pipelines "$pipes" "$RUNS" ;;
	*) echo "unknown kind $kind (enterprises, hazards, pipelines)" >&2; exit 1 ;;
	esac
done
printf '\nbench-import, %s to %s, load at the end %s\n' "$started" "$(date -u '+%H:%M UTC')" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%s\n' "${summary[@]}"
printf '\ncurrent (a): %s\n' "$(bin_id "$BIN")"
if [ -n "$BASE_BIN" ]; then printf 'baseline (a0): %s\n' "$(bin_id "$BASE_BIN")"; fi
