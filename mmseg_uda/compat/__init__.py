"""Compatibility of MMSeg 1.2.2 / MMEngine 0.10.7 / mmcv 2.1 with today's stack.

Imported first by :mod:`mmseg_uda`, before any mmseg module:

* :mod:`.mmcv_ops` — a pure-PyTorch ``mmcv.ops`` when compiled ops are absent (mmcv-lite);
  nothing when a source-built mmcv with ops is installed.
* :mod:`.checkpoint` — trusted local checkpoint loading on torch >= 2.6 (``--resume``,
  ``load_from``, ``tools/test.py``).
* :mod:`.packages` — MMEngine package lookup without ``pkg_resources``.
"""

from __future__ import annotations

import warnings

from . import checkpoint, mmcv_ops, packages

_MMCV_RANGE = ("2.0.0rc4", "2.2.0")


def check_mmcv() -> str:
    """Fail early, with instructions, when mmcv is missing or outside mmseg 1.2.2's range."""
    try:
        import mmcv
    except ImportError as exc:
        raise ImportError(
            "mmseg_uda needs mmcv 2.1: `pip install mmcv-lite==2.1.0` (pure Python, the default) "
            "or a source-built `mmcv==2.1.0` with compiled ops. `make setup` does the former."
        ) from exc
    from packaging.version import Version

    version = Version(mmcv.__version__)
    low, high = (Version(v) for v in _MMCV_RANGE)
    if not low <= version < high:
        raise ImportError(
            f"mmcv {mmcv.__version__} is installed, but mmsegmentation 1.2.2 needs "
            f"{_MMCV_RANGE[0]} <= mmcv < {_MMCV_RANGE[1]}; install mmcv-lite==2.1.0 or "
            "mmcv==2.1.0 (never mmcv 2.2)."
        )
    return mmcv.__version__


def apply() -> dict:
    """Apply every compatibility fix; idempotent. Returns what was done."""
    mmcv_version = check_mmcv()
    fallback = mmcv_ops.install()
    if fallback:
        # mmcv.cnn warns at import that mmcv-lite lacks this op; nothing here uses it.
        warnings.filterwarnings("ignore", message=".*MultiScaleDeformableAttention.*")
    packages.install()
    checkpoint.install()
    return {"mmcv": mmcv_version, "mmcv_ops_fallback": fallback}


__all__ = ["apply", "check_mmcv", "checkpoint", "mmcv_ops", "packages"]
