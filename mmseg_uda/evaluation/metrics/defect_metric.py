"""Segmentation metrics for defect inspection: IoU, precision / recall / F1, tolerant scores.

The evaluator accumulates, per image, a confusion matrix (pixels with the ignore label are
skipped), boundary-tolerant match counts and the largest predicted region of each defect class;
:meth:`DefectMetric.compute_metrics` sums them (after MMEngine gathered the per-image results of
every rank) and reports, in percent like MMSeg:

* ``aAcc`` — pixel accuracy; ``mIoU``, ``mF1`` (= ``mDice``) — means over the classes present in
  the ground truth or the predictions (a class absent from both is reported as null);
* per class: ``IoU``, ``precision``, ``recall``, ``F1``, ``Dice`` (= F1) and pixel counts;
* per defect class (every class but the first, the background): ``tolerant`` precision / recall /
  F1 at ``tolerance_px`` and ``tolerant_by_px`` at every tolerance (a predicted pixel is correct
  within k pixels of a true one and a true pixel is found within k pixels of a predicted one, as
  in the crack-detection literature); ``mTolerantF1`` is their mean F1 at ``tolerance_px``;
* ``image_level`` — the OK / defect verdict of each image (defect when a predicted region of a
  defect class has at least ``verdict_min_area`` pixels; truly defective when its mask has a
  defect pixel) against the truth: TP / FP / FN / TN, precision, recall, accuracy;
* ``tile_level`` — the same verdict on non-overlapping ``tile_size`` tiles (64 px by default):
  a defective tile is found when a predicted pixel in it lies within ``tolerance_px`` of a true
  one; an OK tile is a false alarm when a predicted region of at least ``verdict_min_area``
  pixels lies farther than ``tolerance_px`` from every true pixel. ``false_alarm_rate`` (FP over
  OK tiles) measures defects invented on clean surface even where every image has a defect;
* ``confusion_matrix`` (pixels, ``cm[true][pred]``) and ``confusion_matrix_normalized``
  (percent of each true class).

Files (rank 0 only): ``report_file`` (JSON), ``markdown_file`` (tables for humans) and
``per_image_csv`` (one row per image).
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

from ..functional import (
    DEFAULT_MIN_AREA,
    TILE_FP,
    TILE_TN,
    largest_region_area,
    tile_verdict_counts,
    tolerant_match_counts,
    tolerant_scores,
)
from ..report import report_to_markdown, write_csv


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


# The fractions of a verdict summary (image_level, tile_level); reported in percent.
_VERDICT_FRACTIONS = ("precision", "recall", "false_alarm_rate", "accuracy")


def _verdict_scores(tp: int, fp: int, fn: int, tn: int) -> OrderedDict:
    """Counts and scores (fractions, nan when undefined) of OK / defect verdicts."""
    nan = float("nan")
    total = tp + fp + fn + tn
    return OrderedDict(
        TP=tp, FP=fp, FN=fn, TN=tn, num_defective=tp + fn, num_ok=fp + tn,
        precision=tp / (tp + fp) if tp + fp else nan,
        recall=tp / (tp + fn) if tp + fn else nan,
        accuracy=(tp + tn) / total if total else nan)


def _verdict_percent(level: dict) -> OrderedDict:
    """A verdict summary with its fractions in percent (settings and counts unchanged)."""
    return OrderedDict((k, _percent(v) if k in _VERDICT_FRACTIONS else v)
                       for k, v in level.items())


def _cell(value, digits: int = 2):
    """A CSV / table cell: numbers rounded, nan and None empty."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return round(value, digits)
    return value


