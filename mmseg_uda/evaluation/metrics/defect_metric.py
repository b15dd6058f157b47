"""Segmentation metrics for defect inspection: IoU plus precision / recall / F1 per class.

The evaluator accumulates one confusion matrix over the whole set (pixels with the ignore
label are skipped) and reports, in percent like MMSeg:

* ``aAcc`` — pixel accuracy; ``mIoU``, ``mF1`` — means over the classes present in the ground
  truth or the predictions (a class absent from both is not evaluated and is reported as null);
* per class: ``IoU``, ``precision``, ``recall``, ``F1`` (= Dice), and the pixel counts.

With ``report_file`` set, the full report is written as JSON (rank 0 only).
"""

from __future__ import annotations

import json
import math
import os
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from mmseg.registry import METRICS
from prettytable import PrettyTable


def confusion_matrix(pred: torch.Tensor, label: torch.Tensor, num_classes: int,
                     ignore_index: int = 255) -> torch.Tensor:
    """Confusion matrix ``cm[true, pred]`` of one label map, ignoring ``ignore_index``.

    Args:
        pred (torch.Tensor): predicted class ids, any shape.
        label (torch.Tensor): ground-truth class ids, same shape.
        num_classes (int): number of classes.
        ignore_index (int): label value that is skipped. Default: 255.

    Returns:
        torch.Tensor: int64 matrix of shape (num_classes, num_classes).
    """
    if pred.shape != label.shape:
        raise ValueError(f"prediction shape {tuple(pred.shape)} != label shape "
                         f"{tuple(label.shape)}")
    valid = label != ignore_index
    label = label[valid].long()
    pred = pred[valid].long()
    if label.numel() and (label.min() < 0 or label.max() >= num_classes):
        raise ValueError(f"label values outside 0..{num_classes - 1} and {ignore_index}: "
                         f"{torch.unique(label).tolist()}")
    index = label * num_classes + pred.clamp(0, num_classes - 1)
    return torch.bincount(index, minlength=num_classes ** 2).reshape(num_classes, num_classes)


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den > 0 else 0.0


def scores_from_confusion(cm: np.ndarray, class_names: Sequence[str]) -> dict:
    """Per-class and mean scores (fractions in [0, 1]) from a confusion matrix ``cm[true, pred]``.

    A class with no ground-truth and no predicted pixel gets ``nan`` scores and is left out of
    the means. Precision of a class that is never predicted (but present) is 0.
    """
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diag(cm)
    gt = cm.sum(axis=1)
    pred = cm.sum(axis=0)
    per_class: Dict[str, dict] = OrderedDict()
    for i, name in enumerate(class_names):
        evaluated = gt[i] + pred[i] > 0
        fp, fn = pred[i] - tp[i], gt[i] - tp[i]
        if evaluated:
            iou = _ratio(tp[i], tp[i] + fp + fn)
            precision, recall = _ratio(tp[i], pred[i]), _ratio(tp[i], gt[i])
            f1 = _ratio(2 * tp[i], 2 * tp[i] + fp + fn)
        else:
            iou = precision = recall = f1 = math.nan
        per_class[name] = OrderedDict(IoU=iou, precision=precision, recall=recall, F1=f1,
                                      Dice=f1, gt_pixels=int(gt[i]), pred_pixels=int(pred[i]),
                                      tp_pixels=int(tp[i]))
    ious = [v["IoU"] for v in per_class.values() if not math.isnan(v["IoU"])]
    f1s = [v["F1"] for v in per_class.values() if not math.isnan(v["F1"])]
    total = cm.sum()
    return OrderedDict(
        aAcc=_ratio(tp.sum(), total),
        mIoU=float(np.mean(ious)) if ious else math.nan,
        mF1=float(np.mean(f1s)) if f1s else math.nan,
        per_class=per_class,
    )


def _percent(value):
    if isinstance(value, float):
        return None if math.isnan(value) else round(100.0 * value, 4)
    return value


