"""A pure-PyTorch stand-in for ``mmcv.ops`` when mmcv has no compiled ops.

mmseg 1.2.2 imports ``mmcv.ops`` at import time in a few places (focal loss, point sampling,
mask classification, the SAN head). With ``mmcv-lite`` every ``mmcv.ops`` submodule tries to
load the compiled ``mmcv._ext`` and fails, so ``import mmseg.models`` fails. Nothing on this
project's model path calls a compiled op, so a small module placed in ``sys.modules`` before
mmseg is imported is enough:

* ``point_sample`` and ``sigmoid_focal_loss`` are implemented in plain PyTorch;
* any other name resolves to a placeholder class that raises a clear error when it is *used*
  (a missing name would raise ``ImportError``, which mmseg's ``except ModuleNotFoundError``
  guards do not catch).

When the compiled ops exist (a source-built ``mmcv==2.1.0``), :func:`install` does nothing.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
import types
from typing import Optional

import torch
import torch.nn.functional as F

FALLBACK_FLAG = "__mmseg_uda_fallback__"

_INSTALL_HINT = (
    "mmcv.ops.{name} needs mmcv's compiled ops, but only mmcv-lite (or an mmcv without "
    "compiled extensions) is installed, so mmseg_uda put a pure-PyTorch fallback in place "
    "that only provides point_sample and sigmoid_focal_loss. Install a source-built "
    "mmcv==2.1.0 (`pip install --no-build-isolation mmcv==2.1.0` with setuptools<70) to use "
    "{name}."
)


def point_sample(input: torch.Tensor, points: torch.Tensor, align_corners: bool = False,
                 **kwargs) -> torch.Tensor:
    """Sample ``input`` at normalised point coordinates (same contract as mmcv's).

    Args:
        input (torch.Tensor): feature map, shape (N, C, H, W).
        points (torch.Tensor): point coordinates in ``[0, 1] x [0, 1]`` (x, y order), shape
            (N, P, 2) or (N, Hgrid, Wgrid, 2).
        align_corners (bool): passed to :func:`torch.nn.functional.grid_sample`.
            Default: False.
        **kwargs: further keyword arguments of ``grid_sample`` (``mode``, ``padding_mode``).

    Returns:
        torch.Tensor: sampled features, shape (N, C, P) or (N, C, Hgrid, Wgrid).
    """
    squeeze = points.dim() == 3
    if squeeze:
        points = points.unsqueeze(2)
    out = F.grid_sample(input, 2.0 * points - 1.0, align_corners=align_corners, **kwargs)
    return out.squeeze(3) if squeeze else out


def sigmoid_focal_loss(input: torch.Tensor, target: torch.Tensor, gamma: float = 2.0,
                       alpha: float = 0.25, weight: Optional[torch.Tensor] = None,
                       reduction: str = "mean") -> torch.Tensor:
    """Sigmoid focal loss with mmcv's compiled-op contract, in plain PyTorch.

    Args:
        input (torch.Tensor): logits, shape (N, C).
        target (torch.Tensor): class indices, shape (N,); a value outside ``[0, C)`` (mmseg
            passes ``C`` for background/ignored) makes every class a negative.
        gamma (float): focusing parameter. Default: 2.0.
        alpha (float): weight of the positive term; negatives get ``1 - alpha``. Default: 0.25.
        weight (torch.Tensor, optional): per-sample weight, shape (N,). Default: None.
        reduction (str): ``'none'``, ``'mean'`` or ``'sum'``. Default: ``'mean'``.

    Returns:
        torch.Tensor: the loss, shape (N, C) for ``'none'``, else a scalar.
    """
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
    num_classes = input.size(1)
    classes = torch.arange(num_classes, device=input.device)
    one_hot = (target.view(-1, 1) == classes.view(1, -1)).to(input.dtype)
    prob = input.sigmoid()
    one_minus_pt = (1 - prob) * one_hot + prob * (1 - one_hot)
    focal_weight = (alpha * one_hot + (1 - alpha) * (1 - one_hot)) * one_minus_pt.pow(gamma)
    loss = F.binary_cross_entropy_with_logits(input, one_hot, reduction="none") * focal_weight
    if weight is not None:
        loss = loss * weight.view(-1, 1).to(loss.dtype)
    if reduction == "mean":
        return loss.sum() / input.size(0)  # mmcv averages over samples, not elements
    if reduction == "sum":
        return loss.sum()
    return loss


def _placeholder(name: str) -> type:
    """A class standing in for a compiled op: importable and subclassable, unusable."""

    def _refuse(*args, **kwargs):
        raise RuntimeError(_INSTALL_HINT.format(name=name))

    return type(name, (), {"__new__": _refuse, "__doc__": _INSTALL_HINT.format(name=name),
                           "__module__": "mmcv.ops"})


def compiled_ops_available() -> bool:
    """Whether mmcv's compiled extension ``mmcv._ext`` can be imported."""
    existing = sys.modules.get("mmcv.ops")
    if existing is not None and getattr(existing, FALLBACK_FLAG, False):
        return False
    try:
        return importlib.util.find_spec("mmcv._ext") is not None
    except (ImportError, ValueError):  # mmcv itself missing, or a broken spec
        return False


def build_fallback_module() -> types.ModuleType:
    """Create the fallback ``mmcv.ops`` module object (not yet installed)."""
    module = types.ModuleType("mmcv.ops", __doc__)
    module.__path__ = []  # a package: ``mmcv.ops.x`` imports fail with ModuleNotFoundError
    module.__spec__ = importlib.machinery.ModuleSpec("mmcv.ops", loader=None, is_package=True)
    module.__spec__.submodule_search_locations = []
    module.point_sample = point_sample
    module.sigmoid_focal_loss = sigmoid_focal_loss
    setattr(module, FALLBACK_FLAG, True)
    cache: dict = {}

    def __getattr__(name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        if name not in cache:
            cache[name] = _placeholder(name)
        return cache[name]

    module.__getattr__ = __getattr__
    return module


def install() -> bool:
    """Put the fallback ``mmcv.ops`` in place when mmcv's compiled ops are absent.

    Must run before mmseg is first imported. Does nothing when ``mmcv._ext`` exists or when a
    real ``mmcv.ops`` has already been imported.

    Returns:
        bool: True if the fallback is (now) installed, False if the real ops are used.
    """
    existing = sys.modules.get("mmcv.ops")
    if existing is not None:
        return bool(getattr(existing, FALLBACK_FLAG, False))
    if compiled_ops_available():
        return False
    import mmcv  # noqa: F401  (the parent package must exist before its child is registered)

    module = build_fallback_module()
    sys.modules["mmcv.ops"] = module
    sys.modules["mmcv"].ops = module
    return True


def is_installed() -> bool:
    """Whether the ``mmcv.ops`` in use is this fallback."""
    return bool(getattr(sys.modules.get("mmcv.ops"), FALLBACK_FLAG, False))
