#!/usr/bin/env bash
# Shared by tests/run and bench/run: start a throwaway PostgreSQL and Redis
# on 127.0.0.1 (installing the Debian packages if they are missing), export
# DATABASE_URL and REDIS_URL, and stop them again in `cleanup`.
# Source it; it defines functions only (plus the scratch folder $work).
work=$(mktemp -d /tmp/virlife-tests.XXXXXX)
chmod 755 "$work"

as_postgres() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_bin() {
    local dir
    for dir in /usr/lib/postgresql/*/bin; do
        [ -x "$dir/initdb" ] && { echo "$dir"; return 0; }
    done
    return 1
}

start_postgres() {
    if [ -n "${DATABASE_URL:-}" ]; then
        echo "== using PostgreSQL at DATABASE_URL"
        return
    fi
    local bin
    if ! bin=$(pg_bin); then
        echo "== installing PostgreSQL from Debian packages"
        apt_install postgresql
        bin=$(pg_bin)
    fi
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    mkdir -p "$work/pg"
    [ "$(id -u)" = 0 ] && chown postgres "$work/pg"
    as_postgres "$bin/initdb" -D "$work/pg/data" -U postgres --auth=trust >/dev/null
    # Durability is pointless for a throwaway test server; speed is not.
    PG_START="$bin/pg_ctl -D $work/pg/data -l $work/pg/log -w -o '-p $port -k $work/pg -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300' start"
    as_postgres bash -c "$PG_START" >/dev/null
    PG_STOP="$bin/pg_ctl -D $work/pg/data -m immediate stop"
    export PG_START PG_STOP
    export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
    echo "== PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
}

apt_install() {
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
    else
        sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
    fi
}

start_redis() {
    if ! command -v redis-server >/dev/null; then
        echo "== installing Redis from Debian packages"
        apt_install redis-server
    fi
    export REDIS_SERVER=$(command -v redis-server)
    if [ -n "${REDIS_URL:-}" ]; then
        echo "== using Redis at REDIS_URL"
        return
    fi
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
        --daemonize yes --pidfile "$work/redis.pid" --logfile "$work/redis.log"
    export REDIS_PIDFILE="$work/redis.pid"
    for _ in $(seq 50); do
        redis-cli -p "$port" ping >/dev/null 2>&1 && break
        sleep 0.1
    done
    REDIS_STOP="$port"
    export REDIS_URL="redis://127.0.0.1:$port"
    echo "== Redis $(redis-server --version | awk '{print $3}' | cut -d= -f2) on 127.0.0.1:$port"
}

cleanup() {
    if [ -n "${REDIS_STOP:-}" ]; then redis-cli -p "$REDIS_STOP" shutdown nosave >/dev/null 2>&1 || true; fi
    if [ -n "${PG_STOP:-}" ]; then as_postgres $PG_STOP >/dev/null 2>&1 || true; fi
    rm -rf "$work"
}
