"""Threshold calibration on constructed scores: curves, operating points, the verdict choice."""

import numpy as np
import pytest
from sklearn.metrics import precision_recall_curve

from mmseg_uda.analysis import (
    best_f1_point,
    curve_for_json,
    pr_curve,
    pr_curve_from_histograms,
    probability_histograms,
    recall_point,
    tile_boxes,
    verdict_items,
)
from mmseg_uda.apis.calibrate import CalibrationData, calibrate_thresholds


def test_histogram_curve_equals_sklearn_on_quantised_scores():
    rng = np.random.default_rng(0)
    gt = rng.random((3, 40, 40)) < 0.1
    prob = np.clip(gt * 0.35 + rng.random(gt.shape) * 0.65, 0, 1)
    pos = np.zeros(100, np.int64)
    neg = np.zeros(100, np.int64)
    for p, g in zip(prob, gt):
        a, b = probability_histograms(p, g, bins=100)
        pos += a
        neg += b
    assert pos.sum() == gt.sum() and neg.sum() == (~gt).sum()
    curve = pr_curve_from_histograms(pos, neg)
    quantised = np.floor(prob.ravel() * 100) / 100
    precision, recall, thr = precision_recall_curve(gt.ravel(), quantised)
    np.testing.assert_allclose(curve["threshold"], thr)
    np.testing.assert_allclose(curve["precision"], precision[:-1])
    np.testing.assert_allclose(curve["recall"], recall[:-1])
    # at threshold t, a pixel counts when p >= t
    t = 0.5
    i = int(np.flatnonzero(np.isclose(curve["threshold"], t))[0])
    tp = (gt & (prob >= t)).sum()
    assert curve["recall"][i] == pytest.approx(tp / gt.sum())
    assert curve["precision"][i] == pytest.approx(tp / (prob >= t).sum())


def test_histograms_skip_invalid_pixels():
    prob = np.array([[0.9, 0.2], [0.95, 0.1]])
    gt = np.array([[True, False], [True, False]])
    valid = np.array([[True, True], [False, True]])
    pos, neg = probability_histograms(prob, gt, valid, bins=10)
    assert pos.sum() == 1 and pos[9] == 1 and neg.sum() == 2


def test_min_area_choice_meets_the_target_recall():
    # largest-region scores (pixels) of defective and good images
    defective = [30, 50, 200, 400]
    good = [5, 10, 40]
    curve = pr_curve(defective + good, [1] * 4 + [0] * 3)
    p = recall_point(curve, 0.75)
    assert (p["threshold"], p["precision"], p["recall"], p["target_met"]) == (50, 1.0, 0.75,
                                                                                True)
    p = recall_point(curve, 1.0)           # every defect found: 40-px false alarm included
    assert (p["threshold"], p["precision"], p["recall"]) == (30, 0.8, 1.0)
    p = recall_point(curve, 0.5)           # 200 and 50 both reach P = 1: take the larger area
    assert p["threshold"] == 200
    assert best_f1_point(curve)["threshold"] == 30  # F1 0.889 (P 0.8, R 1) > 0.857 at 50


def test_unreachable_target_is_flagged():
    curve = pr_curve([0, 0, 12, 3, 0], [1, 1, 1, 0, 0])
    p = recall_point(curve, 0.95, min_threshold=1)
    assert not p["target_met"] and p["recall"] == pytest.approx(1 / 3)
    assert p["threshold"] == 12            # as much recall as possible, then precision
    with pytest.raises(ValueError, match="target recall"):
        recall_point(curve, 0.0)


def test_only_defective_items_still_give_a_curve():
    curve = pr_curve([5, 9, 20], [1, 1, 1])
    p = recall_point(curve, 1.0)
    assert p["threshold"] == 5 and p["precision"] == 1.0
    with pytest.raises(ValueError, match="no defective"):
        pr_curve([1, 2], [0, 0])