@METRICS.register_module()
class DefectMetric(BaseMetric):
    """IoU / precision / recall / F1 per class for defect segmentation.

    Args:
        ignore_index (int): label value excluded from every score. Default: 255.
        report_file (str, optional): where to write the JSON report after evaluation (parent
            folders are created). Default: None.
        collect_device (str): device used to gather results across ranks. Default: ``'cpu'``.
        prefix (str, optional): prefix of the metric names. Default: None.
        report_meta (dict, optional): extra entries copied into the JSON report (tools add
            the config and checkpoint paths). Default: None.
    """

    default_prefix: Optional[str] = None

    def __init__(self, ignore_index: int = 255, report_file: Optional[str] = None,
                 collect_device: str = "cpu", prefix: Optional[str] = None,
                 report_meta: Optional[dict] = None, **kwargs) -> None:
        if kwargs:
            raise TypeError(f"DefectMetric got unknown argument(s) {sorted(kwargs)}; expected "
                            "ignore_index, report_file, collect_device, prefix, report_meta")
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.ignore_index = ignore_index
        self.report_file = report_file
        self.report_meta = dict(report_meta or {})
        self.last_report: Optional[dict] = None

    @property
    def class_names(self) -> List[str]:
        if not self.dataset_meta or "classes" not in self.dataset_meta:
            raise RuntimeError("DefectMetric needs dataset_meta['classes'] (set by the Runner "
                               "from the evaluation dataset)")
        return list(self.dataset_meta["classes"])

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Accumulate the confusion matrix of each predicted sample."""
        num_classes = len(self.class_names)
        for sample in data_samples:
            pred = sample["pred_sem_seg"]["data"].squeeze(0)
            if "gt_sem_seg" not in sample:
                raise KeyError(f"sample {sample.get('img_path')!r} has no ground-truth mask: "
                               "evaluation needs a labeled split (with_masks=True)")
            label = sample["gt_sem_seg"]["data"].squeeze(0).to(pred.device)
            cm = confusion_matrix(pred, label, num_classes, self.ignore_index)
            self.results.append(dict(img_path=sample.get("img_path"), cm=cm.cpu().numpy()))

    def build_report(self, results: List[dict]) -> dict:
        """The full report (scores in percent) from the per-sample results."""
        names = self.class_names
        cm = np.sum([r["cm"] for r in results], axis=0)
        scores = scores_from_confusion(cm, names)
        per_class = OrderedDict(
            (name, OrderedDict((k, _percent(v)) for k, v in vals.items()))
            for name, vals in scores["per_class"].items())
        report = OrderedDict(
            mIoU=_percent(scores["mIoU"]), aAcc=_percent(scores["aAcc"]),
            mF1=_percent(scores["mF1"]), per_class=per_class, classes=names,
            num_images=len(results), ignore_index=self.ignore_index,
            units="percent", confusion_matrix=cm.astype(np.int64).tolist())
        report.update(self.report_meta)
        return report

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Summarise, print a table, write the JSON report, return flat scalars."""
        report = self.build_report(results)
        self.last_report = report
        table = PrettyTable(field_names=["class", "IoU", "precision", "recall", "F1"])
        for name, vals in report["per_class"].items():
            table.add_row([name] + [("n/a" if vals[k] is None else f"{vals[k]:.2f}")
                                    for k in ("IoU", "precision", "recall", "F1")])
        logger = MMLogger.get_current_instance()
        print_log("per-class results (percent):\n" + table.get_string(), logger=logger)
        if self.report_file:
            out_dir = osp.dirname(osp.abspath(self.report_file))
            os.makedirs(out_dir, exist_ok=True)
            with open(self.report_file, "w", encoding="utf-8") as f:
                json.dump(report, f, indent=2)
            print_log(f"report written to {self.report_file}", logger=logger)
        flat = OrderedDict()
        for key in ("aAcc", "mIoU", "mF1"):
            flat[key] = report[key] if report[key] is not None else float("nan")
        for name, vals in report["per_class"].items():
            for key in ("IoU", "precision", "recall", "F1"):
                flat[f"{key}.{name}"] = vals[key] if vals[key] is not None else float("nan")
        return flat
