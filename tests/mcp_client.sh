#!/usr/bin/env bash
# The MCP server at /mcp driven by the official `mcp` Python package's
# client (pinned, in a venv under target/), against the binary on
# 127.0.0.1 with the in-memory store and the offline model.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/harness.sh
venv=${MCP_VENV:-target/mcp-venv}
pinned_venv "$venv" 'mcp==1.26.0'
start_virlife "${VIRLIFE_BINARY:-target/debug/virlife}"
key=$(tenant_key harbour)
other=$(tenant_key tavern)
character=$(curl -sf -X POST "$base/v1/characters" -H "Authorization: Bearer $key" \
    -H 'Content-Type: application/json' -d '{"name":"Ada","persona":"A retired sea captain."}' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
"$venv/bin/python" tests/mcp_client.py "$base" "$key" "$other" "$character" || service_failed
