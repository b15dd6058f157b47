"""Loading this project's own training checkpoints on torch >= 2.6.

Since torch 2.6, ``torch.load`` defaults to ``weights_only=True``. MMEngine's local-file loader
calls ``torch.load`` without that argument, and Runner checkpoints pickle ``HistoryBuffer``,
numpy scalars and ``builtins.getattr`` in their ``message_hub`` — so ``--resume``, ``load_from``
and ``tools/test.py`` fail with ``UnpicklingError``. Allow-listing would need ``getattr``, which
defeats the point of the safe loader, so for *local files* we re-register MMEngine's default
scheme with a loader that passes ``weights_only=False``.

Security: this unpickles arbitrary objects. Load only checkpoints you trust (your own runs).
Published weight files should hold only ``{"meta", "state_dict"}`` tensors, which load with
``weights_only=True`` (see :func:`load_weights_only`).
"""

from __future__ import annotations

import os
import os.path as osp
from typing import Any, Callable, Optional

import torch

_installed = False


def load_from_trusted_local(filename: str, map_location: Optional[Any] = None) -> Any:
    """Load a local checkpoint file with full unpickling (trusted files only).

    Args:
        filename (str): path of the checkpoint (``~`` is expanded).
        map_location: passed to :func:`torch.load`. Default: None.

    Returns:
        The unpickled object.

    Raises:
        FileNotFoundError: if the file does not exist, naming it.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f"checkpoint file not found: {filename!r}")
    return torch.load(filename, map_location=map_location, weights_only=False)


def load_weights_only(filename: str, map_location: Optional[Any] = "cpu") -> Any:
    """Load a weights file safely (tensors and plain containers only).

    Args:
        filename (str): path of the file.
        map_location: passed to :func:`torch.load`. Default: ``'cpu'``.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f"weights file not found: {filename!r}")
    return torch.load(filename, map_location=map_location, weights_only=True)


def install(loader: Callable[[str, Optional[Any]], Any] = load_from_trusted_local) -> None:
    """Make MMEngine's local-path checkpoint scheme use ``loader``.

    Idempotent. ``http(s)://``, ``s3://`` and the other prefixed schemes are untouched.
    """
    global _installed
    if _installed:
        return
    from mmengine.runner.checkpoint import CheckpointLoader

    CheckpointLoader.register_scheme(prefixes="", loader=loader, force=True)
    _installed = True


def save_weights(state_dict: dict, filename: str, meta: Optional[dict] = None) -> None:
    """Write a publishable weights file ``{"meta", "state_dict"}`` (loads with weights_only).

    Refuses to overwrite an existing file.
    """
    if osp.exists(filename):
        raise FileExistsError(f"refusing to overwrite existing file {filename!r}")
    os.makedirs(osp.dirname(osp.abspath(filename)), exist_ok=True)
    torch.save({"meta": dict(meta or {}), "state_dict": state_dict}, filename)
