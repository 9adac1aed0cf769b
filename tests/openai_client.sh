#!/usr/bin/env bash
# The OpenAI-compatible endpoints driven by the official `openai` Python
# package (pinned, in a venv under target/), on 127.0.0.1 only: once over
# the offline model (recall is checked), once with the OpenAI-compatible
# mock provider (examples/mock_llm.rs) behind the service.
set -euo pipefail
cd "$(dirname "$0")/.."
binary=${VIRLIFE_BINARY:-target/debug/virlife}
mock=${MOCK_LLM_BINARY:-target/debug/examples/mock_llm}
venv=${OPENAI_VENV:-target/openai-venv}
pin='openai==1.55.3'
if [ ! -e "$venv/.installed-$pin" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$pin"
    touch "$venv/.installed-$pin"
fi
[ -x "$mock" ] || cargo build --quiet --example mock_llm
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT

run() {
    local recall=$1; shift
    local port master key character log
    port=$(free_port)
    master="openai-master-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
    log=$(mktemp)
    env PORT="$port" API_HOST=127.0.0.1 MASTER_API_KEY="$master" LOG_LEVEL=WARNING \
        DATABASE_URL=memory: REDIS_URL= QDRANT_URL= "$@" "$binary" >"$log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && break
        sleep 0.1
    done
    key=$(curl -sf -X POST "http://127.0.0.1:$port/v1/admin/api-keys" -H "Authorization: Bearer $master" \
        -H 'Content-Type: application/json' -d '{"tenant":"openai","name":"sdk"}' \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
    character=$(curl -sf -X POST "http://127.0.0.1:$port/v1/characters" -H "Authorization: Bearer $key" \
        -H 'Content-Type: application/json' -d '{"name":"Ada","persona":"A retired sea captain."}' \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    "$venv/bin/python" tests/openai_client.py "http://127.0.0.1:$port" "$key" "$character" "$recall" \
        || { echo "service log:"; tail -20 "$log"; exit 1; }
}

echo "-- over the offline model"
run yes
echo "-- with the OpenAI-compatible mock provider behind"
mock_port=$(free_port)
MOCK_PORT=$mock_port MOCK_DIMENSIONS=256 "$mock" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 100); do
    python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2)' "$mock_port" 2>/dev/null && break
    sleep 0.1
done
run no VENICE_API_KEY=sk-mock VENICE_BASE_URL="http://127.0.0.1:$mock_port/v1" \
    EMBEDDING_MODEL_ID=mock-embeddings EMBEDDING_DIMENSIONS=256
