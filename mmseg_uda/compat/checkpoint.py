"""Loading checkpoints: trusted local files on torch >= 2.6, clear errors, strict key checks.

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
import pickle
import zipfile
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch

from ..utils.errors import CheckpointError

_installed = False
_ZIP_MAGIC = b"PK\x03\x04"


def diagnose_file(filename: str, exc: Optional[BaseException] = None) -> str:
    """Say in words what is wrong with a checkpoint / weights file that ``torch.load`` refused.

    Args:
        filename (str): the file.
        exc (Exception, optional): the error ``torch.load`` raised, for the cases the file's
            bytes do not explain.

    Returns:
        str: e.g. ``"the file is empty (0 bytes)"``, ``"the file is truncated or corrupt (a
        zip archive without its central directory, 1.2 kB)"``.
    """
    size = osp.getsize(filename)
    if size == 0:
        return "the file is empty (0 bytes): an interrupted save or copy?"
    with open(filename, "rb") as f:
        head = f.read(4)
    human = f"{size / 1024:.1f} kB" if size < 1 << 20 else f"{size / (1 << 20):.1f} MB"
    if head == _ZIP_MAGIC:
        if not zipfile.is_zipfile(filename):
            return (f"the file is truncated or corrupt ({human}, a zip archive without its end: "
                    "an interrupted save or copy?)")
        try:
            with zipfile.ZipFile(filename) as zf:
                bad = zf.testzip()
        except (zipfile.BadZipFile, OSError, EOFError) as zip_exc:
            return f"the file is corrupt ({human}): {zip_exc}"
        if bad is not None:
            return f"the file is corrupt ({human}): the entry {bad!r} fails its CRC check"
    elif head[:1] != b"\x80":  # neither a zip (torch >= 1.6) nor a legacy pickle
        if head.startswith(b"{") or filename.endswith(".safetensors"):
            return f"the file is not a PyTorch checkpoint ({human}; safetensors or JSON?)"
        return (f"the file is not a PyTorch checkpoint ({human}, starts with {head!r}; "
                "truncated, or another format?)")
    text = str(exc).lower().replace("_", " ")
    if isinstance(exc, pickle.UnpicklingError) and "weights only" in text:
        return "it pickles Python objects besides tensors (weights_only loading refused it)"
    if exc is not None:
        return " ".join(str(exc).split())[:300] or type(exc).__name__
    return f"unreadable ({human})"


def check_loadable(filename: str) -> None:
    """Raise :class:`CheckpointError` naming the file if it is missing, empty or truncated.

    Reads the whole file (the CRC of every zip entry) but unpickles nothing, so it is cheap
    compared with loading and safe on files that are not trusted.
    """
    if not osp.isfile(filename):
        raise CheckpointError(f"checkpoint file not found: {filename!r}")
    size = osp.getsize(filename)
    with open(filename, "rb") as f:
        head = f.read(4)
    if size == 0 or head != _ZIP_MAGIC or not zipfile.is_zipfile(filename):
        if size > 0 and head[:1] == b"\x80":
            return  # legacy (pre-zip) torch format: nothing to check without unpickling
        raise CheckpointError(f"checkpoint {filename!r} cannot be loaded: "
                              f"{diagnose_file(filename)}")
    try:
        with zipfile.ZipFile(filename) as zf:
            bad = zf.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise CheckpointError(f"checkpoint {filename!r} cannot be loaded: the file is corrupt "
                              f"({exc})") from exc
    if bad is not None:
        raise CheckpointError(f"checkpoint {filename!r} cannot be loaded: the entry {bad!r} "
                              "fails its CRC check (corrupt file)")


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
    try:
        return torch.load(filename, map_location=map_location, weights_only=False)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile) as exc:
        raise CheckpointError(f"checkpoint {filename!r} cannot be loaded: "
                              f"{diagnose_file(filename, exc)}") from exc


def load_weights_only(filename: str, map_location: Optional[Any] = "cpu") -> Any:
    """Load a weights file safely (tensors and plain containers only).

    Args:
        filename (str): path of the file.
        map_location: passed to :func:`torch.load`. Default: ``'cpu'``.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f"weights file not found: {filename!r}")
    try:
        return torch.load(filename, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile) as exc:
        raise CheckpointError(f"weights file {filename!r} cannot be loaded: "
                              f"{diagnose_file(filename, exc)}") from exc


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


