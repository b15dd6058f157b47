#!/usr/bin/env bash
# The prepared GPU check of the headline config (configs/hrda_cracks.py), or its CPU dry run:
# tools/benchmark.py modes (reference, batched, fast --amp, fast --amp --compile), the EMA
# update, a real ~100-iteration tools/train.py --amp run on generated 2048x1536 / 2560x1920
# images with one validation, tools/test.py --out, tools/predict.py, and a 2-GPU
# tools/dist_train.sh smoke run when two GPUs are visible. Every step runs under its own time
# limit inside a total budget (450 s by default), and OUT/gpu_check.json is rewritten after
# every step, so it is there even when a step fails or times out. Details: tools/gpu_check.py.
#
#   bash scripts/gpu_check.sh --out DIR [--dry-run] [tools/gpu_check.py options ...]
#   bash scripts/gpu_check.sh --out /tmp/gc --dry-run      # CPU, tiny shapes (~1 min idle)
#
# A GPU machine with torch but without the mm* packages (a lent H100/H200, Python 3.12): carry
# the wheels that `bash scripts/device_wheels.sh` downloads into .whl/ (WHEELS=DIR to change);
# they are installed here into $SITE (default /tmp/gpu_check_site) and put on PYTHONPATH.
# Interpreter: $PYTHON, else .venv/bin/python when present, else python3.
set -uo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-}
if [ -z "$PY" ]; then
    if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
PY=$(command -v "$PY" || true)
if [ -z "$PY" ]; then
    echo "[gpu_check.sh] error: no Python interpreter (${PYTHON:-python3}) found" >&2
    exit 2
fi
WHEELS=${WHEELS:-.whl}
SITE=${SITE:-/tmp/gpu_check_site}

have_stack() {
    "$PY" -c "import importlib.util as u, sys; \
sys.exit(0 if all(u.find_spec(m) for m in ('torch', 'mmengine', 'mmcv', 'mmseg')) else 1)" \
        >/dev/null 2>&1
}

if ! have_stack; then
    if compgen -G "$WHEELS/*.whl" >/dev/null; then
        echo "[gpu_check.sh] mm* packages missing: installing the wheels of $WHEELS into $SITE"
        start=$SECONDS
        "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
            --target "$SITE" "$WHEELS"/*.whl || {
            echo "[gpu_check.sh] error: installing the wheels of $WHEELS failed" >&2
            exit 2
        }
        export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
        echo "[gpu_check.sh] wheels installed in $((SECONDS - start)) s"
    fi
    if ! have_stack; then
        echo "[gpu_check.sh] error: $PY cannot import torch, mmengine, mmcv and mmseg. Set up" \
             "the environment (make setup), or carry the wheels of" \
             "'bash scripts/device_wheels.sh' in $WHEELS/ (see README, Developers)" >&2
        exit 2
    fi
fi
exec "$PY" tools/gpu_check.py --python "$PY" "$@"
