"""The mean teacher: an EMA copy of the student with stochastic layers switched off.

MMEngine's :class:`~mmengine.model.MomentumAnnealingEMA` with ``momentum = 1 - alpha`` and
``gamma = 1`` is exactly the reference teacher update (see :func:`.functional.ema_alpha`):
step 0 copies the student, step ``t`` uses ``min(1 - 1/(t + 1), alpha)``, parameters only
(buffers — BN running statistics — are copied from the student). Its ``steps`` counter is a
registered buffer, so it is saved in checkpoints and restored by ``--resume``: a resumed run
continues the average instead of re-copying the student (a bug of the reference code).

:class:`FusedMomentumAnnealingEMA` performs the same update with one fused ``torch._foreach_*``
op over all parameters (and one over the buffers) and without reading the step counter from
the device in the loop.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn
from mmengine.model import MomentumAnnealingEMA


def is_stochastic_layer(module: nn.Module) -> bool:
    """Whether ``module`` is a Dropout or DropPath (stochastic depth) layer.

    Covers torch's dropout family and the DropPath classes of mmcv, mmengine and timm
    (matched by class name, since the teacher must not depend on which one a backbone uses).
    """
    return isinstance(module, nn.modules.dropout._DropoutNd) or \
        type(module).__name__ in ("DropPath", "DropBlock")


def disable_stochastic_layers(module: nn.Module) -> int:
    """Put every Dropout/DropPath layer of ``module`` in eval mode; leave the rest as is.

    Args:
        module (nn.Module): the teacher network.

    Returns:
        int: the number of layers switched off.
    """
    count = 0
    for m in module.modules():
        if is_stochastic_layer(m):
            m.train(False)
            count += 1
    return count


class FusedMomentumAnnealingEMA(MomentumAnnealingEMA):
    """:class:`~mmengine.model.MomentumAnnealingEMA` with a fused update and no host syncs.

    MMEngine's ``update_parameters`` loops over the parameters in Python: one ``lerp_`` per
    tensor, and its ``avg_func`` reads the ``steps`` buffer with ``.item()`` once per tensor —
    on a GPU a device-to-host synchronisation per parameter tensor in every iteration (995
    tensors for the MiT-b5 HRDA segmentor of ``hrda_cracks.py``). This subclass gives the same
    result with

    * one ``torch._foreach_lerp_`` over every floating-point parameter (``_foreach_copy_`` at
      step 0), one ``torch._foreach_copy_`` over the buffers;
    * the step count mirrored in a Python int, read from the ``steps`` buffer only on the first
      update after construction or ``load_state_dict`` (a resumed run).

    The state dict is MMEngine's (``module.*`` and ``steps``), so checkpoints of either class
    load into the other.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._host_steps: Optional[int] = None

    def _load_from_state_dict(self, *args, **kwargs) -> None:
        super()._load_from_state_dict(*args, **kwargs)
        self._host_steps = None  # ``steps`` was (maybe) replaced: read it again once

    @torch.no_grad()
    def update_parameters(self, model: nn.Module) -> None:
        """One EMA step towards ``model`` (step 0 copies it), as MMEngine's, fused."""
        steps = self._host_steps if self._host_steps is not None else int(self.steps)
        source = (model.state_dict() if self.update_buffers
                  else dict(model.named_parameters()))
        if steps == 0:
            names = list(self.avg_parameters)
            torch._foreach_copy_([self.avg_parameters[k].data for k in names],
                                 [source[k].data for k in names])
        elif steps % self.interval == 0:
            averaged, new = [], []
            for k, p_avg in self.avg_parameters.items():
                if p_avg.dtype.is_floating_point:
                    averaged.append(p_avg.data)
                    new.append(source[k].data.to(p_avg.device))
            momentum = max(self.momentum, self.gamma / (self.gamma + steps))
            if averaged:
                torch._foreach_lerp_(averaged, new, momentum)
        if not self.update_buffers:  # buffers (BN statistics) follow the student
            pairs = list(zip(self.module.buffers(), model.buffers()))
            if pairs:
                torch._foreach_copy_([b.data for b, _ in pairs],
                                     [s.data.to(b.device) for b, s in pairs])
        self.steps += 1
        self._host_steps = steps + 1


def build_ema_teacher(student: nn.Module, alpha: float) -> MomentumAnnealingEMA:
    """A frozen EMA copy of ``student`` (``requires_grad=False`` on every parameter).

    Args:
        student (nn.Module): the network to average.
        alpha (float): the EMA coefficient cap in (0, 1), e.g. 0.999.

    Returns:
        FusedMomentumAnnealingEMA: the teacher (a ``MomentumAnnealingEMA``); the network is its
        ``module`` attribute and ``update_parameters(student)`` performs one EMA step.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    teacher = FusedMomentumAnnealingEMA(student, momentum=1.0 - alpha, gamma=1)
    teacher.module.requires_grad_(False)
    return teacher
