"""Config loading and checks shared by the tools (train, test, benchmark, predict).

The aim is to fail *before* a Runner is built when a config or a ``--cfg-options`` key is
misspelt, a checkpoint is missing or AMP is asked for without a GPU — with a message that
names the key or file.
"""

from __future__ import annotations

import difflib
import os
import os.path as osp
import sys
from typing import Any, Iterable, List, Optional

import torch
from mmengine.config import Config, ConfigDict

from .errors import UserError

# Top-level keys Runner.from_cfg (and this project's tools) read.
RUNNER_KEYS = (
    "model", "work_dir", "train_dataloader", "val_dataloader", "test_dataloader", "train_cfg",
    "val_cfg", "test_cfg", "auto_scale_lr", "optim_wrapper", "param_scheduler", "val_evaluator",
    "test_evaluator", "default_hooks", "custom_hooks", "data_preprocessor", "load_from",
    "resume", "launcher", "env_cfg", "log_processor", "log_level", "visualizer", "default_scope",
    "randomness", "experiment_name", "custom_imports", "model_wrapper_cfg", "runner_type",
    "strategy", "compile", "sync_bn", "find_unused_parameters", "tta_model", "tta_pipeline",
    "vis_backends",
)


class ConfigKeyError(KeyError):
    """A config key that does not exist (with a suggestion when one is close)."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0])


class ConfigFileError(UserError, ValueError):
    """A config file that does not parse or run (syntax error, unknown name, bad base)."""


def _close(name: str, candidates: Iterable[str], cutoff: float = 0.75) -> List[str]:
    return difflib.get_close_matches(name, [str(c) for c in candidates], n=3, cutoff=cutoff)


def edit_distance(a: str, b: str) -> int:
    """Optimal-string-alignment distance (an adjacent transposition costs 1)."""
    prev2, prev = None, list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if prev2 is not None and i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def check_top_level_keys(cfg: Config, source: str = "config") -> None:
    """Reject top-level keys that look like misspelt Runner keys (``trian_cfg``).

    Configs also hold helper variables (``train_pipeline``, ``crop_size``...), so only keys
    within two edits of a Runner key are refused.
    """
    for key in cfg.keys():
        if key in RUNNER_KEYS or key.startswith("_") or len(key) < 5:
            continue
        close = [k for k in RUNNER_KEYS if edit_distance(key, k) <= 2]
        if close:
            raise ConfigKeyError(
                f"{source}: unknown top-level key {key!r} — did you mean {close[0]!r}? "
                "(MMEngine silently ignores unknown keys, so this setting would have no effect)")


def check_cfg_options(cfg: Config, options: Optional[dict]) -> None:
    """Check ``--cfg-options`` keys against the loaded config before they are merged.

    A missing intermediate key is an error (listing the keys that exist there); a missing
    last key is an error when it is close to an existing one (a typo) and allowed otherwise
    (adding an argument, e.g. ``model.backbone.init_cfg``, is legitimate). Keys under a
    setting that is None fill a new dict there (``model.backbone.init_cfg.type=...`` when
    ``init_cfg=None``; see :func:`none_to_dicts`).
    """
    if not options:
        return
    for full_key in options:
        node: Any = cfg
        parts = full_key.split(".")
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            where = ".".join(parts[:depth]) or "<config>"
            if isinstance(node, (list, tuple)):
                if not part.isdigit() or int(part) >= len(node):
                    raise ConfigKeyError(
                        f"--cfg-options {full_key}: {where} is a list of {len(node)} items; "
                        f"{part!r} is not a valid index")
                node = node[int(part)]
                continue
            if node is None and depth > 0:  # a None setting given keys becomes a dict
                break
            if not hasattr(node, "keys"):
                raise ConfigKeyError(f"--cfg-options {full_key}: {where} is a "
                                     f"{type(node).__name__}, not a dict")
            if part in node:
                node = node[part]
                continue
            close = _close(part, node.keys())
            if not last:
                hint = f" — did you mean {close[0]!r}?" if close else ""
                raise ConfigKeyError(
                    f"--cfg-options {full_key}: {where} has no key {part!r}{hint} "
                    f"(keys there: {sorted(map(str, node.keys()))})")
            if close:
                raise ConfigKeyError(
                    f"--cfg-options {full_key}: {where} has no key {part!r} — did you mean "
                    f"{close[0]!r}? (to add a new key on purpose, spell it differently from "
                    "existing ones or edit the config)")
            break


def none_to_dicts(cfg: Config, options: Optional[dict]) -> None:
    """Replace by an empty dict each None setting that ``options`` set keys under.

    ``--cfg-options model.segmentor.backbone.init_cfg.type=MiTPretrained
    model.segmentor.backbone.init_cfg.checkpoint=PATH`` then works on a config with
    ``init_cfg=None`` (MMEngine's merge refuses to merge a dict into None).
    """
    for full_key in options or ():
        node: Any = cfg
        parts = full_key.split(".")
        for part in parts[:-1]:
            if isinstance(node, (list, tuple)):
                if not part.isdigit() or int(part) >= len(node):
                    break
                node = node[int(part)]
                continue
            if not hasattr(node, "keys") or part not in node:
                break
            if node[part] is None:
                node[part] = ConfigDict()
            node = node[part]


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """Load a config file, validate and merge ``cfg_options``, check top-level keys.

    The data-root variables, ``metainfo`` and the number of classes of the final config take
    effect wherever they are used, also when a child config or ``--cfg-options`` sets them
    (see :mod:`mmseg_uda.utils.data_config`).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f"config file not found: {path!r}")
    from .data_config import RECORD_KEY, apply_data_variables, trace_data_variables

    try:
        cfg = Config.fromfile(path)
    except Exception as exc:  # noqa: BLE001 - a config file is the user's code
        detail = " ".join(str(exc).split())
        raise ConfigFileError(f"config {path!r} cannot be read: {type(exc).__name__}: "
                              f"{detail} (--debug shows the traceback)") from exc
    # Where source_root / target_root / data_root are used, before the options change them;
    # a config saved by a run carries the record.
    table = cfg.get(RECORD_KEY) or trace_data_variables(path)
    check_cfg_options(cfg, cfg_options)
    if cfg_options:
        none_to_dicts(cfg, cfg_options)
        cfg.merge_from_dict(cfg_options)
    apply_data_variables(cfg, table, cfg_options)
    check_top_level_keys(cfg, source=path)
    return cfg


