#!/usr/bin/env bash
# The OpenAI-compatible endpoints driven by the official `openai` Python
# package (pinned, in a venv under target/), on 127.0.0.1 only: once over
# the offline model (recall is checked), once with the OpenAI-compatible
# mock provider (examples/mock_llm.rs) behind the service.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/harness.sh
binary=${VIRLIFE_BINARY:-target/debug/virlife}
mock=${MOCK_LLM_BINARY:-target/debug/examples/mock_llm}
venv=${OPENAI_VENV:-target/openai-venv}
pinned_venv "$venv" 'openai==1.55.3'
[ -x "$mock" ] || cargo build --quiet --example mock_llm

run() {
    local recall=$1; shift
    local key character
    start_virlife "$binary" "$@"
    key=$(tenant_key openai)
    character=$(curl -sf -X POST "$base/v1/characters" -H "Authorization: Bearer $key" \
        -H 'Content-Type: application/json' -d '{"name":"Ada","persona":"A retired sea captain."}' \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    "$venv/bin/python" tests/openai_client.py "$base" "$key" "$character" "$recall" || service_failed
}

echo "-- over the offline model"
run yes
echo "-- with the OpenAI-compatible mock provider behind"
mock_port=$(free_port)
MOCK_PORT=$mock_port MOCK_DIMENSIONS=256 "$mock" >/dev/null 2>&1 &
harness_pids+=($!)
for _ in $(seq 100); do
    python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2)' "$mock_port" 2>/dev/null && break
    sleep 0.1
done
run no VENICE_API_KEY=sk-mock VENICE_BASE_URL="http://127.0.0.1:$mock_port/v1" \
    EMBEDDING_MODEL_ID=mock-embeddings EMBEDDING_DIMENSIONS=256