@METRICS.register_module()
class DefectMetric(BaseMetric):
    """IoU / precision / recall / F1, tolerant scores and image verdicts for defect segmentation.

    Args:
        ignore_index (int): label value excluded from every score. Default: 255.
        report_file (str, optional): where to write the JSON report after evaluation (parent
            folders are created). Default: None.
        collect_device (str): device used to gather results across ranks. Default: ``'cpu'``.
        prefix (str, optional): prefix of the metric names. Default: None.
        report_meta (dict, optional): extra entries copied into the JSON report (tools add
            the config and checkpoint paths). Default: None.
        tolerance_px (float): distance tolerance in pixels of the headline tolerant scores
            (``per_class.<name>.tolerant`` and ``mTolerantF1``). Default: 2.
        tolerances (Sequence[float]): further tolerances in pixels reported under
            ``tolerant_by_px`` (``tolerance_px`` is always added; 0 = strict). Default:
            (0, 1, 2, 3, 5).
        verdict_min_area (int): a predicted region (8-connected component of one defect class)
            needs at least this many pixels to make the image-level verdict "defect".
            Default: 16.
        tile_size (int, optional): side in pixels of the tiles of ``tile_level`` (None or 0:
            no tile verdicts). Default: 64.
        markdown_file (str, optional): where to write the report as Markdown tables.
            Default: None.
        per_image_csv (str, optional): where to write one CSV row per image (per-class IoU,
            F1, tolerant F1, defect pixel counts, verdict against the truth). Default: None.
    """

    default_prefix: Optional[str] = None

    def __init__(self, ignore_index: int = 255, report_file: Optional[str] = None,
                 collect_device: str = "cpu", prefix: Optional[str] = None,
                 report_meta: Optional[dict] = None, tolerance_px: float = 2,
                 tolerances: Sequence[float] = (0, 1, 2, 3, 5),
                 verdict_min_area: int = DEFAULT_MIN_AREA, tile_size: Optional[int] = 64,
                 markdown_file: Optional[str] = None, per_image_csv: Optional[str] = None,
                 **kwargs) -> None:
        if kwargs:
            raise TypeError(
                f"DefectMetric got unknown argument(s) {sorted(kwargs)}; expected ignore_index, "
                "report_file, collect_device, prefix, report_meta, tolerance_px, tolerances, "
                "verdict_min_area, tile_size, markdown_file, per_image_csv")
        super().__init__(collect_device=collect_device, prefix=prefix)
        if tolerance_px < 0 or any(k < 0 for k in tolerances):
            raise ValueError(f"tolerances must be >= 0 pixels, got tolerance_px={tolerance_px}, "
                             f"tolerances={list(tolerances)}")
        if verdict_min_area < 1:
            raise ValueError(f"verdict_min_area must be >= 1 pixel, got {verdict_min_area}")
        if tile_size is not None and tile_size < 0:
            raise ValueError(f"tile_size must be >= 1 pixel (or None/0 for no tile verdicts), "
                             f"got {tile_size}")
        self.ignore_index = ignore_index
        self.report_file = report_file
        self.report_meta = dict(report_meta or {})
        self.tolerance_px = _number(tolerance_px)
        self.tolerances = sorted({_number(k) for k in tolerances} | {self.tolerance_px})
        self.verdict_min_area = int(verdict_min_area)
        self.tile_size = int(tile_size) if tile_size else None
        self.markdown_file = markdown_file
        self.per_image_csv = per_image_csv
        self.last_report: Optional[dict] = None
        self.last_rows: Optional[List[dict]] = None

    @property
    def class_names(self) -> List[str]:
        if not self.dataset_meta or "classes" not in self.dataset_meta:
            raise RuntimeError("DefectMetric needs dataset_meta['classes'] (set by the Runner "
                               "from the evaluation dataset)")
        return list(self.dataset_meta["classes"])

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Accumulate per-image statistics (numpy arrays only, so ranks gather them cheaply)."""
        num_classes = len(self.class_names)
        for sample in data_samples:
            pred = sample["pred_sem_seg"]["data"].squeeze(0)
            if "gt_sem_seg" not in sample:
                raise KeyError(f"sample {sample.get('img_path')!r} has no ground-truth mask: "
                               "evaluation needs a labeled split (with_masks=True)")
            label = sample["gt_sem_seg"]["data"].squeeze(0).to(pred.device)
            cm = confusion_matrix(pred, label, num_classes, self.ignore_index)
            self.results.append(self.image_statistics(
                pred.cpu().numpy(), label.cpu().numpy(), num_classes,
                img_path=sample.get("img_path"), cm=cm.cpu().numpy()))

    def image_statistics(self, pred: np.ndarray, label: np.ndarray, num_classes: int,
                         img_path: Optional[str] = None, cm: Optional[np.ndarray] = None) -> dict:
        """Statistics of one image: confusion matrix, tolerant counts, largest regions.

        Args:
            pred (np.ndarray): (H, W) predicted class ids.
            label (np.ndarray): (H, W) true class ids (``ignore_index`` skipped).
            num_classes (int): number of classes (background first).
            img_path (str, optional): the image, for the per-image CSV. Default: None.
            cm (np.ndarray, optional): the confusion matrix if already computed. Default: None.

        Returns:
            dict: ``img_path``; ``cm`` (C, C); ``tol`` (C-1, T, 4) counts
            ``[pred_total, pred_matched, gt_total, gt_matched]`` per defect class and tolerance;
            ``largest`` (C,) largest predicted region in pixels per class (0 for background);
            ``tiles`` (4,) tile verdict counts ``[TP, FP, FN, TN]`` over all defect classes
            (zeros without ``tile_size``).
        """
        if cm is None:
            cm = confusion_matrix(torch.from_numpy(pred), torch.from_numpy(label), num_classes,
                                  self.ignore_index).numpy()
        valid = label != self.ignore_index
        tol = np.zeros((num_classes - 1, len(self.tolerances), 4), dtype=np.int64)
        largest = np.zeros(num_classes, dtype=np.int64)
        for c in range(1, num_classes):
            pred_c = (pred == c) & valid
            tol[c - 1] = tolerant_match_counts(pred_c, label == c, self.tolerances, valid)
            largest[c] = largest_region_area(pred_c)
        tiles = np.zeros(4, dtype=np.int64)
        if self.tile_size:
            defect_gt = (label > 0) & valid
            tiles = tile_verdict_counts((pred > 0) & valid, defect_gt, self.tile_size,
                                        self.verdict_min_area, self.tolerance_px, valid)
        return dict(img_path=img_path, cm=np.asarray(cm, dtype=np.int64), tol=tol,
                    largest=largest, tiles=tiles)

    # ------------------------------------------------------------------ summaries
    def _verdicts(self, result: dict):
        truth = bool(result["cm"][1:, :].sum() > 0)
        predicted = bool(result["largest"][1:].max(initial=0) >= self.verdict_min_area)
        return truth, predicted

    def image_level(self, results: List[dict]) -> dict:
        """Counts and scores (fractions) of the image-level OK / defect verdict."""
        tp = fp = fn = tn = 0
        for r in results:
            truth, predicted = self._verdicts(r)
            tp += truth and predicted
            fn += truth and not predicted
            fp += predicted and not truth
            tn += not truth and not predicted
        return OrderedDict(min_area_px=self.verdict_min_area,
                           **_verdict_scores(tp, fp, fn, tn))

    def tile_level(self, results: List[dict]) -> Optional[dict]:
        """Counts and scores (fractions) of the tile verdicts; None without ``tile_size``."""
        if not self.tile_size:
            return None
        tp, fp, fn, tn = (int(v) for v in sum((r["tiles"] for r in results),
                                               np.zeros(4, dtype=np.int64)))
        return OrderedDict(
            tile_px=self.tile_size, min_area_px=self.verdict_min_area,
            tolerance_px=self.tolerance_px, **_verdict_scores(tp, fp, fn, tn),
            false_alarm_rate=fp / (fp + tn) if fp + tn else float("nan"))

    def build_report(self, results: List[dict]) -> dict:
        """The full report (scores in percent) from the per-sample results."""
        names = self.class_names
        cm = np.sum([r["cm"] for r in results], axis=0)
        scores = scores_from_confusion(cm, names)
        per_class = OrderedDict(
            (name, OrderedDict((k, _percent(v)) for k, v in vals.items()))
            for name, vals in scores["per_class"].items())
        tol = np.sum([r["tol"] for r in results], axis=0)
        tolerant_f1 = []
        for c, name in enumerate(names[1:]):
            by_px = OrderedDict()
            for t, k in enumerate(self.tolerances):
                by_px[str(k)] = OrderedDict(
                    (key, _percent(v)) for key, v in tolerant_scores(tol[c, t]).items())
            head = by_px[str(self.tolerance_px)]
            per_class[name]["tolerant"] = OrderedDict(tolerance_px=self.tolerance_px, **head)
            per_class[name]["tolerant_by_px"] = by_px
            if head["F1"] is not None:
                tolerant_f1.append(head["F1"])
        row_sums = cm.sum(axis=1, keepdims=True)
        normalized = np.divide(100.0 * cm, row_sums, out=np.zeros(cm.shape, dtype=np.float64),
                               where=row_sums > 0)
        image_level = _verdict_percent(self.image_level(results))
        tiles = self.tile_level(results)
        if tiles is not None:  # (tolerance_px may be a float: not a fraction)
            tiles = _verdict_percent(tiles)
        report = OrderedDict(
            mIoU=_percent(scores["mIoU"]), aAcc=_percent(scores["aAcc"]),
            mF1=_percent(scores["mF1"]), mDice=_percent(scores["mF1"]),
            mTolerantF1=round(float(np.mean(tolerant_f1)), 4) if tolerant_f1 else None,
            tolerance_px=self.tolerance_px, tolerances=list(self.tolerances),
            # Decisions behind the scores: the class of a pixel is the argmax of the model's
            # scores (no probability threshold); the verdicts count regions from min_area_px.
            thresholds=OrderedDict(pixel="argmax", verdict_min_area_px=self.verdict_min_area,
                                   tile_px=self.tile_size, tolerance_px=self.tolerance_px),
            per_class=per_class, image_level=image_level, tile_level=tiles, classes=names,
            num_images=len(results), ignore_index=self.ignore_index,
            units="percent", confusion_matrix=cm.astype(np.int64).tolist(),
            confusion_matrix_normalized=np.round(normalized, 4).tolist())
        report.update(self.report_meta)
        return report

    def per_image_rows(self, results: List[dict]) -> List[dict]:
        """One CSV row per image (scores in percent, empty when undefined)."""
        names = self.class_names
        t = self.tolerances.index(self.tolerance_px)
        rows = []
        for r in results:
            truth, predicted = self._verdicts(r)
            row = OrderedDict(
                image=r["img_path"] or "", gt_verdict="defect" if truth else "OK",
                pred_verdict="defect" if predicted else "OK",
                verdict_correct=int(truth == predicted))
            if self.tile_size:
                tiles = r["tiles"]
                row["ok_tiles"] = int(tiles[TILE_FP] + tiles[TILE_TN])
                row["false_alarm_tiles"] = int(tiles[TILE_FP])
            scores = scores_from_confusion(r["cm"], names)["per_class"]
            for c, name in enumerate(names):
                row[f"IoU_{name}"] = _cell(100 * scores[name]["IoU"])
                row[f"F1_{name}"] = _cell(100 * scores[name]["F1"])
                if c == 0:
                    continue
                tol_f1 = tolerant_scores(r["tol"][c - 1, t])["F1"]
                row[f"tolF1@{self.tolerance_px}px_{name}"] = _cell(100 * tol_f1)
                row[f"gt_px_{name}"] = int(r["cm"][c, :].sum())
                row[f"pred_px_{name}"] = int(r["cm"][:, c].sum())
                row[f"largest_region_px_{name}"] = int(r["largest"][c])
            rows.append(row)
        return rows

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Summarise, print a table, write the report files, return flat scalars."""
        report = self.build_report(results)
        self.last_report = report
        table = PrettyTable(field_names=["class", "IoU", "precision", "recall", "F1",
                                         f"tol. F1@{self.tolerance_px}px"])
        for name, vals in report["per_class"].items():
            tol_f1 = vals.get("tolerant", {}).get("F1")
            table.add_row([name] + [("n/a" if v is None else f"{v:.2f}") for v in
                                    [vals[k] for k in ("IoU", "precision", "recall", "F1")]
                                    + [tol_f1]])
        logger = MMLogger.get_current_instance()
        img = report["image_level"]
        print_log("per-class results (percent):\n" + table.get_string() +
                  f"\nimage-level verdict (region >= {self.verdict_min_area} px): "
                  f"TP={img['TP']} FP={img['FP']} FN={img['FN']} TN={img['TN']}"
                  + _tile_line(report.get("tile_level")), logger=logger)
        for path, write in ((self.report_file, self._write_json),
                            (self.markdown_file, self._write_markdown),
                            (self.per_image_csv, self._write_csv)):
            if path:
                os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
                write(path, report, results)
                print_log(f"report written to {path}", logger=logger)
        flat = OrderedDict()
        for key in ("aAcc", "mIoU", "mF1", "mDice", "mTolerantF1"):
            flat[key] = report[key] if report[key] is not None else float("nan")
        for name, vals in report["per_class"].items():
            for key in ("IoU", "precision", "recall", "F1"):
                flat[f"{key}.{name}"] = vals[key] if vals[key] is not None else float("nan")
            if "tolerant" in vals:
                f1 = vals["tolerant"]["F1"]
                flat[f"tolerantF1.{name}"] = f1 if f1 is not None else float("nan")
        for key in ("precision", "recall"):
            value = img[key]
            flat[f"image_{key}"] = value if value is not None else float("nan")
        tiles = report.get("tile_level")
        if tiles:
            for key in ("recall", "false_alarm_rate"):
                flat[f"tile_{key}"] = tiles[key] if tiles[key] is not None else float("nan")
        return flat

    @staticmethod
    def _write_json(path: str, report: dict, results: list) -> None:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2)

    @staticmethod
    def _write_markdown(path: str, report: dict, results: list) -> None:
        with open(path, "w", encoding="utf-8") as f:
            f.write(report_to_markdown(report))

    def _write_csv(self, path: str, report: dict, results: list) -> None:
        rows = self.per_image_rows(results)
        self.last_rows = rows
        write_csv(rows, path)


def _tile_line(tiles: Optional[dict]) -> str:
    if not tiles:
        return ""
    rate = tiles["false_alarm_rate"]
    return (f"\ntile verdict ({tiles['tile_px']} px tiles): TP={tiles['TP']} FP={tiles['FP']} "
            f"FN={tiles['FN']} TN={tiles['TN']}, false alarms on "
            f"{'n/a' if rate is None else f'{rate:.2f}'} % of the OK tiles")


def _number(value: float):
    """An int when the value is whole (tolerances print as ``2``, not ``2.0``)."""
    value = float(value)
    return int(value) if value.is_integer() else value
