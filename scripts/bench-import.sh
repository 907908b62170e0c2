#!/usr/bin/env bash
# bench-import: load 1,000,000 generated enterprises three ways, RUNS times each, in one run,
# and print rows/s (median) and ratios:
#   (a) safegrid import of the GeoJSON (validation, CRS, H3, area tagging, upsert)
#   (b) the floor: a plain binary COPY of the same rows into the same table, no checks, done
#       the way the import loads an empty table: in one transaction, truncate, drop the
#       table's secondary indexes and its unique constraint, turn the foreign-key triggers
#       off, COPY, create the indexes again, commit
#   (c) GDAL's ogr2ogr loading the same GeoJSON into PostGIS
#   (a0) only with BASE_BIN: (a) with another safegrid binary (e.g. one built from the commit
#       before a change), so that a change is measured before/after in one run; (a0) and (a)
#       swap places every run (a0 first in odd runs), and the summary adds (a0), the ratio
#       (a)/(a0) in rows/s and the spread of both over the runs
# Usage: DATABASE_URL=... scripts/bench-import.sh   (make bench-import sets it)
# Env: SCALE (50), RUNS (3), BIN (bin/safegrid), BASE_BIN (none), BENCH_DIR
#      (/var/tmp/safegrid-bench: the generated files, the dump of (b)).
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS_SCALE=${SCALE:-50}   # 20,000 enterprises per unit of scale
RUNS=${RUNS:-3}
BIN=${BIN:-bin/safegrid}
BASE_BIN=${BASE_BIN:-}
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
bench=$(db_url safegrid_bench)

generate_once "$BIN" "$work/data" "$ROWS_SCALE" enterprises.geojson
file="$work/data/enterprises.geojson"

psql -q "$admin" -c "DROP DATABASE IF EXISTS safegrid_bench WITH (FORCE)" -c "CREATE DATABASE safegrid_bench"
DATABASE_URL=$bench "$BIN" migrate >&2
DATABASE_URL=$bench "$BIN" import --kind areas "$work/data/areas.geojson" >&2

echo "server: PostgreSQL $(psql -tA "$bench" -c "SHOW server_version"), wal_level $(psql -tA "$bench" -c "SHOW wal_level"); $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
reset_table() { psql -q "$bench" -c "TRUNCATE enterprises CASCADE" -c "CHECKPOINT"; }

# floor_copy is (b): the dump of what (a) loaded, COPYed into the same (empty) table the way
# (a) does it for an empty table (grid/ingest/bulk.go): secondary indexes and the unique constraint
# dropped, COPY, then re-created from their own definitions, all in one transaction with the
# same maintenance settings; the catalog queries are part of the timing, as in (a).
floor_copy() {
	local idx con
	idx=$(psql -tA "$bench" -c "SELECT format('%I.%I', schemaname, indexname) || E'\t' || indexdef FROM pg_indexes x
		WHERE schemaname = current_schema() AND tablename = 'enterprises'
		AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = format('%I.%I', x.schemaname, x.indexname)::regclass) ORDER BY indexname")
	con=$(psql -tA "$bench" -c "SELECT format('%I', conname) || E'\t' || pg_get_constraintdef(c.oid) FROM pg_constraint c
		WHERE conrelid = 'enterprises'::regclass AND contype = 'u'
		AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = c.conindid) ORDER BY conname")
	{
		echo "BEGIN;"
		echo "TRUNCATE enterprises CASCADE;"
		echo "SET LOCAL maintenance_work_mem = '1GB'; SET LOCAL max_parallel_maintenance_workers = $(( $(nproc) < 8 ? $(nproc) : 8 ));"
		echo "SET LOCAL session_replication_role = replica;"
		while IFS=$'\t' read -r name def; do [ -n "$name" ] && echo "DROP INDEX $name;"; done <<<"$idx"
		while IFS=$'\t' read -r name def; do [ -n "$name" ] && echo "ALTER TABLE enterprises DROP CONSTRAINT $name;"; done <<<"$con"
		echo "\\copy enterprises ($cols) FROM '$dump' WITH (FORMAT binary)"
		while IFS=$'\t' read -r name def; do [ -n "$name" ] && echo "$def;"; done <<<"$idx"
		while IFS=$'\t' read -r name def; do [ -n "$name" ] && echo "ALTER TABLE enterprises ADD CONSTRAINT $name $def;"; done <<<"$con"
		echo "COMMIT;"
	} | psql -q -v ON_ERROR_STOP=1 "$bench"
}

