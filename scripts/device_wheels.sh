#!/usr/bin/env bash
# Download the pure-Python packages a bare GPU image lacks (it has torch, timm, opencv, numpy,
# scipy, scikit-learn, matplotlib) as wheels for Python 3.12 into .whl/, to carry them to a GPU
# machine that cannot reach PyPI. See README "Developers" for the command that installs them.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=${DEST:-.whl}
mkdir -p "$DEST"
PY=${PYTHON:-.venv/bin/python}
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform any \
    -d "$DEST" \
    mmsegmentation==1.2.2 mmengine==0.10.7 mmcv-lite==2.1.0 \
    addict yapf termcolor prettytable wcwidth ftfy platformdirs tomli
ls -1 "$DEST"
