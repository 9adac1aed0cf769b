#!/usr/bin/env bash
# The MCP server at /mcp driven by the official `mcp` Python package's
# client (pinned, in a venv under target/), against the binary on
# 127.0.0.1 with the in-memory store and the offline model.
set -euo pipefail
cd "$(dirname "$0")/.."
binary=${VIRLIFE_BINARY:-target/debug/virlife}
venv=${MCP_VENV:-target/mcp-venv}
pin='mcp==1.26.0'
if [ ! -e "$venv/.installed-$pin" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$pin"
    touch "$venv/.installed-$pin"
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
master="mcp-master-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
log=$(mktemp)
env PORT="$port" API_HOST=127.0.0.1 MASTER_API_KEY="$master" LOG_LEVEL=WARNING \
    DATABASE_URL=memory: REDIS_URL= QDRANT_URL= EMBEDDING_DIMENSIONS=256 "$binary" >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && break
    sleep 0.1
done
base="http://127.0.0.1:$port"
key_for() {
    curl -sf -X POST "$base/v1/admin/api-keys" -H "Authorization: Bearer $master" \
        -H 'Content-Type: application/json' -d "{\"tenant\":\"$1\",\"name\":\"mcp\"}" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])'
}
key=$(key_for harbour)
other=$(key_for tavern)
character=$(curl -sf -X POST "$base/v1/characters" -H "Authorization: Bearer $key" \
    -H 'Content-Type: application/json' -d '{"name":"Ada","persona":"A retired sea captain."}' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
"$venv/bin/python" tests/mcp_client.py "$base" "$key" "$other" "$character" \
    || { echo "service log:"; tail -20 "$log"; exit 1; }
