#!/usr/bin/env bash
# Shared by the scripts that drive the binary with a real client (the
# openai and mcp packages, generated clients, a browser): a venv of pinned
# packages, the service on a free loopback port, a tenant key. Source it
# (it sources tests/services.sh for apt_install); whatever it starts is
# stopped at exit.
. "$(dirname "${BASH_SOURCE[0]}")/services.sh"
harness_pids=()
harness_stop() {
    kill "${harness_pids[@]}" 2>/dev/null || true
    cleanup
}
trap harness_stop EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# pinned_venv VENV PIN...: a venv holding exactly these pins, made again
# only when they change.
pinned_venv() {
    local venv=$1; shift
    local stamp="$venv/.installed-$(echo "$*" | tr ' /' '+_')"
    if [ ! -e "$stamp" ]; then
        rm -rf "$venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check "$@"
        touch "$stamp"
    fi
}

# start_virlife BINARY [VAR=VALUE...]: the service on 127.0.0.1 with a
# fresh master key, the in-memory store and no Redis or Qdrant (the
# variables given override), once it is ready. Sets base, master and
# service_log.
start_virlife() {
    local binary=$1; shift
    local port
    port=$(free_port)
    master="master-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
    service_log=$(mktemp -p "$work")
    env PORT="$port" API_HOST=127.0.0.1 MASTER_API_KEY="$master" LOG_LEVEL=WARNING \
        DATABASE_URL=memory: REDIS_URL= QDRANT_URL= EMBEDDING_DIMENSIONS=256 "$@" \
        "$binary" >"$service_log" 2>&1 &
    harness_pids+=($!)
    base="http://127.0.0.1:$port"
    for _ in $(seq 100); do
        curl -sf "$base/health/ready" >/dev/null && return 0
        sleep 0.1
    done
    echo "the service did not become ready:"; tail -20 "$service_log"; return 1
}

# tenant_key TENANT: a new API key for TENANT, from the service last started.
tenant_key() {
    curl -sf -X POST "$base/v1/admin/api-keys" -H "Authorization: Bearer $master" \
        -H 'Content-Type: application/json' -d "{\"tenant\":\"$1\",\"name\":\"client\"}" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])'
}

# service_failed: what the service logged last, after a client failed.
service_failed() {
    echo "service log:"; tail -20 "$service_log"; exit 1
}
