#!/usr/bin/env bash
# The main job on a fresh machine: install modelhub (CPU torch), start a local hub, create a user and a write
# token, push a model with PyTorchModelHubMixin and load it back. Everything lives under .demo/ (removed on exit).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
export PIP_DISABLE_PIP_VERSION_CHECK=1
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q torch==2.13.0 2>&1 | grep -v 'is ignored' || true
.venv/bin/python -m pip install -q -e '.[torch,server]' 2>&1 | grep -v 'is ignored' || true

DATA=$(mktemp -d "${TMPDIR:-/tmp}/modelhub-demo.XXXXXX")
PORT=${PORT:-$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
export HF_ENDPOINT="http://127.0.0.1:$PORT" HF_HOME="$DATA/hf-home" HF_HUB_DISABLE_TELEMETRY=1

.venv/bin/modelhub serve --host 127.0.0.1 --port "$PORT" --data-dir "$DATA/hub" >"$DATA/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true; rm -rf "$DATA"' EXIT
for _ in $(seq 1 100); do
  .venv/bin/python -c "import httpx,sys; httpx.get('$HF_ENDPOINT/api/whoami-v2', timeout=1)" 2>/dev/null && break
  sleep 0.2
done

.venv/bin/modelhub admin user create demo --data-dir "$DATA/hub"
HF_TOKEN=$(.venv/bin/modelhub admin token create demo --role write --data-dir "$DATA/hub" | tail -n 1)
export HF_TOKEN
.venv/bin/modelhub whoami
.venv/bin/python examples/quickstart.py demo/tiny-mlp
.venv/bin/modelhub ls demo/tiny-mlp
