#!/usr/bin/env bash
# Load benchmark of the hot download path: /{repo}/resolve/main/{file} with a token, under wrk.
# Starts its own server on a free port with a temporary data dir, seeds a repo, warms up 3 s, runs wrk, prints
# req/s and p99 against the targets (>= 1000 req/s, p99 < 100 ms), then stops the server.
#
# Why GET and not HEAD: wrk 4.1.0 (the Debian package) cannot parse a HEAD response that carries a
# Content-Length (it waits for a body that never comes: every request ends in a read error; reproduced against
# `python -m http.server` too). The server answers HEAD and GET from the same handler, so GET of a 19-byte file
# measures the HEAD work (auth, repo + revision lookup, tree entry, headers) plus a tiny body.
#
# Run from the repository root (the script finds the checkout from its own path, so any directory works), with the
# venv scripts/test.sh builds (.venv/ beside the checkout); needs wrk and curl:
#
#     benchmarks/server_load.sh [DURATION_S=30] [CONNECTIONS=64] [THREADS=2]
#
# PYTHON=/path/to/python overrides the interpreter (default: .venv/bin/python of this checkout).
set -euo pipefail

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
  exit 0
fi

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${1:-30}
CONNS=${2:-64}
THREADS=${3:-2}
PY=${PYTHON:-$ROOT/.venv/bin/python}
[[ -x "$PY" ]] || { echo "no Python at $PY: run scripts/test.sh once (it builds .venv), or set PYTHON" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }
command -v curl >/dev/null || { echo "curl is not installed (apt-get install curl)" >&2; exit 2; }

WORK=$(mktemp -d)
PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$PORT"
SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

$PY -m modelhub serve --host 127.0.0.1 --port "$PORT" --data-dir "$WORK/data" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do curl -sf "$URL/api/health" >/dev/null && break; sleep 0.1; done
$PY -m modelhub admin user create bench --data-dir "$WORK/data" 2>/dev/null
TOKEN=$($PY -m modelhub admin token create bench --role write --data-dir "$WORK/data")

curl -sf -X POST "$URL/api/repos/create" -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d '{"name": "load"}' >/dev/null
CONTENT=$(printf '{"hidden_size": 32}' | base64)
printf '{"key":"header","value":{"summary":"seed"}}\n{"key":"file","value":{"path":"config.json","content":"%s","encoding":"base64"}}\n' \
  "$CONTENT" | curl -sf -X POST "$URL/api/models/bench/load/commit/main" -H "authorization: Bearer $TOKEN" \
  -H 'content-type: application/x-ndjson' --data-binary @- >/dev/null
curl -sfI "$URL/bench/load/resolve/main/config.json" -H "authorization: Bearer $TOKEN" | grep -i -E 'x-repo-commit|etag'

cat >"$WORK/req.lua" <<'EOF'
wrk.method = "GET"
EOF
echo "warm-up: 3 s (not measured)"
wrk -t"$THREADS" -c"$CONNS" -d3s -s "$WORK/req.lua" -H "authorization: Bearer $TOKEN" \
  "$URL/bench/load/resolve/main/config.json" >/dev/null
CPU0=$(awk '{print $14+$15}' /proc/$SERVER_PID/stat)
echo "wrk: ${DURATION}s GET $URL/bench/load/resolve/main/config.json, $CONNS connections, $THREADS threads"
wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s "$WORK/req.lua" \
  -H "authorization: Bearer $TOKEN" -H "accept-encoding: identity" \
  "$URL/bench/load/resolve/main/config.json" | tee "$WORK/wrk.txt"

CPU1=$(awk '{print $14+$15}' /proc/$SERVER_PID/stat)
TCK=$(getconf CLK_TCK)
REQS=$(awk '/requests in/ {print $1}' "$WORK/wrk.txt")
RPS=$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk.txt")
P99=$(awk '$1=="99%" {print $2}' "$WORK/wrk.txt")
NON2XX=$(awk '/Non-2xx/ {print $NF}' "$WORK/wrk.txt")
$PY - "$RPS" "$P99" "${NON2XX:-0}" "$CPU0" "$CPU1" "$TCK" "$REQS" <<'EOF'
import os
import sys
rps, p99, non2xx = float(sys.argv[1]), sys.argv[2], int(sys.argv[3] or 0)
cpu_s = (int(sys.argv[5]) - int(sys.argv[4])) / int(sys.argv[6])
unit = {"us": 1e-3, "ms": 1.0, "s": 1e3}
ms = next(float(p99[: -len(u)]) * f for u, f in sorted(unit.items(), key=lambda x: -len(x[0])) if p99.endswith(u))
print(f"RESULT requests/s = {rps:.0f} (target >= 1000: {'OK' if rps >= 1000 else 'MISSED'})")
print(f"RESULT p99 latency = {ms:.1f} ms (target < 100 ms: {'OK' if ms < 100 else 'MISSED'})")
print(f"RESULT non-2xx responses = {non2xx}")
print(f"server CPU: {cpu_s:.1f} s for {sys.argv[7]} requests = {cpu_s / max(int(sys.argv[7]), 1) * 1e6:.0f} us/request;"
      f" load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
EOF
