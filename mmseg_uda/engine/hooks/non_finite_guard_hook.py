"""Stop a run whose loss or weights went non-finite, instead of training NaN to the end."""

from __future__ import annotations

import math
from typing import Dict, List, Optional

import torch
from mmengine.dist import all_reduce, get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmseg.registry import HOOKS

from ...utils.errors import NonFiniteError
from .safe_checkpoint_hook import non_finite_tensors


def non_finite_terms(outputs: Optional[dict]) -> List[str]:
    """Names of the logged loss terms (``loss``, ``decode.loss_ce``...) that are NaN or Inf."""
    items = list((outputs or {}).items())
    bad = [name for name, value in items
           if isinstance(value, float) and not math.isfinite(value)]
    tensors = [(name, value) for name, value in items
               if isinstance(value, torch.Tensor) and value.is_floating_point()]
    if tensors:  # one device synchronisation for all terms, not one per term
        with torch.no_grad():
            finite = torch.stack([torch.isfinite(v).all() for _, v in tensors])
            if not bool(finite.all()):
                bad += [name for (name, _), ok in zip(tensors, finite.tolist()) if not ok]
    return [name for name, _ in items if name in bad]  # in the order of the outputs


@HOOKS.register_module()
class NonFiniteGuardHook(Hook):
    """Stop training after ``patience`` consecutive steps with a non-finite loss or weights.

    After every training iteration the hook looks at the loss terms the model returned and
    (``check_params``) at the model's parameters: a NaN / Inf gradient turns the weights
    non-finite at the optimizer step, so this also catches non-finite gradients. After
    ``patience`` such iterations in a row it raises :class:`NonFiniteError`, naming the
    iteration and the terms; the tools print it in one line and exit with status 1.
    :class:`SafeCheckpointHook` never writes a checkpoint with non-finite weights, so the last
    kept checkpoint is the last good one. Under DDP the verdict is all-reduced so that every
    rank stops at the same iteration.

    Args:
        patience (int): consecutive non-finite iterations tolerated before stopping; 1 stops
            at the first. Default: 3 (a loss scaler of fp16 AMP may skip a step or two).
        check_params (bool): also check the parameters after each step. Default: True.
    """

    priority = "ABOVE_NORMAL"  # before the checkpoint and logger hooks

    def __init__(self, patience: int = 3, check_params: bool = True) -> None:
        if int(patience) < 1:
            raise ValueError(f"NonFiniteGuardHook: patience must be >= 1, got {patience}")
        self.patience = int(patience)
        self.check_params = bool(check_params)
        self.streak = 0
        self.first_bad_iter: Optional[int] = None
        self.first_terms: List[str] = []

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[Dict] = None) -> None:
        terms = non_finite_terms(outputs)
        params = non_finite_tensors(runner.model, limit=3) if self.check_params else []
        bad = bool(terms or params)
        if get_world_size() > 1:
            flag = torch.tensor([float(bad)], device=_device(runner.model))
            all_reduce(flag, op="max")
            bad = bool(flag.item() > 0)
        iteration = runner.iter + 1
        if not bad:
            self.streak, self.first_bad_iter, self.first_terms = 0, None, []
            return
        what = []
        if terms:
            what.append(f"loss terms {', '.join(terms)}")
        if params:
            what.append(f"parameters {', '.join(params)} (a non-finite gradient?)")
        if not what:
            what.append("on another rank")
        self.streak += 1
        if self.first_bad_iter is None:
            self.first_bad_iter, self.first_terms = iteration, what
        print_log(f"non-finite values at iteration {iteration}: {'; '.join(what)} "
                  f"({self.streak}/{self.patience})", logger="current", level=30)
        if self.streak >= self.patience:
            last = runner.message_hub.get_info("last_ckpt")
            last = f"the last good checkpoint is {last}" if last else "no checkpoint was saved"
            raise NonFiniteError(
                f"training stopped at iteration {iteration}: non-finite values for "
                f"{self.streak} consecutive iteration(s) since iteration {self.first_bad_iter} "
                f"({'; '.join(self.first_terms)}). Lower the learning rate or check the data; "
                f"no checkpoint with non-finite weights was written, {last}")


def _device(model: torch.nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")