cols="district_code, uscc, name, industry, risk_level, major_hazard, employees, address, street_code, community_code, h3, geom"
dump="$work/enterprises.bin"
# timed_import BIN: (a), or (a0) with BASE_BIN, into the emptied table; sets secs and rows.
timed_import() {
	local t0 t1
	reset_table
	t0=$(now); DATABASE_URL=$bench "$1" import --kind enterprises "$file" >/dev/null 2>&1; t1=$(now)
	secs=$(calc "$t1 - $t0")
	rows=$(psql -tA "$bench" -c "SELECT count(*) FROM enterprises")
}
a=() a0=() b=() c=()
for i in $(seq "$RUNS"); do
	if [ -n "$BASE_BIN" ] && [ $((i % 2)) = 1 ]; then timed_import "$BASE_BIN"; a0+=("$secs"); n0=$rows; fi
	timed_import "$BIN"; a+=("$secs"); n=$rows
	[ "$i" = 1 ] && psql -q "$bench" -c "\\copy (SELECT $cols FROM enterprises) TO '$dump' WITH (FORMAT binary)"
	if [ -n "$BASE_BIN" ] && [ $((i % 2)) = 0 ]; then timed_import "$BASE_BIN"; a0+=("$secs"); n0=$rows; fi
	if [ -n "$BASE_BIN" ] && [ "$n0" != "$n" ]; then
		echo "run $i: the baseline loaded $n0 rows, the current binary $n: not the same work" >&2
		exit 1
	fi

	reset_table
	t0=$(now); floor_copy; t1=$(now)
	b+=("$(calc "$t1 - $t0")")

	psql -q "$bench" -c "DROP TABLE IF EXISTS ogr_enterprises" -c "CHECKPOINT"
	pg=$(python3 -c 'import sys,urllib.parse as u; p=u.urlparse(sys.argv[1]); print("PG:host=%s port=%s dbname=%s user=%s password=%s" % (p.hostname, p.port or 5432, p.path[1:], p.username, u.unquote(p.password or "")))' "$bench")
	t0=$(now); ogr2ogr -f PostgreSQL "$pg" "$file" -nln ogr_enterprises -lco GEOMETRY_NAME=geom -lco SPATIAL_INDEX=GIST --config PG_USE_COPY YES -gt 65536 >/dev/null 2>&1; t1=$(now)
	c+=("$(calc "$t1 - $t0")")
	echo "run $i: import ${a[-1]}s, ${BASE_BIN:+baseline import ${a0[-1]}s, }copy ${b[-1]}s, ogr2ogr ${c[-1]}s ($n rows)" >&2
done
ma=$(printf '%s\n' "${a[@]}" | median); mb=$(printf '%s\n' "${b[@]}" | median); mc=$(printf '%s\n' "${c[@]}" | median)
printf '\n%d enterprises, median of %d runs (%s)\n' "$n" "$RUNS" "$(date -u +%F)"
printf '%-44s %10s %12s %14s\n' "method" "median s" "rows/s" "vs COPY floor"
printf '%-44s %10.2f %12.0f %14.2f\n' "(a) safegrid import (checks, H3, tagging)" "$ma" "$(calc "$n / $ma")" "$(calc "$mb / $ma")"
if [ -n "$BASE_BIN" ]; then
	ma0=$(printf '%s\n' "${a0[@]}" | median)
	printf '%-44s %10.2f %12.0f %14.2f\n' "(a0) baseline: (a) with BASE_BIN" "$ma0" "$(calc "$n / $ma0")" "$(calc "$mb / $ma0")"
fi
printf '%-44s %10.2f %12.0f %14.2f\n' "(b) binary COPY, same rows/table, no checks" "$mb" "$(calc "$n / $mb")" "1.00"
printf '%-44s %10.2f %12.0f %14.2f\n' "(c) ogr2ogr GeoJSON -> PostGIS" "$mc" "$(calc "$n / $mc")" "$(calc "$mb / $mc")"
printf 'ratios: (a)/(b) = %.2f (target >= 0.5); (a)/(c) = %.2f (target > 1)\n' "$(calc "$mb / $ma")" "$(calc "$mc / $ma")"
if [ -n "$BASE_BIN" ]; then
	# per run: (a)'s rows/s over (a0)'s, i.e. (a0)'s seconds over (a)'s
	per_run=$(for k in "${!a[@]}"; do calc "${a0[k]} / ${a[k]}"; done)
	printf 'before/after: (a)/(a0) = %.2f in rows/s, > 1 when the current binary is faster (medians: (a) %.0f, (a0) %.0f rows/s); per run: median %.2f, %s\n' \
		"$(calc "$ma0 / $ma")" "$(calc "$n / $ma")" "$(calc "$n / $ma0")" "$(median <<<"$per_run")" "$(spread <<<"$per_run")"
	printf 'spread over the %d runs: (a) %s, (a0) %s\n' "$RUNS" \
		"$(printf '%s\n' "${a[@]}" | spread %.2f s)" "$(printf '%s\n' "${a0[@]}" | spread %.2f s)"
	printf 'current (a): %s\nbaseline (a0): %s\n' "$(bin_id "$BIN")" "$(bin_id "$BASE_BIN")"
fi