def default_work_dir(cfg: Config, config_path: str, work_dir: Optional[str]) -> str:
    """CLI ``--work-dir`` > ``work_dir`` in the config > ``./work_dirs/<config name>``."""
    if work_dir:
        return work_dir
    if cfg.get("work_dir"):
        return cfg.work_dir
    return osp.join("./work_dirs", osp.splitext(osp.basename(config_path))[0])


def enable_amp(cfg: Config) -> str:
    """Switch the optimizer wrapper to autocast (bf16 where supported); GPU only.

    Returns:
        str: the autocast dtype used.
    """
    if not torch.cuda.is_available():
        raise SystemExit("--amp needs a CUDA GPU (mmengine's AmpOptimWrapper refuses the CPU); "
                         "drop --amp to train in fp32 on this machine")
    dtype = "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    wrapper = cfg.optim_wrapper
    if wrapper.get("type", "OptimWrapper") not in ("OptimWrapper", "AmpOptimWrapper"):
        raise SystemExit(f"--amp works with OptimWrapper, but the config uses "
                         f"{wrapper.get('type')!r}")
    wrapper.type = "AmpOptimWrapper"
    wrapper.dtype = dtype
    if dtype == "float16":
        wrapper.loss_scale = "dynamic"  # bf16 has fp32's exponent range and needs no scaling
    return dtype


def setup_cpu_distributed(cfg: Config, launcher: str) -> None:
    """Let ``--launcher pytorch`` run on CPU-only machines (gloo, DDP without device ids).

    mmengine's ``init_dist`` calls ``torch.cuda.set_device``, which fails without a GPU, so
    the gloo process group is created here first (mmengine then reuses it).
    """
    if launcher == "none" or torch.cuda.is_available():
        return
    if launcher != "pytorch":
        raise SystemExit(f"--launcher {launcher} needs CUDA GPUs; on CPU use torchrun with "
                         "--launcher pytorch")
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="gloo")
    cfg.env_cfg.setdefault("dist_cfg", {})["backend"] = "gloo"
    wrapper = cfg.get("model_wrapper_cfg") or dict(type="MMDistributedDataParallel")
    wrapper["device_ids"] = None
    wrapper.setdefault("broadcast_buffers", False)
    cfg.model_wrapper_cfg = wrapper


def finish_distributed() -> None:
    """Destroy the default process group after a run that ended normally.

    Without it, gloo's worker threads may still hold work objects when the interpreter is torn
    down; rank 0 then occasionally dies with "terminate called without an active exception"
    (SIGABRT) *after* training finished, and torchrun reports the whole run as failed. Called only
    on success: after an exception the other ranks may be inside a collective, and destroying the
    group there could hang instead of letting torchrun stop them.
    """
    import torch.distributed as dist

    global _DISTRIBUTED_FINISHED
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
        _DISTRIBUTED_FINISHED = True


_DISTRIBUTED_FINISHED = False


def exit_tool(status: int) -> None:
    """Exit a tool with ``status``; after a finished distributed run, skip interpreter teardown.

    Destroying the process group (:func:`finish_distributed`) made the gloo shutdown abort rare
    but not impossible: a rank still died now and then with "terminate called without an active
    exception" while C++ threads were torn down, after every file had been written, and torchrun
    then reported the run as failed. After a distributed run that ended normally the streams and
    log handlers are flushed and closed and the process leaves with ``os._exit``, which runs no
    C++ destructors. Anything else exits normally (``sys.exit``).
    """
    if _DISTRIBUTED_FINISHED:
        import logging

        sys.stdout.flush()
        sys.stderr.flush()
        logging.shutdown()
        os._exit(int(status or 0))
    sys.exit(status)


def set_local_rank(local_rank: int) -> None:
    if "LOCAL_RANK" not in os.environ:
        os.environ["LOCAL_RANK"] = str(local_rank)


def check_schedule(cfg: Config) -> None:
    """Refuse iteration-based schedulers that start after the last training iteration."""
    max_iters = cfg.get("train_cfg", {}).get("max_iters")
    schedulers = cfg.get("param_scheduler") or []
    if isinstance(schedulers, dict):
        schedulers = [schedulers]
    if not max_iters:
        return
    for i, sched in enumerate(schedulers):
        if sched.get("by_epoch", True):
            continue
        begin, end = sched.get("begin", 0), sched.get("end", max_iters)
        if begin >= max_iters or end <= begin:
            raise SystemExit(
                f"param_scheduler[{i}] ({sched.get('type')}) spans iterations {begin}..{end} but "
                f"train_cfg.max_iters is {max_iters}; shorten it, e.g. --cfg-options "
                f"param_scheduler.{i}.begin=... (warm-up: param_scheduler.0.end)")