def test_tiles_and_items():
    assert tile_boxes(5, 7, None) == [(0, 5, 0, 7)]
    boxes = tile_boxes(5, 7, 4)
    assert boxes == [(0, 4, 0, 4), (0, 4, 4, 7), (4, 5, 0, 4), (4, 5, 4, 7)]
    mask = np.zeros((8, 8), np.uint8)
    mask[0:3, 0:3] = 1                     # 9 px region in the first tile
    mask[6, 6] = 1                         # 1 px in the last tile
    label = np.zeros((8, 8), np.uint8)
    label[1, 1] = 1
    label[5, 1] = 255                      # ignored: not a defect
    assert list(verdict_items(mask, label, 4)) == [(9, 1), (0, 0), (0, 0), (1, 0)]
    assert list(verdict_items(mask, label)) == [(9, 1)]


def _data(probs_and_labels, bins=100):
    data = CalibrationData(np.zeros(bins, np.int64), np.zeros(bins, np.int64))
    for i, (prob, label) in enumerate(probs_and_labels):
        a, b = probability_histograms(prob, label > 0, label != 255, bins)
        data.positives += a
        data.negatives += b
        data.defect_prob.append(prob.astype(np.float16))
        data.best_class.append(np.ones(prob.shape, np.uint8))
        data.labels.append(label)
        data.images.append(f"{i}.png")
    return data


def test_calibrate_thresholds_on_constructed_maps():
    def image(defect_area, prob_defect, false_area=0):
        prob = np.full((20, 20), 0.05)
        label = np.zeros((20, 20), np.uint8)
        if defect_area:
            label.flat[:defect_area] = 1
            prob.flat[:defect_area] = prob_defect
        if false_area:
            prob[19, :false_area] = 0.7   # a false alarm on the last row
        return prob, label

    data = _data([image(40, 0.9), image(20, 0.8), image(12, 0.75), image(0, 0, 6),
                  image(0, 0, 2), image(0, 0)])
    cal, curves = calibrate_thresholds(data, target_recall=1.0, pixel_rule=0.6)
    assert cal["pixel_threshold"] == 0.6
    # the smallest defect (12 px) must be found; the 6-px false alarm then stays out
    assert cal["min_area"] == 12
    img = cal["image_level"]
    assert (img["TP"], img["FP"], img["FN"], img["TN"]) == (3, 0, 0, 3)
    assert img["target_met"] and cal["warnings"] == []
    assert set(curves) == {"pixel", "item"}
    # best pixel F1: thresholds up to 0.7 keep every defect pixel and drop the 0.05 noise;
    # above 0.7 the false alarms go too, so the best F1 is just above 0.7
    cal_f1, _ = calibrate_thresholds(data, target_recall=0.6)
    assert 0.7 < cal_f1["pixel_threshold"] <= 0.75
    assert cal_f1["pixel_level"]["precision"] == 1.0 and cal_f1["pixel_level"]["recall"] == 1.0
    assert cal_f1["min_area"] == 20 and cal_f1["image_level"]["recall"] == pytest.approx(2 / 3)


def test_calibrate_warns_without_good_images_and_refuses_without_defects():
    prob = np.full((10, 10), 0.9)
    label = np.ones((10, 10), np.uint8)
    cal, _ = calibrate_thresholds(_data([(prob, label)]), 0.95, 0.5)
    assert any("not measured" in w for w in cal["warnings"])
    with pytest.raises(ValueError, match="no defect pixels"):
        calibrate_thresholds(_data([(prob, np.zeros((10, 10), np.uint8))]), 0.95, 0.5)
    with pytest.raises(ValueError, match="pixel_rule"):
        calibrate_thresholds(_data([(prob, label)]), 0.95, "best")


def test_curve_for_json_keeps_both_ends():
    curve = pr_curve(np.arange(1000), np.arange(1000) % 2)
    thin = curve_for_json(curve, max_points=50)
    assert len(thin["threshold"]) <= 50
    assert thin["threshold"][0] == curve["threshold"][0]
    assert thin["threshold"][-1] == curve["threshold"][-1]
