#!/usr/bin/env bash
# Builds data/areas-synthetic.geojson (districts, synthetic streets and communities) with
# PostGIS, from the shared real data. Run once; the result is committed, so neither the
# demo nor the tests need this script.
#
#   scripts/build-areas.sh [SHARED_DATA_DIR]
#
# SHARED_DATA_DIR defaults to ../shared/data beside the repo. It copies the files the demo
# ships (never anything from tests-only/) into data/ and data/osm/, then runs
# scripts/build-areas.sql in a scratch database (AREAS_DB, default areas_build), created
# on the PostGIS server of DATABASE_URL if missing; the project's own database is not
# touched. Needs psql.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
shared=${1:-$repo/../shared/data}
shared=$(cd "$shared" && pwd)
url=${DATABASE_URL:-postgres://safegrid:safegrid@127.0.0.1:55432/safegrid?sslmode=disable}
db=${AREAS_DB:-areas_build}
out=$repo/data/areas-synthetic.geojson

log() { echo "build-areas: $*" >&2; }

# The URL of the scratch database: the same server, another database name.
base=${url%%\?*}
query=
[ "$base" != "$url" ] && query="?${url#*\?}"
scratch="${base%/*}/$db$query"

log "copying shared data from $shared"
mkdir -p "$repo/data/osm"
install -m 0644 "$shared/shanghai-districts.geojson" "$shared/shanghai-streets.csv" "$repo/data/"
for f in industrial-areas fire-stations rail-stations marinas-ferries; do
	install -m 0644 "$shared/osm/$f.geojson" "$repo/data/osm/"
done

if ! psql "$scratch" -Atqc 'select 1' >/dev/null 2>&1; then
	log "creating database $db"
	psql "$url" -qc "CREATE DATABASE $db" >/dev/null
fi

cd "$repo/data"
log "building areas in $db"
psql "$scratch" -X -q -f "$repo/scripts/build-areas.sql" >&2

log "writing $out"
tmp=$(mktemp "$out.XXXXXX")
{
	printf '{"type":"FeatureCollection",\n"attribution":"Districts: © OpenStreetMap contributors, geoBoundaries (ODbL 1.0). Street and community boundaries are synthetic; street codes and names: Administrative-divisions-of-China (MIT, Copyright (c) 2017 mwn); street label points: © OpenStreetMap contributors (ODbL 1.0).",\n"features":[\n'
	psql "$scratch" -X -At -v ON_ERROR_STOP=1 <<-'SQL' | sed '$!s/$/,/'
		SELECT '{"type":"Feature","properties":{"code":"' || code || '","name":' || to_json(name)::text
		       || ',"synthetic":' || synthetic::text || '},"geometry":' || ST_AsGeoJSON(geom, 6) || '}'
		FROM build.areas ORDER BY level, code;
	SQL
	printf ']}\n'
} >"$tmp"
chmod 0644 "$tmp"
mv "$tmp" "$out"
log "$(grep -c '"type":"Feature"' "$out") features, $(du -h "$out" | cut -f1)"
