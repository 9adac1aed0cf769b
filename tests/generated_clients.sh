#!/usr/bin/env bash
# Clients generated from the committed OpenAPI document, as their authors
# would make them: a Python client (openapi-python-client, pinned) that runs
# the README walk-through against the binary on 127.0.0.1, and TypeScript
# types (openapi-typescript, pinned) that a short script type-checks against
# with tsc --strict; a wrong field must fail that check.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/harness.sh
venv=${CLIENT_VENV:-target/client-venv}
out=target/generated
pinned_venv "$venv" 'openapi-python-client==0.29.1'
generate=$(cd "$venv" && pwd)/bin/openapi-python-client
rm -rf "$out/python" && mkdir -p "$out/python"
printf 'post_hooks: []\n' > "$out/python-config.yaml"
(cd "$out/python" && "$generate" generate --path ../../../openapi/openapi.json \
    --meta setup --config ../python-config.yaml 2>&1) > "$out/python.log"
if grep -q 'Unable to process\|will be omitted\|will not be generated' "$out/python.log"; then
    echo "openapi-python-client could not use the whole document:"; cat "$out/python.log"; exit 1
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check --force-reinstall "$out"/python/*/
start_virlife "${VIRLIFE_BINARY:-target/debug/virlife}"
"$venv/bin/python" tests/generated_client.py "$base" "$master" || service_failed

ts="$out/ts"
mkdir -p "$ts"
if ! command -v npm >/dev/null; then
    echo "== installing Node.js and npm from Debian packages"
    apt_install nodejs npm
fi
if [ ! -x "$ts/node_modules/.bin/tsc" ]; then
    npm install --prefix "$ts" --silent --no-audit --no-fund openapi-typescript@7.13.0 typescript@5.9.3 >/dev/null
fi
"$ts/node_modules/.bin/openapi-typescript" openapi/openapi.json -o "$ts/api.d.ts" --silent
tsc=("$ts/node_modules/.bin/tsc" --noEmit --strict --target es2022 --module es2022 --moduleResolution bundler --lib es2022,dom)
"${tsc[@]}" tests/generated_client.ts
# The check must be able to fail: the same script with a field the API lacks.
sed -e 's/{ content: "My boat is called the Petrel." }/{ content: "x", mood: "wry" }/' \
    -e 's#"../target/generated/ts/api"#"./api"#' tests/generated_client.ts > "$ts/wrong.ts"
if "${tsc[@]}" "$ts/wrong.ts" > "$ts/wrong.log" 2>&1; then
    echo "tsc accepted a body with a field the API does not have"; exit 1
fi
grep -q "mood" "$ts/wrong.log" || { cat "$ts/wrong.log"; exit 1; }
echo "generated TypeScript types: the walk-through type-checks (tsc --strict), a wrong field does not: ok"
