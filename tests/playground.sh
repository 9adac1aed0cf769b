#!/usr/bin/env bash
# The playground in headless Chromium: Debian's chromium and chromedriver
# (installed here when missing), Selenium from PyPI (pinned, in a venv
# under target/), the binary on 127.0.0.1 with the in-memory store.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/harness.sh
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    echo "== installing Chromium and ChromeDriver from Debian packages"
    apt_install chromium chromium-driver
fi
venv=${PLAYGROUND_VENV:-target/playground-venv}
pinned_venv "$venv" 'selenium==4.27.1'
start_virlife "${VIRLIFE_BINARY:-target/debug/virlife}" ENABLE_API_DOCS=true
"$venv/bin/python" tests/playground.py "$base" "$(tenant_key playground)" || service_failed
