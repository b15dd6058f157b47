import json
import math

import numpy as np
import pytest
import torch

from mmseg_uda.evaluation import DefectMetric, confusion_matrix, scores_from_confusion


def sample(pred, gt):
    return {"pred_sem_seg": {"data": torch.as_tensor(pred)[None]},
            "gt_sem_seg": {"data": torch.as_tensor(gt)[None]}, "img_path": "x.png"}


def test_confusion_matrix_counts_and_ignore():
    gt = torch.tensor([[0, 0, 1, 1], [255, 1, 0, 0]])
    pred = torch.tensor([[0, 1, 1, 0], [1, 1, 0, 0]])
    cm = confusion_matrix(pred, gt, 2)
    assert cm.tolist() == [[3, 1], [1, 2]]  # the 255 pixel is skipped
    with pytest.raises(ValueError, match="label values outside"):
        confusion_matrix(pred, torch.full_like(gt, 3), 2)


def test_known_scores():
    # crack: TP=2, FP=1, FN=1 -> IoU 2/4, precision 2/3, recall 2/3, F1 2/3
    cm = np.array([[3, 1], [1, 2]])
    s = scores_from_confusion(cm, ["background", "crack"])
    crack = s["per_class"]["crack"]
    assert crack["IoU"] == pytest.approx(0.5)
    assert crack["precision"] == pytest.approx(2 / 3)
    assert crack["recall"] == pytest.approx(2 / 3)
    assert crack["F1"] == pytest.approx(2 / 3)
    assert s["per_class"]["background"]["IoU"] == pytest.approx(3 / 5)
    assert s["mIoU"] == pytest.approx((0.5 + 0.6) / 2)
    assert s["aAcc"] == pytest.approx(5 / 7)


def test_absent_class_is_nan_and_left_out_of_means():
    cm = np.array([[10, 0, 0], [0, 5, 0], [0, 0, 0]])
    s = scores_from_confusion(cm, ["bg", "crack", "spot"])
    assert math.isnan(s["per_class"]["spot"]["IoU"])
    assert s["mIoU"] == pytest.approx(1.0)


def test_never_predicted_defect_has_zero_precision_not_nan():
    cm = np.array([[10, 0], [3, 0]])
    crack = scores_from_confusion(cm, ["bg", "crack"])["per_class"]["crack"]
    assert crack["precision"] == 0.0 and crack["recall"] == 0.0 and crack["F1"] == 0.0


def test_metric_end_to_end_writes_report(tmp_path):
    metric = DefectMetric(report_file=str(tmp_path / "sub" / "report.json"),
                          report_meta={"checkpoint": "c.pth"})
    metric.dataset_meta = {"classes": ("background", "crack")}
    gt = np.zeros((4, 4), np.int64)
    gt[1, :] = 1
    pred = np.zeros((4, 4), np.int64)
    pred[1, :2] = 1
    pred[2, 0] = 1
    metric.process({}, [sample(pred, gt), sample(gt, gt)])
    flat = metric.evaluate(2)
    # crack over both images: TP = 2 + 4, FP = 1, FN = 2
    assert flat["IoU.crack"] == pytest.approx(100 * 6 / 9, abs=1e-3)
    report = json.loads((tmp_path / "sub" / "report.json").read_text())
    assert set(report) >= {"mIoU", "aAcc", "per_class", "confusion_matrix", "checkpoint"}
    assert set(report["per_class"]["crack"]) >= {"IoU", "precision", "recall", "F1"}
    assert report["per_class"]["crack"]["precision"] == pytest.approx(100 * 6 / 7, abs=1e-3)
    assert report["num_images"] == 2 and report["units"] == "percent"


def test_metric_rejects_unknown_arguments_and_missing_gt():
    with pytest.raises(TypeError, match="unknown argument"):
        DefectMetric(iou_metrics=["mIoU"])
    metric = DefectMetric()
    metric.dataset_meta = {"classes": ("background", "crack")}
    with pytest.raises(KeyError, match="no ground-truth mask"):
        metric.process({}, [{"pred_sem_seg": {"data": torch.zeros(1, 2, 2)}}])
