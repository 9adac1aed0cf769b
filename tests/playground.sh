#!/usr/bin/env bash
# The playground in headless Chromium: Debian's chromium and chromedriver
# (installed here when missing), Selenium from PyPI (pinned, in a venv
# under target/), the binary on 127.0.0.1 with the in-memory store.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/services.sh
binary=${VIRLIFE_BINARY:-target/debug/virlife}
venv=${PLAYGROUND_VENV:-target/playground-venv}
pin='selenium==4.27.1'
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    echo "== installing Chromium and ChromeDriver from Debian packages"
    apt_install chromium chromium-driver
fi
if [ ! -e "$venv/.installed-$pin" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$pin"
    touch "$venv/.installed-$pin"
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
master="playground-master-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
log=$(mktemp)
env PORT="$port" API_HOST=127.0.0.1 MASTER_API_KEY="$master" ENABLE_API_DOCS=true LOG_LEVEL=WARNING \
    DATABASE_URL=memory: REDIS_URL= QDRANT_URL= EMBEDDING_DIMENSIONS=256 "$binary" >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && break
    sleep 0.1
done
base="http://127.0.0.1:$port"
key=$(curl -sf -X POST "$base/v1/admin/api-keys" -H "Authorization: Bearer $master" \
    -H 'Content-Type: application/json' -d '{"tenant":"playground","name":"browser"}' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
"$venv/bin/python" tests/playground.py "$base" "$key" \
    || { echo "service log:"; tail -20 "$log"; exit 1; }
