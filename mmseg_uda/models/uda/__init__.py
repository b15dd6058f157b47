"""UDA self-training: the DACS model, its EMA teacher and pure tensor functions."""

from . import functional
from .dacs import DACS
from .teacher import (
    FusedMomentumAnnealingEMA,
    build_ema_teacher,
    disable_stochastic_layers,
    is_stochastic_layer,
)

__all__ = ["DACS", "FusedMomentumAnnealingEMA", "build_ema_teacher",
           "disable_stochastic_layers", "functional", "is_stochastic_layer"]
