"""Check that model weights stay identical across distributed ranks."""

from __future__ import annotations

import os
import os.path as osp
from typing import Dict, Optional, Sequence

import torch
from mmengine.dist import all_gather, get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS


def select_state(model: torch.nn.Module, prefixes: Sequence[str],
                 buffers: bool = False) -> Dict[str, torch.Tensor]:
    """Parameters (and optionally buffers) of ``model`` whose names start with a prefix."""
    items = list(model.named_parameters())
    if buffers:
        items += list(model.named_buffers())
    return {k: v.detach() for k, v in items
            if not prefixes or any(k.startswith(p) for p in prefixes)}


def state_checksum(state: Dict[str, torch.Tensor]) -> torch.Tensor:
    """(num_tensors, 2) float64 sums and sums of squares, in key order (cheap to all-gather)."""
    rows = [torch.stack([v.double().sum(), v.double().square().sum()]) if v.numel()
            else torch.zeros(2, dtype=torch.float64) for v in state.values()]
    return torch.stack(rows).cpu() if rows else torch.zeros((0, 2), dtype=torch.float64)


@HOOKS.register_module()
class RankConsistencyHook(Hook):
    """Verify that selected weights (e.g. the EMA teacher) are identical on every rank.

    Under DDP the student is synchronised by the gradient all-reduce; a teacher or any
    other state updated outside the optimizer stays identical only if every rank computes
    the same update. Every ``interval`` iterations this hook all-gathers a checksum of the
    selected parameters and logs the largest difference between ranks (or raises, with
    ``strict=True``). With ``save_dir`` each rank also writes the selected parameters *and
    buffers* to ``<save_dir>/state_rank<r>.pth`` (``{'parameters': ..., 'buffers': ...}``)
    after training, for an exact offline
    comparison. A no-op in single-process runs (apart from ``save_dir``).

    Buffers are not checked by default: the teacher copies the student's BN running
    statistics, which stay per-rank when DDP runs with ``broadcast_buffers=False`` (what
    ``tools/train.py`` sets for CPU/gloo runs); they are identical with the GPU default
    ``broadcast_buffers=True``.

    Args:
        prefixes (Sequence[str]): state-dict key prefixes to check; empty = everything.
            Default: ``('teacher.',)``.
        interval (int): iterations between checks. Default: 1000.
        strict (bool): raise RuntimeError on a mismatch instead of logging a warning.
            Default: False.
        save_dir (str, optional): folder for the per-rank tensors (relative to the work
            dir). Default: None (not saved).
        buffers (bool): also check buffers. Default: False.
    """

    priority = "LOW"

    def __init__(self, prefixes: Sequence[str] = ("teacher.",), interval: int = 1000,
                 strict: bool = False, save_dir: Optional[str] = None,
                 buffers: bool = False) -> None:
        self.prefixes = tuple(prefixes)
        self.buffers = bool(buffers)
        self.interval = int(interval)
        self.strict = bool(strict)
        self.save_dir = save_dir

    def _model(self, runner) -> torch.nn.Module:
        return runner.model.module if is_model_wrapper(runner.model) else runner.model

    def check(self, runner, iteration: int) -> float:
        """All-gather the checksums; return the largest difference between ranks."""
        state = select_state(self._model(runner), self.prefixes, self.buffers)
        if not state:
            raise KeyError(f"RankConsistencyHook: no state-dict key starts with {self.prefixes}")
        sums = all_gather(state_checksum(state))
        diff = max(float((s - sums[0]).abs().max()) for s in sums) if len(sums) > 1 else 0.0
        msg = (f"rank consistency of {self.prefixes} ({len(state)} tensors) over "
               f"{get_world_size()} ranks after iteration {iteration}: max checksum difference "
               f"{diff:.3g}")
        if diff != 0.0 and self.strict:
            raise RuntimeError(msg)
        print_log(msg, logger="current", level=30 if diff else 20)
        return diff

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if get_world_size() > 1 and self.every_n_train_iters(runner, self.interval):
            self.check(runner, runner.iter + 1)

    def after_train(self, runner) -> None:
        if get_world_size() > 1:
            self.check(runner, runner.iter)
        if self.save_dir:
            folder = osp.join(runner.work_dir, self.save_dir)
            os.makedirs(folder, exist_ok=True)
            model = self._model(runner)
            params = select_state(model, self.prefixes)
            state = dict(
                parameters={k: v.cpu() for k, v in params.items()},
                buffers={k: v.cpu() for k, v in select_state(model, self.prefixes, True).items()
                         if k not in params})
            torch.save(state, osp.join(folder, f"state_rank{get_rank()}.pth"))
