#!/usr/bin/env bash
# Download the pure-Python packages a bare GPU image lacks (it has torch, timm, opencv, numpy,
# scipy, scikit-learn, matplotlib) as wheels for Python 3.12 into .whl/, to carry them to a GPU
# machine that cannot reach PyPI. scripts/gpu_check.sh installs them there by itself; README
# "Developers" gives the command for other tools. About 5 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=${DEST:-.whl}
mkdir -p "$DEST"
PY=${PYTHON:-}
if [ -z "$PY" ]; then
    if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform any \
    -d "$DEST" \
    mmsegmentation==1.2.2 mmengine==0.10.7 mmcv-lite==2.1.0 \
    addict yapf termcolor prettytable wcwidth ftfy platformdirs tomli
ls -1 "$DEST"
