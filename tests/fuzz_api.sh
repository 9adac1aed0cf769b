#!/usr/bin/env bash
# Fuzzes the running service from the committed OpenAPI document with
# schemathesis (PyPI), bounded in examples and time, on 127.0.0.1 only:
# single operations (coverage, fuzzing), then the stateful phase, which
# chains operations through the links schemathesis infers from the
# document (create a character, then read, patch, search, delete it…).
# Fails on any 5xx, a response that does not match the document, or an
# undocumented status. The turn stream's events are read by
# tests/fuzz_hooks.py and each checked against the document. Two exclusions,
# both deliberate:
# - chat completions with `stream: true` (OpenAI's chunk stream, `data:`
#   lines ending in `[DONE]`, which is not JSON): fuzzed for server errors
#   only, below (the official openai client checks its shape);
# - schemathesis reuses an Idempotency-Key with another body, and the 422
#   it gets is the documented answer (the IETF idempotency draft's).
set -euo pipefail
cd "$(dirname "$0")/.."
binary=${VIRLIFE_BINARY:-target/debug/virlife}
venv=${SCHEMATHESIS_VENV:-target/schemathesis-venv}
if [ ! -x "$venv/bin/schemathesis" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'schemathesis==4.*'
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
master="fuzz-master-key-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
log=$(mktemp)
# On the default store, SQLite, in a file of its own.
data=$(mktemp -d)
PORT=$port API_HOST=127.0.0.1 MASTER_API_KEY=$master LOG_LEVEL=WARNING DATABASE_URL="sqlite://$data/fuzz.db" \
    REDIS_URL= DISK_ALERT_PERCENT=100 "$binary" >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$log" "$log.fuzz" "$data"' EXIT
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && break
    sleep 0.1
done
key=$(curl -sf -X POST "http://127.0.0.1:$port/v1/admin/api-keys" -H "Authorization: Bearer $master" \
    -H 'Content-Type: application/json' -d '{"tenant":"fuzz","name":"schemathesis"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
SCHEMATHESIS_HOOKS=tests/fuzz_hooks.py "$venv/bin/schemathesis" run openapi/openapi.json \
    --url "http://127.0.0.1:$port" \
    -H "Authorization: Bearer $key" \
    --checks all \
    --exclude-checks positive_data_acceptance \
    --phases examples,coverage,fuzzing,stateful \
    --exclude-path-regex '/chat/completions$' \
    --max-examples "${FUZZ_EXAMPLES:-40}" \
    --seed 20261126 \
    --workers 2 \
    --request-timeout 10 | tee "$log.fuzz"
# The stateful phase must have chained something, not been skipped.
if ! grep -qE 'Scenarios: +[1-9]' "$log.fuzz"; then
    echo "schemathesis ran no stateful scenario (no links inferred?)"; exit 1
fi
# Chat completions (a stream on request) are still fuzzed for server errors.
"$venv/bin/schemathesis" run openapi/openapi.json \
    --url "http://127.0.0.1:$port" \
    -H "Authorization: Bearer $key" \
    --checks not_a_server_error \
    --include-path-regex '/chat/completions$' \
    --max-examples "${FUZZ_EXAMPLES:-40}" \
    --seed 20261126 \
    --request-timeout 10
if grep -q '"level":"ERROR"\|panicked' "$log"; then
    echo "the service logged errors while fuzzed:"; grep '"level":"ERROR"\|panicked' "$log" | head -20
    exit 1
fi
echo "API fuzzing: ok"