# ----------------------------------------------------------------------------- strict loading
TEACHER_PREFIX = "teacher."


def match_keys(model_keys, checkpoint_keys) -> Tuple[List[str], List[str], List[str]]:
    """Compare the keys of a model and of a checkpoint's state dict.

    The one accepted difference: teacher weights (``teacher.*``) in the checkpoint of a model
    that has no teacher — a DACS checkpoint evaluated through its student (source-only config,
    plain prediction) — are ignored. A model that *has* a teacher and a checkpoint without one
    (teacher evaluation of a source-only checkpoint) is a mismatch.

    Args:
        model_keys (iterable of str): keys of ``model.state_dict()``.
        checkpoint_keys (iterable of str): keys of the checkpoint's state dict.

    Returns:
        tuple: ``(missing, unexpected, ignored)`` sorted key lists.
    """
    model_keys, checkpoint_keys = set(model_keys), set(checkpoint_keys)
    missing = sorted(model_keys - checkpoint_keys)
    unexpected = sorted(checkpoint_keys - model_keys)
    ignored: List[str] = []
    if not any(k.startswith(TEACHER_PREFIX) for k in model_keys):
        ignored = [k for k in unexpected if k.startswith(TEACHER_PREFIX)]
        unexpected = [k for k in unexpected if not k.startswith(TEACHER_PREFIX)]
    return missing, unexpected, ignored


def _first(keys: List[str], limit: int = 5) -> str:
    more = f" (+{len(keys) - limit} more)" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def load_checkpoint_checked(model: torch.nn.Module, filename: str, strict: bool = True,
                            map_location: Any = "cpu") -> Dict[str, Any]:
    """Load a checkpoint into ``model``; by default refuse one that does not fit it.

    Args:
        model (nn.Module): the model (a DDP wrapper or a TTA model is unwrapped, as
            MMEngine's loader does).
        filename (str): the checkpoint (a Runner checkpoint or ``{'state_dict': ...}``).
        strict (bool): raise :class:`CheckpointError` naming the first missing / unexpected
            keys when the checkpoint does not fit. False loads what fits and reports the rest.
            Default: True.
        map_location: passed to :func:`torch.load`. Default: ``'cpu'``.

    Returns:
        dict: ``strict``, ``missing``, ``unexpected``, ``ignored`` (key lists) and ``meta``
        (the checkpoint's meta, or ``{}``).
    """
    from mmengine.model import BaseTTAModel, is_model_wrapper
    from mmengine.runner.checkpoint import load_state_dict

    module = model
    while is_model_wrapper(module) or isinstance(module, BaseTTAModel):  # as MMEngine does
        module = module.module
    ckpt = load_from_trusted_local(filename, map_location=map_location)
    state_dict = ckpt.get("state_dict", ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state_dict, dict) or not all(
            isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise CheckpointError(f"checkpoint {filename!r} holds no state dict of tensors "
                              f"(found {type(ckpt).__name__})")
    state_dict = {k[len("module."):] if k.startswith("module.") else k: v
                  for k, v in state_dict.items()}
    own = module.state_dict()
    missing, unexpected, ignored = match_keys(own.keys(), state_dict.keys())
    mismatched = [f"{k} {tuple(state_dict[k].shape)} vs {tuple(own[k].shape)}"
                  for k in sorted(set(own) & set(state_dict))
                  if state_dict[k].shape != own[k].shape]
    if mismatched:  # never loadable, not even with --non-strict
        raise CheckpointError(
            f"checkpoint {filename!r} does not fit the model of the config: {len(mismatched)} "
            f"tensor(s) of another shape (checkpoint vs model), e.g. {_first(mismatched, 3)}")
    if strict and (missing or unexpected):
        parts = []
        if missing:
            parts.append(f"{len(missing)} model key(s) missing from it, e.g. {_first(missing)}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected key(s), e.g. {_first(unexpected)}")
        raise CheckpointError(
            f"checkpoint {filename!r} does not fit the model of the config (a checkpoint of "
            f"another config?): {'; '.join(parts)}. Pass --non-strict to load it anyway")
    skip = set(ignored)
    load_state_dict(module, {k: v for k, v in state_dict.items() if k not in skip},
                    strict=False, logger="silent")
    meta = ckpt.get("meta", {}) if isinstance(ckpt, dict) else {}
    return dict(strict=strict, missing=missing, unexpected=unexpected, ignored=ignored,
                meta=meta if isinstance(meta, dict) else {})
