"""Checkpoints that a crash cannot corrupt: write, fsync, rename, then rotate.

MMEngine's :class:`~mmengine.hooks.CheckpointHook` deletes the oldest kept checkpoint *before*
it writes the new one, writes the new one in place, and stores an absolute path in
``last_checkpoint``. A ``kill -9`` during the save leaves a truncated ``iter_N.pth`` with the
oldest good one already gone; a copied work dir resumes from the original folder.
:class:`SafeCheckpointHook` changes only how one checkpoint is written:

1. the model's parameters and buffers are checked: a checkpoint with non-finite values is not
   written (a warning says so), so the last good one stays the newest kept;
2. the checkpoint goes to ``.iter_N.pth.tmp`` in the same folder, is flushed to disk
   (``fsync``) and renamed to ``iter_N.pth`` (``os.replace`` is atomic on one file system);
3. ``last_checkpoint`` is replaced the same way and holds the file name relative to the
   work dir;
4. only then are checkpoints beyond ``max_keep_ckpts`` deleted.

Only rank 0 writes files (MMEngine's ``Runner.save_checkpoint`` is ``master_only``).

``save_best='defect_IoU'`` keeps the checkpoint with the best IoU of the defect class(es)
(``best_defect_IoU_iter_N.pth``; with several defect classes their mean IoU): the metric is
computed here from the ``IoU.<class>`` results of ``DefectMetric`` (every class but the first,
the background), since the class names differ between configs. ``default_runtime.py``
selects it.
"""

from __future__ import annotations

import math
import os
import os.path as osp
from typing import Optional, Sequence

import torch
from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS

TMP_SUFFIX = ".tmp"
# The save_best key computed by SafeCheckpointHook: the (mean) IoU of the defect classes.
DEFECT_IOU = "defect_IoU"


def defect_iou(metrics: dict, classes: Optional[Sequence[str]] = None) -> Optional[float]:
    """The mean ``IoU.<class>`` of the defect classes (all but the first, the background).

    Args:
        metrics (dict): validation metrics with ``IoU.<class>`` keys (``DefectMetric``).
        classes (Sequence[str], optional): the class names, background first. Default: the
            order of the ``IoU.*`` keys.

    Returns:
        float | None: None when the metrics hold no IoU of a defect class (another metric);
        NaN when no defect class was in the truth or the predictions.
    """
    names = list(classes) if classes else [k[len("IoU."):] for k in metrics
                                           if k.startswith("IoU.")]
    values = [metrics[f"IoU.{name}"] for name in names[1:] if f"IoU.{name}" in metrics]
    if not values:
        return None
    finite = [float(v) for v in values if not math.isnan(float(v))]
    return sum(finite) / len(finite) if finite else math.nan


def non_finite_tensors(model: torch.nn.Module, limit: int = 5) -> list:
    """Names of (up to ``limit``) parameters / floating buffers holding NaN or Inf."""
    if is_model_wrapper(model):
        model = model.module
    named = [(name, t) for name, t in list(model.named_parameters()) +
             list(model.named_buffers()) if t.is_floating_point() and t.numel()]
    if not named:
        return []
    with torch.no_grad():
        finite = torch.stack([torch.isfinite(t).all() for _, t in named])
        if bool(finite.all()):  # one device synchronisation in the common case
            return []
        return [name for (name, _), ok in zip(named, finite.tolist()) if not ok][:limit]


