#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment and install the pinned stack into it.
#
#   bash scripts/setup_env.sh          # what `make setup` (and so `make demo`/`make test`) runs
#
# Idempotent: a stamp in the venv records a hash of pyproject.toml and this script, so a second
# run returns in about a second. Environment variables:
#   VENV=.venv                                  where the environment lives
#   PYTHON=python3                              interpreter used to create it
#   TORCH_SPEC="torch==2.14.1 torchvision==0.29.1"   torch build to install when none is there
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-"torch==2.14.1 torchvision==0.29.1"}
OPENCV_SPEC="opencv-python-headless==4.12.0.88"
stamp="$VENV/.mmseg_uda-setup"
want=$(cat pyproject.toml scripts/setup_env.sh | sha256sum | cut -d' ' -f1)

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$VENV/bin/python" ]; then
    exit 0
fi

if [ ! -x "$VENV/bin/python" ]; then
    echo "[setup] creating virtual environment $VENV"
    "$PYTHON" -m venv "$VENV"
fi
py="$VENV/bin/python"
pip() { "$py" -m pip --disable-pip-version-check "$@"; }

# torch first and explicitly: which build (CPU/CUDA) is the user's choice, not a resolver's.
if ! "$py" -c "import torch, torchvision" >/dev/null 2>&1; then
    echo "[setup] installing $TORCH_SPEC"
    pip install -q $TORCH_SPEC
fi

# mmcv: keep a source-built mmcv 2.1 with compiled ops when the venv has one; otherwise
# mmcv-lite. (Both provide the `mmcv` module: installing one over the other would clobber it.)
if "$py" -c "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec('mmcv._ext') else 1)" \
        >/dev/null 2>&1; then
    extras="dev"
    echo "[setup] keeping the installed mmcv with compiled ops"
else
    extras="lite,dev"
fi
echo "[setup] installing mmseg_uda[$extras] (editable) and the pinned stack"
pip install -q -e ".[$extras]"

# mmengine and mmcv declare `opencv-python` (the GUI build); it and the headless build write the
# same cv2 files. Keep exactly one: the headless build this project pins.
if pip show opencv-python >/dev/null 2>&1; then
    echo "[setup] replacing opencv-python by $OPENCV_SPEC"
    pip uninstall -q -y opencv-python
    pip install -q --force-reinstall --no-deps "$OPENCV_SPEC"
fi

"$py" -c "import mmseg_uda, cv2, torch; print('[setup] ok: mmseg_uda', mmseg_uda.__version__, \
'| torch', torch.__version__, '| opencv', cv2.__version__, '| compat', mmseg_uda.COMPAT_STATE)"
echo "$want" > "$stamp"
