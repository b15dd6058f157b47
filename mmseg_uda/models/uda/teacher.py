"""The mean teacher: an EMA copy of the student with stochastic layers switched off.

MMEngine's :class:`~mmengine.model.MomentumAnnealingEMA` with ``momentum = 1 - alpha`` and
``gamma = 1`` is exactly the reference teacher update (see :func:`.functional.ema_alpha`):
step 0 copies the student, step ``t`` uses ``min(1 - 1/(t + 1), alpha)``, parameters only
(buffers — BN running statistics — are copied from the student). Its ``steps`` counter is a
registered buffer, so it is saved in checkpoints and restored by ``--resume``: a resumed run
continues the average instead of re-copying the student (a bug of the reference code).
"""

from __future__ import annotations

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


def build_ema_teacher(student: nn.Module, alpha: float) -> MomentumAnnealingEMA:
    """A frozen EMA copy of ``student`` (``requires_grad=False`` on every parameter).

    Args:
        student (nn.Module): the network to average.
        alpha (float): the EMA coefficient cap in (0, 1), e.g. 0.999.

    Returns:
        MomentumAnnealingEMA: the teacher; the network is its ``module`` attribute and
        ``update_parameters(student)`` performs one EMA step.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    teacher = MomentumAnnealingEMA(student, momentum=1.0 - alpha, gamma=1)
    teacher.module.requires_grad_(False)
    return teacher
