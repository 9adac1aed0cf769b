#!/usr/bin/env bash
# Runs the README's curl walk-through, as written, against a freshly started
# service (the README must stay true). Uses DATABASE_URL when it is set;
# without it, the default SQLite file, in a fresh folder.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
binary=$root/${VIRLIFE_BINARY:-target/debug/virlife}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
out=$(mktemp)
home=$(mktemp -d)
# The CI machine's own disk is not under test (/health degrades above 80 %).
(cd "$home" && PORT=$port API_HOST=127.0.0.1 LOG_FORMAT=json DISK_ALERT_PERCENT=100 \
    exec "$binary" >"$out.log" 2>&1) &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$out" "$out.log" "$out.sh" "$home"' EXIT
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && break
    sleep 0.1
done
# The README's block, with only the base URL pointed at this server.
python3 - "$port" "$out.sh" <<'PY'
import re, sys
port, target = sys.argv[1], sys.argv[2]
readme = open("README.md").read()
block = re.search(r"## Walk-through.*?```bash\n(.*?)```", readme, re.S).group(1)
block = block.replace("BASE=http://localhost:8000", f"BASE=http://127.0.0.1:{port}")
open(target, "w").write("set -euo pipefail\n" + block)
PY
bash "$out.sh" >"$out" 2>&1 || { cat "$out"; echo "README walk-through failed"; exit 1; }
check() {
    grep -q -- "$1" "$out" || { cat "$out"; echo "README walk-through: expected '$1'"; exit 1; }
}
# The remembered turn comes with the day it happened.
check 'I remember: \[[0-9-]*\] Sam: My name is Sam and I love sailing'
check 'event: delta'
check 'event: done'
check '"status": "done"'
check 'Sam said: \\"My name is Sam and I love sailing'
check '"status": "ok"'
# The two-character scene: the brawl stays with who was in the tavern.
check 'I went to The Salty Dog.'
check 'I went to The harbour.'
check 'Ada: A brawl broke out over a card game.'
check 'Bram: 0 memories of it'
check '"mood":"wary"'
if [ -z "${DATABASE_URL:-}" ]; then
    [ -f "$home/data/virlife.db" ] || { echo "README walk-through: no data/virlife.db (the default SQLite file)"; exit 1; }
fi
echo "README walk-through: ok"