def fsync_replace(tmp_path: str, final_path: str) -> None:
    """Flush ``tmp_path`` to disk and rename it to ``final_path`` (atomic), then sync the folder."""
    with open(tmp_path, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp_path, final_path)
    try:
        fd = os.open(osp.dirname(osp.abspath(final_path)), os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_text_atomic(path: str, text: str) -> None:
    """Replace the file ``path`` by ``text`` without a moment where it is partial."""
    tmp = path + TMP_SUFFIX
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
    fsync_replace(tmp, path)


def last_checkpoint_text(work_dir: str, ckpt_path: str) -> str:
    """What ``last_checkpoint`` stores: the path relative to the work dir when inside it."""
    rel = osp.relpath(osp.abspath(ckpt_path), osp.abspath(work_dir))
    return ckpt_path if rel.startswith("..") else rel


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """:class:`~mmengine.hooks.CheckpointHook` with atomic writes and rotation after them.

    Takes the arguments of ``CheckpointHook`` (``interval``, ``by_epoch``, ``max_keep_ckpts``,
    ``save_last``...); ``default_runtime.py`` selects it for every config. Checkpoints to
    remote storage (``backend_args``) fall back to MMEngine's behaviour.

    Args:
        skip_non_finite (bool): do not write a checkpoint whose parameters or buffers hold
            NaN / Inf (the previous, good one stays the newest kept). Default: True.
        **kwargs: the arguments of :class:`mmengine.hooks.CheckpointHook`.
    """

    def __init__(self, *args, skip_non_finite: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.skip_non_finite = bool(skip_non_finite)
        self._warned_no_defect_iou = False

    def _save_best_checkpoint(self, runner, metrics) -> None:
        """Add ``defect_IoU`` to the metrics when it is the ``save_best`` key, then save the
        best checkpoint as MMEngine does. Metrics without a defect IoU (a config evaluating
        with another metric) skip the best checkpoint with one warning instead of failing."""
        if self.save_best and DEFECT_IOU in self.key_indicators:
            dataset = getattr(runner.val_dataloader, "dataset", None)
            classes = (getattr(dataset, "metainfo", None) or {}).get("classes")
            value = defect_iou(metrics, classes)
            if value is None:
                if not self._warned_no_defect_iou:
                    print_log(f"save_best={DEFECT_IOU!r}: the validation metrics have no "
                              f"IoU.<defect class> (got {sorted(metrics)}); no best checkpoint "
                              "is kept. Use DefectMetric, or set default_hooks.checkpoint."
                              "save_best to one of these keys", logger="current", level=30)
                    self._warned_no_defect_iou = True
                return
            metrics = {**metrics, DEFECT_IOU: value}
        self._forget_foreign_best(runner)
        super()._save_best_checkpoint(runner, metrics)

    def _forget_foreign_best(self, runner) -> None:
        """A run resumed in a copied work dir inherits the absolute path of the original's
        best checkpoint, which MMEngine would delete when a better one is saved: keep the
        files of other folders and track only this folder's best."""
        path = self.best_ckpt_path
        if path and self._is_local() and osp.dirname(osp.abspath(path)) != \
                osp.abspath(str(self.out_dir)):
            print_log(f"the best checkpoint so far, {path}, is in another folder (a copied "
                      "work dir?): it is kept; this run tracks its own best", logger="current",
                      level=30)
            self.best_ckpt_path = None
            runner.message_hub.update_info("best_ckpt", None)

    def _is_local(self) -> bool:
        out_dir = str(self.out_dir)
        return "://" not in out_dir and osp.isdir(out_dir)

    def _save_checkpoint_with_step(self, runner, step: int, meta: Optional[dict]) -> None:
        if not self._is_local():
            return super()._save_checkpoint_with_step(runner, step, meta)
        ckpt_filename = self.filename_tmpl.format(step)
        final_path = osp.join(self.out_dir, ckpt_filename)
        if self.skip_non_finite:
            bad = non_finite_tensors(runner.model)
            if bad:
                print_log(f"not saving {ckpt_filename}: non-finite values in {', '.join(bad)}; "
                          f"the last good checkpoint is {self.last_ckpt}", logger="current",
                          level=30)
                return
        self.last_ckpt = final_path
        runner.message_hub.update_info("last_ckpt", self.last_ckpt)
        expired = []
        if self.max_keep_ckpts > 0:
            # Decide now which steps fall out (the checkpoint records the kept list, as in
            # MMEngine), but delete their files only after the new one is complete.
            ids = list(self.keep_ckpt_ids)
            if not ids or ids[-1] != step:
                ids.append(step)
            expired, kept = ids[:-self.max_keep_ckpts], ids[-self.max_keep_ckpts:]
            self.keep_ckpt_ids.clear()
            self.keep_ckpt_ids.extend(kept)
            runner.message_hub.update_info("keep_ckpt_ids", list(kept))

        tmp_name = f".{ckpt_filename}{TMP_SUFFIX}"
        runner.save_checkpoint(
            self.out_dir, tmp_name, self.file_client_args, save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler, meta=meta, by_epoch=self.by_epoch,
            backend_args=self.backend_args, **self.args)
        if not is_main_process():
            return
        fsync_replace(osp.join(self.out_dir, tmp_name), final_path)
        write_text_atomic(osp.join(runner.work_dir, "last_checkpoint"),
                          last_checkpoint_text(runner.work_dir, final_path))
        for old in expired:
            path = osp.join(self.out_dir, self.filename_tmpl.format(old))
            if old != step and osp.isfile(path):
                os.remove(path)
