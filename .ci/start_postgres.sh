#!/usr/bin/env bash
# Start (or reuse) a throwaway PostgreSQL cluster for the feedback_db tests.
#
#   eval "$(bash .ci/start_postgres.sh)"     # prints: export AIGC_TEST_PG_URL=...
#   bash .ci/start_postgres.sh --stop        # stop it (the data folder stays)
#   bash .ci/start_postgres.sh --destroy     # stop it and remove the folder
#
# Why a script and not a service: CI runs on a fresh machine as root with no
# service manager, and a developer wants the same cluster without touching the
# system's own. The cluster lives in $AIGC_PG_DIR (default /tmp/aigc-pg), listens
# on 127.0.0.1:$AIGC_PG_PORT (default 54329) with trust auth, and has fsync off:
# it holds test data only. Running it again is cheap and changes nothing.
# Only the export line goes to stdout; everything else goes to stderr.
set -euo pipefail

PG_DIR="${AIGC_PG_DIR:-/tmp/aigc-pg}"
PG_PORT="${AIGC_PG_PORT:-54329}"
PG_DB="${AIGC_PG_DB:-aigc_test}"
DATA="$PG_DIR/data"

log() { echo "start_postgres: $*" >&2; }

find_bindir() {
    local dir
    if command -v pg_config >/dev/null 2>&1; then
        dir="$(pg_config --bindir 2>/dev/null || true)"
        if [ -x "$dir/initdb" ]; then echo "$dir"; return 0; fi
    fi
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then echo "$dir"; return 0; fi
    return 1
}

BINDIR="$(find_bindir || true)"
if [ -z "$BINDIR" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        log "PostgreSQL not found; installing Debian's package"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        apt-get install -y -qq postgresql >&2
        BINDIR="$(find_bindir)"
    else
        log "PostgreSQL binaries not found (install the 'postgresql' package)"
        exit 1
    fi
fi

# initdb and postgres refuse to run as root: run them as the 'postgres' user then.
if [ "$(id -u)" = 0 ]; then
    RUN_AS=(runuser -u postgres --)
    SUPERUSER=postgres
else
    RUN_AS=()
    SUPERUSER="$(id -un)"
fi
as_owner() { "${RUN_AS[@]}" "$@"; }

case "${1:-start}" in
    --stop|stop)
        if [ -f "$DATA/PG_VERSION" ]; then
            as_owner "$BINDIR/pg_ctl" -D "$DATA" -m fast stop >&2 || true
        fi
        exit 0
        ;;
    --destroy|destroy)
        if [ -f "$DATA/PG_VERSION" ]; then
            as_owner "$BINDIR/pg_ctl" -D "$DATA" -m immediate stop >&2 || true
        fi
        rm -rf "$PG_DIR"
        exit 0
        ;;
    start|--start) ;;
    *) log "usage: $0 [--stop|--destroy]"; exit 2 ;;
esac

mkdir -p "$PG_DIR"
if [ "$(id -u)" = 0 ]; then chown postgres: "$PG_DIR"; fi
chmod 700 "$PG_DIR"

if [ ! -f "$DATA/PG_VERSION" ]; then
    log "initdb into $DATA"
    as_owner "$BINDIR/initdb" -D "$DATA" -U "$SUPERUSER" --auth=trust \
        --no-locale --encoding=UTF8 >"$PG_DIR/initdb.log" 2>&1 \
        || { cat "$PG_DIR/initdb.log" >&2; exit 1; }
    cat >>"$DATA/postgresql.conf" <<EOF
# throwaway test cluster (written by .ci/start_postgres.sh)
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_DIR'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
fi

ready() { "$BINDIR/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; }
wait_ready() {
    for _ in $(seq 1 "$1"); do ready && return 0; sleep 0.5; done
    return 1
}

if as_owner "$BINDIR/pg_ctl" -D "$DATA" status >/dev/null 2>&1 && wait_ready 20; then
    log "already running ($DATA)"
else
    # A server killed without a clean stop (e.g. at the end of a session)
    # leaves postmaster.pid behind; its pid may since belong to another process.
    rm -f "$DATA/postmaster.pid"
    log "starting on 127.0.0.1:$PG_PORT"
    as_owner "$BINDIR/pg_ctl" -D "$DATA" -l "$PG_DIR/server.log" -w -t 60 start >&2 \
        || { tail -n 30 "$PG_DIR/server.log" >&2; exit 1; }
fi

PSQL=("$BINDIR/psql" -h 127.0.0.1 -p "$PG_PORT" -U "$SUPERUSER" -d postgres -v ON_ERROR_STOP=1 -tAq)
if [ "$("${PSQL[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")" != 1 ]; then
    log "creating database $PG_DB"
    "${PSQL[@]}" -c "CREATE DATABASE \"$PG_DB\"" >&2
fi

URL="postgresql+psycopg://$SUPERUSER@127.0.0.1:$PG_PORT/$PG_DB"
export AIGC_TEST_PG_URL="$URL"
echo "export AIGC_TEST_PG_URL=$URL"
