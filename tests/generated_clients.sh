#!/usr/bin/env bash
# Clients generated from the committed OpenAPI document, as their authors
# would make them: a Python client (openapi-python-client, pinned) that runs
# the README walk-through against the binary on 127.0.0.1, and TypeScript
# types (openapi-typescript, pinned) that a short script type-checks against
# with tsc --strict; a wrong field must fail that check.
set -euo pipefail
cd "$(dirname "$0")/.."
binary=${VIRLIFE_BINARY:-target/debug/virlife}
venv=${CLIENT_VENV:-target/client-venv}
out=target/generated
pin='openapi-python-client==0.29.1'
if [ ! -e "$venv/.installed-$pin" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$pin"
    touch "$venv/.installed-$pin"
fi
generate=$(cd "$venv" && pwd)/bin/openapi-python-client
rm -rf "$out/python" && mkdir -p "$out/python"
printf 'post_hooks: []\n' > "$out/python-config.yaml"
(cd "$out/python" && "$generate" generate --path ../../../openapi/openapi.json \
    --meta setup --config ../python-config.yaml 2>&1) | tee "$out/python.log" >/dev/null
if grep -q 'Unable to process\|will be omitted\|will not be generated' "$out/python.log"; then
    echo "openapi-python-client could not use the whole document:"; cat "$out/python.log"; exit 1
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check --force-reinstall "$out"/python/*/

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
master="client-master-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
log=$(mktemp)
env PORT="$port" API_HOST=127.0.0.1 MASTER_API_KEY="$master" LOG_LEVEL=WARNING \
    DATABASE_URL=memory: REDIS_URL= QDRANT_URL= EMBEDDING_DIMENSIONS=256 "$binary" >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && break
    sleep 0.1
done
"$venv/bin/python" tests/generated_client.py "http://127.0.0.1:$port" "$master" \
    || { echo "service log:"; tail -20 "$log"; exit 1; }

ts="$out/ts"
mkdir -p "$ts"
if [ ! -x "$ts/node_modules/.bin/tsc" ]; then
    npm install --prefix "$ts" --silent --no-audit --no-fund openapi-typescript@7.13.0 typescript@5.9.3 >/dev/null
fi
"$ts/node_modules/.bin/openapi-typescript" openapi/openapi.json -o "$ts/api.d.ts" --silent
tsc=("$ts/node_modules/.bin/tsc" --noEmit --strict --target es2022 --module es2022 --moduleResolution bundler --lib es2022,dom)
"${tsc[@]}" tests/generated_client.ts
# The check must be able to fail: the same script with a field the API lacks.
sed 's/{ content: "My boat is called the Petrel." }/{ content: "x", mood: "wry" }/' tests/generated_client.ts > "$ts/wrong.ts"
sed -i 's#"../target/generated/ts/api"#"./api"#' "$ts/wrong.ts"
if "${tsc[@]}" "$ts/wrong.ts" > "$ts/wrong.log" 2>&1; then
    echo "tsc accepted a body with a field the API does not have"; exit 1
fi
grep -q "mood" "$ts/wrong.log" || { cat "$ts/wrong.log"; exit 1; }
echo "generated TypeScript types: the walk-through type-checks (tsc --strict), a wrong field does not: ok"
