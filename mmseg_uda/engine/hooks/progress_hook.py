"""A readable console: progress with ETA from the first iteration, known noise filtered.

MMEngine's ``LoggerHook`` writes its first line after ``interval`` iterations (20-50 in the
configs): on a CPU that is minutes of silence after ~600 lines of start-up output.
:class:`ProgressHook` adds a short line with the ETA at iterations 1, 2, 5 and 10 of training,
validation and testing (those before the logger's first line), and filters messages of the stack
that are known and harmless here (:func:`quiet_known_noise`); everything else is kept.
"""

from __future__ import annotations

import datetime
import logging
import re
import warnings
from typing import Optional, Sequence

from mmengine.hooks import Hook
from mmengine.logging import MMLogger, print_log
from mmseg.registry import HOOKS

# Python warnings of the stack that say nothing to a user of this project (regex, category).
KNOWN_WARNINGS = (
    # mmseg's decode heads: the project trains two-class softmax heads on purpose
    (r"For binary segmentation, we suggest using", UserWarning),
    # mmseg's own heads call its deprecated builders (build_loss ...), once per head
    (r"``build_\w+`` would be deprecated soon", UserWarning),
    # SegVisualizationHook without --show / --show-dir: drawing is off by design
    (r"The draw is False, it means that the hook for visualization", UserWarning),
)
# MMEngine log messages of the same kind (regex on the message).
KNOWN_LOG_MESSAGES = (
    r"^paramwise_options -- ",                 # one line per parameter and option (hundreds)
    r"^The prefix is not set in metric class",  # metrics are not prefixed in this project
    r'^"FileClient" will be deprecated',        # MMEngine's CheckpointHook itself uses it
    r'^"HardDiskBackend" is the alias of "LocalBackend"',
)
_KNOWN_LOG = re.compile("|".join(KNOWN_LOG_MESSAGES))
# Iterations that get a progress line (when the logger has not written one by then).
EARLY_ITERS = (1, 2, 5, 10)


class KnownNoiseFilter(logging.Filter):
    """Drops the records whose message matches :data:`KNOWN_LOG_MESSAGES`."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not _KNOWN_LOG.search(str(record.getMessage()))


def filter_known_warnings() -> None:
    """Ignore the :data:`KNOWN_WARNINGS` (process-wide; other warnings are kept)."""
    for message, category in KNOWN_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)


def quiet_known_noise(logger: Optional[logging.Logger] = None) -> None:
    """Filter the known harmless warnings and log messages (of ``logger``, default: MMEngine's
    current logger, the Runner's). Idempotent; other messages are kept."""
    filter_known_warnings()
    logger = logger or MMLogger.get_current_instance()
    if not any(isinstance(f, KnownNoiseFilter) for f in logger.filters):
        logger.addFilter(KnownNoiseFilter())


# Most of the known warnings fire while the Runner builds the model, before any hook exists:
# importing mmseg_uda (custom_imports of every config) filters them.
filter_known_warnings()


def _has_values(buffer) -> bool:
    """Whether a message-hub ``HistoryBuffer`` (or None) holds a value."""
    return buffer is not None and len(buffer.data[0]) > 0


@HOOKS.register_module()
class ProgressHook(Hook):
    """Progress lines with the ETA at the first iterations, before the logger's first line.

    ``Iter(train) [   5/1000]  eta: 0:13:12  time: 0.795 s/iter  loss: 0.7093`` at iterations
    ``iters`` (default 1, 2, 5, 10) of training, validation and testing, except those where
    ``LoggerHook`` writes its own line. Building it also applies :func:`quiet_known_noise`.

    Args:
        iters (Sequence[int]): the iterations (1-based) with a line. Default: (1, 2, 5, 10).
    """

    priority = "BELOW_NORMAL"  # after IterTimerHook (NORMAL), which computes the ETA

    def __init__(self, iters: Sequence[int] = EARLY_ITERS) -> None:
        self.iters = tuple(int(i) for i in iters)
        quiet_known_noise()

    @staticmethod
    def _logger_interval(runner) -> Optional[int]:
        for hook in runner.hooks:
            if type(hook).__name__ == "LoggerHook":
                return int(hook.interval)
        return None

    def _line(self, runner, mode: str, done: int, total: int, loss: Optional[float],
              epoch_length: Optional[int] = None) -> None:
        interval = self._logger_interval(runner)
        if done not in self.iters or (interval and done >= interval) or done >= total:
            return
        if epoch_length is not None and done == epoch_length:
            return  # LoggerHook writes its line at the end of the dataloader's first pass
        eta = runner.message_hub.get_info("eta")
        timer = runner.message_hub.log_scalars.get(f"{mode}/time")
        width = len(str(total))
        parts = [f"Iter({mode}) [{done:>{width}}/{total}]"]
        if eta is not None:
            parts.append(f"eta: {datetime.timedelta(seconds=int(eta))}")
        if _has_values(timer):
            parts.append(f"time: {timer.mean():.3f} s/iter")
        if loss is not None:
            parts.append(f"loss: {loss:.4f}")
        first = done == min(i for i in self.iters if i >= 1)
        note = f"  (the log's first line follows at iteration {interval})" \
            if interval and first else ""
        print_log("  ".join(parts) + note, logger="current")

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        loss = runner.message_hub.log_scalars.get("train/loss")
        try:
            epoch_length = len(runner.train_dataloader)
        except TypeError:  # a dataloader without a length
            epoch_length = None
        self._line(runner, "train", runner.iter + 1, runner.max_iters,
                   float(loss.current()) if _has_values(loss) else None, epoch_length)

    def after_val_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._line(runner, "val", batch_idx + 1, len(runner.val_dataloader), None)

    def after_test_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._line(runner, "test", batch_idx + 1, len(runner.test_dataloader), None)
