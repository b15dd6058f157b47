"""DefectMetric's report on hand-built predictions: known IoU / F1 / tolerant F1 / verdicts."""

import csv
import json
import math

import numpy as np
import pytest
import torch

from mmseg_uda.evaluation import (
    DefectMetric,
    largest_region_area,
    tile_boxes,
    tile_verdict_counts,
    tolerant_match_counts,
    tolerant_scores,
)


def _sample(pred, gt, name="img.png"):
    return dict(pred_sem_seg=dict(data=torch.as_tensor(pred)[None]),
                gt_sem_seg=dict(data=torch.as_tensor(gt)[None]), img_path=name)


def _metric(classes=("background", "crack"), **kwargs):
    metric = DefectMetric(**kwargs)
    metric.dataset_meta = dict(classes=classes)
    return metric


def _line(shape=(32, 32), row=10, cols=(4, 28)):
    mask = np.zeros(shape, np.uint8)
    mask[row, cols[0]:cols[1]] = 1
    return mask


def test_shifted_line_strict_zero_tolerant_one():
    gt = _line(row=10)
    pred = _line(row=11)  # one pixel below: no pixel overlaps, every pixel is 1 px away
    counts = tolerant_match_counts(pred == 1, gt == 1, [0, 1, 2])
    assert counts.tolist() == [[24, 0, 24, 0], [24, 24, 24, 24], [24, 24, 24, 24]]
    assert tolerant_scores(counts[0])["F1"] == 0.0
    assert tolerant_scores(counts[1])["F1"] == 1.0


def test_diagonal_shift_needs_sqrt2():
    gt = np.zeros((16, 16), bool)
    pred = np.zeros((16, 16), bool)
    gt[5, 5] = True
    pred[6, 6] = True  # Euclidean distance sqrt(2)
    counts = tolerant_match_counts(pred, gt, [1, 1.5])
    assert counts[:, 1].tolist() == [0, 1]
    assert counts[:, 3].tolist() == [0, 1]


def test_tolerance_zero_equals_strict_scores():
    rng = np.random.default_rng(0)
    pred = rng.random((40, 50)) < 0.3
    gt = rng.random((40, 50)) < 0.2
    counts = tolerant_match_counts(pred, gt, [0])[0]
    tp = (pred & gt).sum()
    assert counts.tolist() == [pred.sum(), tp, gt.sum(), tp]


def test_partial_tolerant_precision_recall():
    gt = _line(row=10, cols=(0, 10))        # 10 true pixels
    pred = _line(row=12, cols=(0, 20))      # 20 predicted, 2 px away over the first 10 columns
    s = tolerant_scores(tolerant_match_counts(pred == 1, gt == 1, [2])[0])
    # predicted (12, 10) is sqrt(2**2 + 1**2) > 2 px from the nearest true pixel (10, 9)
    assert s["precision"] == 0.5 and s["recall"] == 1.0
    assert s["F1"] == pytest.approx(2 / 3)


def test_empty_sides():
    empty = np.zeros((8, 8), bool)
    some = empty.copy()
    some[2, 2] = True
    only_pred = tolerant_scores(tolerant_match_counts(some, empty, [2])[0])
    assert only_pred["precision"] == 0.0 and math.isnan(only_pred["recall"])
    assert only_pred["F1"] == 0.0
    neither = tolerant_scores(tolerant_match_counts(empty, empty, [2])[0])
    assert math.isnan(neither["F1"])


def test_ignored_pixels_do_not_count():
    gt = _line(row=10).astype(np.uint8)
    pred = _line(row=10).astype(np.uint8)
    pred[20, 0:5] = 1                 # false positives ...
    valid = np.ones_like(gt, bool)
    valid[20, :] = False              # ... on an ignored row
    counts = tolerant_match_counts(pred == 1, gt == 1, [0], valid)[0]
    assert counts.tolist() == [24, 24, 24, 24]


def test_largest_region_8_connected():
    mask = np.zeros((10, 10), bool)
    mask[1, 1] = mask[2, 2] = mask[3, 3] = True  # a diagonal: one region with 8-connectivity
    mask[7:9, 7:9] = True
    assert largest_region_area(mask) == 4
    assert largest_region_area(mask, connectivity=4) == 4
    mask[4, 4] = mask[5, 5] = True
    assert largest_region_area(mask) == 5
    assert largest_region_area(np.zeros((3, 3), bool)) == 0


