#!/usr/bin/env bash
# Starts, reuses or stops SafeGrid's project-private PostgreSQL/PostGIS cluster.
#
#   scripts/db.sh start   install PostGIS if missing, init (once) and start the cluster,
#                         create the database; prints DATABASE_URL on stdout
#   scripts/db.sh stop    stop the cluster (the data stays)
#   scripts/db.sh url     print DATABASE_URL
#
# The cluster is private: its own data directory (SAFEGRID_PGDATA, default a folder under
# /var/tmp named for this checkout) and its own port on 127.0.0.1 (SAFEGRID_PGPORT, default
# 55432). The system's default cluster is never touched. When DATABASE_URL is already set,
# "start" only checks that it answers and prints it back: the user runs their own PostGIS.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
pgbin=${SAFEGRID_PGBIN:-/usr/lib/postgresql/15/bin}
port=${SAFEGRID_PGPORT:-55432}
datadir=${SAFEGRID_PGDATA:-/var/tmp/safegrid-pg-$(printf '%s' "$repo" | md5sum | cut -c1-8)}
pguser=safegrid
pgpass=safegrid
dbname=${SAFEGRID_DB:-safegrid}
url="postgres://$pguser:$pgpass@127.0.0.1:$port/$dbname?sslmode=disable"

log() { echo "db: $*" >&2; }

as_postgres() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

install_postgis() {
	if [ -f /usr/share/postgresql/15/extension/postgis.control ] && [ -x "$pgbin/postgres" ]; then
		return
	fi
	if [ "$(id -u)" != 0 ]; then
		log "PostGIS for PostgreSQL 15 is missing; run as root or: apt-get install -y postgresql-15-postgis-3"
		exit 1
	fi
	log "installing PostGIS (apt-get install postgresql-15-postgis-3)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq postgresql-15-postgis-3 >&2
}

running() {
	[ -f "$datadir/postmaster.pid" ] && as_postgres "$pgbin/pg_ctl" -D "$datadir" status >/dev/null 2>&1
}

start() {
	if [ -n "${DATABASE_URL:-}" ]; then
		log "using DATABASE_URL from the environment"
		echo "$DATABASE_URL"
		return
	fi
	install_postgis
	if [ ! -s "$datadir/PG_VERSION" ]; then
		log "initialising a private cluster in $datadir"
		mkdir -p "$datadir"
		chown postgres:postgres "$datadir" 2>/dev/null || true
		chmod 700 "$datadir"
		pwfile=$(mktemp)
		echo "$pgpass" >"$pwfile"
		chmod 644 "$pwfile"
		as_postgres "$pgbin/initdb" -D "$datadir" -U "$pguser" --pwfile="$pwfile" \
			--auth-local=scram-sha-256 --auth-host=scram-sha-256 \
			--locale=C.UTF-8 --encoding=UTF8 >&2
		rm -f "$pwfile"
		cat >>"$datadir/postgresql.conf" <<CONF
# SafeGrid's private cluster
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$datadir'
shared_buffers = 1GB
work_mem = 64MB
maintenance_work_mem = 512MB
max_wal_size = 4GB
checkpoint_timeout = 15min
max_connections = 200
fsync = on
synchronous_commit = off
# No replication from this private cluster: a bulk import into an empty (truncated) table
# then writes its rows and indexes without WAL (PostgreSQL manual, "Populating a Database").
wal_level = minimal
max_wal_senders = 0
CONF
	fi
	if ! running; then
		log "starting PostgreSQL on 127.0.0.1:$port"
		as_postgres "$pgbin/pg_ctl" -D "$datadir" -l "$datadir/server.log" -w -t 60 start >&2 || {
			tail -20 "$datadir/server.log" >&2
			exit 1
		}
	fi
	export PGPASSWORD=$pgpass
	if ! psql -h 127.0.0.1 -p "$port" -U "$pguser" -d postgres -tAc "select 1 from pg_database where datname='$dbname'" | grep -q 1; then
		psql -h 127.0.0.1 -p "$port" -U "$pguser" -d postgres -qc "create database $dbname" >&2
	fi
	echo "$url"
}

stop() {
	if running; then
		as_postgres "$pgbin/pg_ctl" -D "$datadir" -m fast -w stop >&2
	else
		log "not running"
	fi
}

case "${1:-start}" in
start) start ;;
stop) stop ;;
url) echo "${DATABASE_URL:-$url}" ;;
*) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac
