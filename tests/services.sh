#!/usr/bin/env bash
# Shared by tests/run and bench/run: start a throwaway PostgreSQL and Redis
# on 127.0.0.1 (installing the Debian packages if they are missing), a
# PostgreSQL 16 with pgvector (from PyPI's pgserver), and a Qdrant when
# QDRANT_BIN names its server executable; export DATABASE_URL,
# PGVECTOR_DATABASE_URL, REDIS_URL and QDRANT_URL, and stop them again in
# `cleanup`.
# Source it; it defines functions only (plus the scratch folder $work and
# the repository root $services_repo).
work=$(mktemp -d /tmp/virlife-tests.XXXXXX)
chmod 755 "$work"
services_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

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

# PyPI's pgserver bundles PostgreSQL 16.2 binaries with pgvector 0.6.2
# (Debian 12 has no pgvector package). Pinned: another version may bring
# another PostgreSQL or pgvector.
PGSERVER_PIN=pgserver==0.1.4

# Installs $PGSERVER_PIN into target/pgserver-venv once (reused by later
# runs; a stamp file marks a finished install) and prints the folder that
# holds its bin/, lib/ and share/. --no-deps: only the bundled binaries are
# used, not pgserver's Python side (and so not its unpinned dependencies).
# Its wheels are for x86-64 Linux and CPython 3.9 to 3.12.
pgserver_install() {
    local venv="$services_repo/target/pgserver-venv"
    local stamp="$venv/.installed-$PGSERVER_PIN"
    mkdir -p "$services_repo/target"
    (
        # Two runs at once must not install into one venv together.
        flock 9
        if [ ! -e "$stamp" ]; then
            echo "== installing $PGSERVER_PIN from PyPI into $venv" >&2
            rm -rf "$venv"
            python3 -m venv "$venv" >&2 || exit 1
            "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps \
                --retries 2 --timeout 30 "$PGSERVER_PIN" >&2 || exit 1
            touch "$stamp"
        fi
    ) 9>"$services_repo/target/pgserver-venv.lock" || return 1
    local dir
    for dir in "$venv"/lib/python3*/site-packages/pgserver/pginstall; do
        [ -x "$dir/bin/initdb" ] && { echo "$dir"; return 0; }
    done
    return 1
}

# A second, throwaway PostgreSQL (16, with the pgvector extension available
# but not created: the app's migration creates it). Exports
# PGVECTOR_DATABASE_URL, and PGVECTOR_START/PGVECTOR_STOP (run them with
# as_postgres) like start_postgres's PG_START/PG_STOP. Returns non-zero,
# saying why, when it cannot.
start_pgvector() {
    if [ -n "${PGVECTOR_DATABASE_URL:-}" ]; then
        echo "== using PostgreSQL with pgvector at PGVECTOR_DATABASE_URL"
        return 0
    fi
    local install
    if ! install=$(pgserver_install); then
        echo "== could not install $PGSERVER_PIN (PostgreSQL with pgvector) from PyPI into $services_repo/target/pgserver-venv; see pip's message above" >&2
        return 1
    fi
    if [ "$(id -u)" = 0 ] && ! id -u postgres >/dev/null 2>&1; then
        echo "== adding the system user postgres (PostgreSQL refuses to run as root)"
        useradd --system --user-group --no-create-home --shell /bin/bash postgres
    fi
    # As root, the servers run as postgres, who may not be able to reach
    # the venv (a repository under /root is not traversable by others):
    # then run a copy under $work. The binaries find libpq through the
    # relative RPATH $ORIGIN/../../../pgserver.libs, so keep that layout.
    if ! as_postgres test -x "$install/bin/initdb" 2>/dev/null \
        || ! as_postgres test -r "$install/share/postgresql/extension/vector.control" 2>/dev/null; then
        mkdir -p "$work/pgserver-copy/pgserver"
        cp -a "$install" "$work/pgserver-copy/pgserver/pginstall"
        cp -a "$install/../../pgserver.libs" "$work/pgserver-copy/pgserver.libs"
        chmod -R a+rX "$work/pgserver-copy"
        install="$work/pgserver-copy/pgserver/pginstall"
    fi
    local bin="$install/bin"
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    mkdir -p "$work/pgvector"
    if [ "$(id -u)" = 0 ]; then chown postgres "$work/pgvector"; fi
    if ! as_postgres "$bin/initdb" -D "$work/pgvector/data" -U postgres --auth=trust \
        --encoding=UTF8 >"$work/pgvector/initdb.log" 2>&1; then
        echo "== initdb of PostgreSQL with pgvector ($bin) failed; its output:" >&2
        tail -20 "$work/pgvector/initdb.log" >&2
        return 1
    fi
    # Durability is pointless for a throwaway test server; speed is not.
    PGVECTOR_START="$bin/pg_ctl -D $work/pgvector/data -l $work/pgvector/log -w -o '-p $port -k $work/pgvector -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300' start"
    PGVECTOR_STOP="$bin/pg_ctl -D $work/pgvector/data -m immediate stop"
    export PGVECTOR_START PGVECTOR_STOP
    if ! as_postgres bash -c "$PGVECTOR_START" >/dev/null 2>&1; then
        echo "== PostgreSQL with pgvector ($bin) did not start on 127.0.0.1:$port; its log:" >&2
        tail -20 "$work/pgvector/log" >&2
        return 1
    fi
    export PGVECTOR_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
    local pg vector
    pg=$("$bin/postgres" --version | awk '{print $3}')
    vector=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$install/share/postgresql/extension/vector.control")
    echo "== PostgreSQL $pg with pgvector $vector on 127.0.0.1:$port"
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
    if [ -n "${PGVECTOR_STOP:-}" ]; then as_postgres $PGVECTOR_STOP >/dev/null 2>&1 || true; fi
    rm -rf "$work"
}