def test_report_numbers_on_hand_built_predictions(tmp_path):
    # image 1: 24 true crack pixels, prediction shifted by 1 px -> strict 0, tolerant 100
    # image 2: 10 true pixels, 8 predicted of which 6 correct -> IoU 6/12, F1 12/18 on its own
    # image 3: no defect and none predicted (true negative)
    gt2 = np.zeros((32, 32), np.uint8)
    gt2[5, 0:10] = 1
    pred2 = np.zeros_like(gt2)
    pred2[5, 4:10] = 1
    pred2[30, 0:2] = 1
    metric = _metric(report_file=str(tmp_path / "r.json"), markdown_file=str(tmp_path / "r.md"),
                     per_image_csv=str(tmp_path / "r.csv"), tolerance_px=1, tolerances=(0, 3),
                     verdict_min_area=5)
    metric.process({}, [_sample(_line(row=11), _line(row=10), "a.png"),
                        _sample(pred2, gt2, "b.png"),
                        _sample(np.zeros((32, 32), np.uint8), np.zeros((32, 32), np.uint8),
                                "c.png")])
    flat = metric.evaluate(3)
    report = json.loads((tmp_path / "r.json").read_text())
    crack = report["per_class"]["crack"]
    # pooled: tp = 6, true = 34, predicted = 32
    assert crack["tp_pixels"] == 6 and crack["gt_pixels"] == 34 and crack["pred_pixels"] == 32
    assert crack["IoU"] == pytest.approx(100 * 6 / (34 + 32 - 6), abs=1e-3)
    assert crack["F1"] == pytest.approx(100 * 12 / 66, abs=1e-3)
    assert crack["Dice"] == crack["F1"]
    assert crack["precision"] == pytest.approx(100 * 6 / 32, abs=1e-3)
    assert crack["recall"] == pytest.approx(100 * 6 / 34, abs=1e-3)
    # tolerant at 1 px: image 1 all 24 matched both ways; image 2: predicted (5, 4..9) matched,
    # (30, 0..1) not; true (5, 3) is 1 px from (5, 4) -> found, (5, 0..2) not
    assert crack["tolerant"] == dict(tolerance_px=1, precision=pytest.approx(100 * 30 / 32),
                                     recall=pytest.approx(100 * 31 / 34),
                                     F1=pytest.approx(100 * 2 * (30 / 32) * (31 / 34) /
                                                      (30 / 32 + 31 / 34), abs=1e-3))
    assert sorted(crack["tolerant_by_px"]) == ["0", "1", "3"]
    assert crack["tolerant_by_px"]["0"]["precision"] == crack["precision"]
    assert report["mTolerantF1"] == crack["tolerant"]["F1"]
    assert flat["tolerantF1.crack"] == crack["tolerant"]["F1"]
    # Foundation keys are all still there
    for key in ("mIoU", "aAcc", "mF1"):
        assert key in report and key in flat
    for name in ("background", "crack"):
        assert {"IoU", "precision", "recall", "F1"} <= set(report["per_class"][name])
    assert report["mDice"] == report["mF1"]
    assert report["confusion_matrix"][1] == [28, 6]
    assert report["confusion_matrix_normalized"][1][1] == pytest.approx(100 * 6 / 34, abs=1e-3)
    # image level: a (24 px region) and b (6 px region >= 5) are called defect, c OK
    img = report["image_level"]
    assert (img["TP"], img["FP"], img["FN"], img["TN"]) == (2, 0, 0, 1)
    assert img["recall"] == 100.0 and img["min_area_px"] == 5
    # per-image CSV
    with open(tmp_path / "r.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["image"] for r in rows] == ["a.png", "b.png", "c.png"]
    assert float(rows[0]["F1_crack"]) == 0.0 and float(rows[0]["tolF1@1px_crack"]) == 100.0
    assert float(rows[1]["IoU_crack"]) == pytest.approx(100 * 6 / 12, abs=0.01)
    assert rows[1]["gt_px_crack"] == "10" and rows[1]["pred_px_crack"] == "8"
    assert rows[1]["largest_region_px_crack"] == "6"
    assert rows[2]["IoU_crack"] == "" and rows[2]["gt_verdict"] == "OK"
    assert rows[2]["pred_verdict"] == "OK" and rows[2]["verdict_correct"] == "1"
    md = (tmp_path / "r.md").read_text()
    assert "## F1 by distance tolerance" in md and "| truly defective | 2 | 0 |" in md
    assert "No defect-free image" not in md  # c.png is a true negative


def test_verdict_min_area_and_false_alarm():
    gt = np.zeros((32, 32), np.uint8)
    small = gt.copy()
    small[3, 3:6] = 1            # a 3-pixel speck on a good image
    big = gt.copy()
    big[10:15, 10:15] = 1        # a 25-pixel false alarm
    metric = _metric(verdict_min_area=4)
    results = [metric.image_statistics(small, gt, 2), metric.image_statistics(big, gt, 2)]
    level = metric.image_level(results)
    assert (level["TP"], level["FP"], level["FN"], level["TN"]) == (0, 1, 0, 1)
    assert math.isnan(level["recall"]) and level["precision"] == 0.0


def test_tile_verdicts_count_invented_defects_not_wide_ones():
    """A crack in every image: false alarms are still measured, on the defect-free tiles."""
    gt = np.zeros((64, 96), bool)
    gt[4:60, 30] = True               # a vertical crack in the first 32-px tile column
    pred = np.zeros_like(gt)
    pred[4:60, 29:33] = True          # predicted 4 px wide: 2 px into the next tile column,
    # but within the 2-px tolerance of the crack: not a false alarm
    pred[40:45, 70:75] = True         # a 25-px blob invented on clean surface
    pred[5, 80:83] = True             # a 3-px speck (below the 16-px area)
    counts = tile_verdict_counts(pred, gt, 32, min_area=16, tolerance=2)
    # tiles: 2 rows x 3 columns; column 0 holds the crack (found), the blob is in row 1 col 2
    assert counts.tolist() == [2, 1, 0, 3]   # TP, FP, FN, TN
    # without tolerance the bleed into column 1 (a 28-px strip per tile row) is a false alarm
    assert tile_verdict_counts(pred, gt, 32, min_area=16, tolerance=0).tolist() == [2, 3, 0, 1]
    missed = np.zeros_like(gt)
    missed[40:45, 70:75] = True
    assert tile_verdict_counts(missed, gt, 32, 16, 2).tolist() == [0, 1, 2, 3]
    valid = np.ones_like(gt)
    valid[:, 64:] = False                      # ignore the last tile column
    assert tile_verdict_counts(pred, gt, 32, 16, 2, valid).tolist() == [2, 0, 0, 2]
    assert tile_boxes(64, 96, 40) == [(0, 40, 0, 40), (0, 40, 40, 80), (0, 40, 80, 96),
                                      (40, 64, 0, 40), (40, 64, 40, 80), (40, 64, 80, 96)]
    with pytest.raises(ValueError, match="tile must be >= 1"):
        tile_verdict_counts(pred, gt, 0, 16)
    with pytest.raises(ValueError, match="differ"):
        tile_verdict_counts(pred[:10], gt, 32, 16)


def test_tile_level_in_report_csv_and_markdown(tmp_path):
    gt = np.zeros((64, 96), np.uint8)
    gt[4:60, 30] = 1
    pred = gt.copy()
    pred[40:45, 70:75] = 1
    metric = _metric(tile_size=32, verdict_min_area=16, tolerance_px=2,
                     per_image_csv=str(tmp_path / "r.csv"), markdown_file=str(tmp_path / "r.md"))
    metric.process({}, [_sample(pred, gt, "a.png"), _sample(gt, gt, "b.png")])
    flat = metric.compute_metrics(metric.results)
    tiles = metric.last_report["tile_level"]
    assert (tiles["TP"], tiles["FP"], tiles["FN"], tiles["TN"]) == (4, 1, 0, 7)
    assert tiles["false_alarm_rate"] == pytest.approx(100 / 8, abs=1e-3)
    assert tiles["recall"] == 100.0 and tiles["tile_px"] == 32
    assert flat["tile_false_alarm_rate"] == tiles["false_alarm_rate"]
    with open(tmp_path / "r.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["ok_tiles"], r["false_alarm_tiles"]) for r in rows] == [("4", "1"), ("4", "0")]
    md = (tmp_path / "r.md").read_text()
    assert "## Tile-level verdict" in md and "| truly OK | 1 | 7 |" in md
    assert "No defect-free image in the set: false alarms are measured on tiles" in md
    # settings are reported as given, only the scores are percentages
    half = _metric(tile_size=32, tolerance_px=2.5)
    half.process({}, [_sample(pred, gt, "a.png")])
    assert half.build_report(half.results)["tile_level"]["tolerance_px"] == 2.5
    # switched off: no tile verdicts anywhere
    off = _metric(tile_size=None)
    off.process({}, [_sample(pred, gt, "a.png")])
    assert off.build_report(off.results)["tile_level"] is None
    assert "ok_tiles" not in off.per_image_rows(off.results)[0]
    with pytest.raises(ValueError, match="tile_size"):
        _metric(tile_size=-1)


def test_results_split_across_ranks_give_the_same_report():
    """DDP: each rank processes part of the set; the gathered per-image results are reduced."""
    rng = np.random.default_rng(1)
    samples = []
    for i in range(6):
        gt = (rng.random((24, 24)) < 0.1).astype(np.uint8) * rng.integers(1, 3)
        pred = (rng.random((24, 24)) < 0.1).astype(np.uint8) * rng.integers(1, 3)
        gt[0, :4] = 255
        samples.append(_sample(pred, gt, f"{i}.png"))
    classes = ("background", "scratch", "hole")
    whole = _metric(classes)
    whole.process({}, samples)
    rank0, rank1 = _metric(classes), _metric(classes)
    rank0.process({}, samples[::2])
    rank1.process({}, samples[1::2])
    gathered = rank0.results + rank1.results
    a, b = whole.build_report(whole.results), rank0.build_report(gathered)
    assert json.dumps(a) == json.dumps(b)
    assert "tolerant" not in a["per_class"]["background"]
    assert set(a["per_class"]["hole"]["tolerant_by_px"]) == {"0", "1", "2", "3", "5"}


def test_bad_arguments():
    with pytest.raises(ValueError, match="tolerance"):
        DefectMetric(tolerance_px=-1)
    with pytest.raises(ValueError, match="verdict_min_area"):
        DefectMetric(verdict_min_area=0)
    with pytest.raises(TypeError, match="tolerance_pixels"):
        DefectMetric(tolerance_pixels=2)
