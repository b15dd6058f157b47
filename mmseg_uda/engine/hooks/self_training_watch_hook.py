"""Say so when self-training is silently off: pseudo-labels that carry (almost) no weight."""

from __future__ import annotations

import logging
from typing import Optional

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmseg.registry import HOOKS


def _uda_model(model):
    """The UDA model behind a (DDP-)wrapped one, or None for a plain segmentor."""
    model = getattr(model, "module", model)
    return model if hasattr(model, "pseudo_threshold") else None


@HOOKS.register_module()
class SelfTrainingWatchHook(Hook):
    """Warn when the mean pseudo-label weight stays below ``min_weight`` for ``window`` steps.

    DACS's reference weight (``pseudo_weight='batch'``) is the share of target pixels whose
    teacher confidence reaches ``tau`` (0.968). A teacher that is rarely that sure — a network
    trained from scratch, several defect classes sharing the softmax, class-weighted losses —
    gives a weight near 0 at every step: the target loss is then off, and the run trains like
    source-only with ClassMix pastes, without an error or a visible sign. The hook reads the
    logged ``pseudo.weight`` (no extra computation), and once per ``window`` iterations, from
    the second window on (the teacher starts from the untrained student), compares its mean
    over the last window with ``min_weight``: the first time it is below, one warning names
    the figure and what to try; when it comes back above, one line says so. Models without
    pseudo-labels (source-only) are left alone.

    Args:
        window (int): iterations per check. Default: 100.
        min_weight (float): mean pseudo-label weight below which self-training counts as off.
            Default: 0.01.
    """

    priority = "LOW"  # after RuntimeInfoHook has put this iteration's values in the hub

    def __init__(self, window: int = 100, min_weight: float = 0.01) -> None:
        if int(window) < 1:
            raise ValueError(f"SelfTrainingWatchHook: window must be >= 1, got {window}")
        if not 0.0 <= float(min_weight) <= 1.0:
            raise ValueError(f"SelfTrainingWatchHook: min_weight must be in [0, 1], got "
                             f"{min_weight}")
        self.window = int(window)
        self.min_weight = float(min_weight)
        self.low_since: Optional[int] = None  # first iteration of the low stretch (warned)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        iteration = runner.iter + 1
        if iteration % self.window or iteration < 2 * self.window:
            return
        buffer = runner.message_hub.log_scalars.get("train/pseudo.weight")
        if buffer is None or len(buffer.data[0]) < self.window:
            return  # no pseudo-labels (source-only), or not logged every iteration
        mean = float(buffer.mean(self.window))
        if mean < self.min_weight and self.low_since is None:
            self.low_since = iteration - self.window + 1
            model = _uda_model(runner.model)
            how = ""
            if model is not None:
                how = (f" (pseudo_weight={model.pseudo_weight!r}, "
                       f"tau={model.pseudo_threshold:g})")
            print_log(
                f"self-training is off: iterations {self.low_since}-{iteration} gave the "
                f"pseudo-labels a mean weight of {mean:.4f} (< {self.min_weight:g}){how}. "
                "Almost no target pixel reaches the teacher's confidence threshold, so the "
                "target loss does next to nothing and the run trains like source-only with "
                "ClassMix. A network trained from scratch or several defect classes make the "
                "teacher unsure. Look at the teacher first (tools/pseudo_label_quality.py): "
                "if its pseudo-labels are right, --cfg-options "
                "model.pseudo_weight=class_balanced trains on the most confident part of every "
                "pseudo-class; if they are wrong, switching the loss on does not help (it did "
                "not on the five-class CPU benchmark) and a better source model comes first "
                "(pretrained weights, a longer source-only warm start).",
                logger="current", level=logging.WARNING)
        elif mean >= self.min_weight and self.low_since is not None:
            print_log(f"self-training is on again: mean pseudo-label weight {mean:.4f} over "
                      f"iterations {iteration - self.window + 1}-{iteration}",
                      logger="current")
            self.low_since = None
