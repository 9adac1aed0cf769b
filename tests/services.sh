#!/usr/bin/env bash
# Shared by tests/run and bench/run: start a throwaway PostgreSQL and Redis
# on 127.0.0.1 (installing the Debian packages if they are missing), and a
# Qdrant when QDRANT_BIN names its server executable; export DATABASE_URL,
# REDIS_URL and QDRANT_URL, and stop them again in `cleanup`.
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

# Qdrant has no Debian, PyPI or npm server package: it is started only when
# QDRANT_BIN names a Qdrant server executable (.ci/run unpacks one). Exports
# QDRANT_URL as the gRPC address, which the adapter speaks. Returns without
# a server (QDRANT_URL stays unset) when there is neither QDRANT_URL nor
# QDRANT_BIN; the caller says so.
start_qdrant() {
    if [ -n "${QDRANT_URL:-}" ]; then
        echo "== using Qdrant at QDRANT_URL"
        return 0
    fi
    [ -n "${QDRANT_BIN:-}" ] || return 0
    if [ ! -x "$QDRANT_BIN" ]; then
        echo "QDRANT_BIN=$QDRANT_BIN is not an executable file" >&2
        return 1
    fi
    local http grpc
    read -r http grpc < <(python3 -c 'import socket
a, b = socket.socket(), socket.socket()
a.bind(("127.0.0.1", 0)); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])')
    mkdir -p "$work/qdrant/storage" "$work/qdrant/snapshots"
    # Its working folder too: Qdrant writes a marker file there.
    (cd "$work/qdrant" && exec env \
        QDRANT__SERVICE__HOST=127.0.0.1 \
        QDRANT__SERVICE__HTTP_PORT="$http" \
        QDRANT__SERVICE__GRPC_PORT="$grpc" \
        QDRANT__STORAGE__STORAGE_PATH="$work/qdrant/storage" \
        QDRANT__STORAGE__SNAPSHOTS_PATH="$work/qdrant/snapshots" \
        QDRANT__TELEMETRY_DISABLED=true \
        "$QDRANT_BIN") >"$work/qdrant/log" 2>&1 &
    QDRANT_PID=$!
    local ready=
    for _ in $(seq 300); do
        if ! kill -0 "$QDRANT_PID" 2>/dev/null; then break; fi
        if python3 -c 'import sys, urllib.request
sys.exit(urllib.request.urlopen(sys.argv[1], timeout=1).status != 200)' \
            "http://127.0.0.1:$http/readyz" 2>/dev/null; then
            ready=1
            break
        fi
        sleep 0.1
    done
    if [ -z "$ready" ]; then
        echo "Qdrant ($QDRANT_BIN) did not become ready on 127.0.0.1:$http within 30 s; its log:" >&2
        tail -20 "$work/qdrant/log" >&2
        return 1
    fi
    export QDRANT_URL="http://127.0.0.1:$grpc"
    echo "== Qdrant $("$QDRANT_BIN" --version | awk '{print $2}') on 127.0.0.1:$grpc (gRPC; HTTP on $http)"
}

cleanup() {
    if [ -n "${QDRANT_PID:-}" ]; then
        kill "$QDRANT_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$QDRANT_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$QDRANT_PID" 2>/dev/null || true
    fi
    if [ -n "${REDIS_STOP:-}" ]; then redis-cli -p "$REDIS_STOP" shutdown nosave >/dev/null 2>&1 || true; fi
    if [ -n "${PG_STOP:-}" ]; then as_postgres $PG_STOP >/dev/null 2>&1 || true; fi
    rm -rf "$work"
}
