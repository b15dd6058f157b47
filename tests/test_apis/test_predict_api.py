"""Prediction API: regions, verdicts, tiling, the optional attention map, batch outputs."""

import csv
import json
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
import torch.nn as nn
from mmseg.models import SegDataPreProcessor

from helpers import REPO, TINY_MODEL
from mmseg_uda.apis import (
    FOLDERS,
    Thresholds,
    defect_regions,
    image_verdict,
    inference_outputs,
    init_model,
    largest_defect_region,
    predict_files,
    predict_image,
    predict_logits,
    sliding_windows,
    threshold_mask,
)

CONFIG = osp.join(REPO, "configs/segformer/segformer_mit-b0_4x1k_cracks-256_cpu.py")


class _FakeSegmentor(nn.Module):
    """Dark pixels are cracks: logits depend on each pixel alone (so tiling changes nothing)."""

    def __init__(self, attention: str = "full"):
        super().__init__()
        self.data_preprocessor = SegDataPreProcessor(mean=[0, 0, 0], std=[255, 255, 255])
        self.attention = attention
        self.dataset_meta = dict(classes=("background", "crack"), palette=[[0, 0, 0],
                                                                           [255, 0, 0]])
        self.calls = 0

    def _maps(self, inputs):
        self.calls += 1
        dark = 1.0 - inputs.mean(1, keepdim=True)                 # in [0, 1]
        logits = torch.cat([torch.zeros_like(dark), 12.0 * (dark - 0.5)], dim=1)
        out = dict(logits=logits)
        if self.attention == "full":
            out["attention"] = torch.cat([1 - dark, dark], dim=1)  # one channel per class
        elif self.attention == "low":
            out["attention"] = torch.full((inputs.shape[0], 1, inputs.shape[2] // 4,
                                           inputs.shape[3] // 4), 0.25)
        return out


class PointwiseSegmentor(_FakeSegmentor):
    """Offers ``inference_outputs`` with a scale-attention-like map."""

    def inference_outputs(self, inputs, batch_img_metas):
        return self._maps(inputs)


class ScaleOutputsSegmentor(_FakeSegmentor):
    """The HRDA segmentor's interface: ``scale_outputs`` with fused logits and attention."""

    def scale_outputs(self, inputs, with_maps=True):
        out = self._maps(inputs)
        return dict(seg_logits=out["logits"], attention=out["attention"][:, 1:],
                    context=out["logits"], detail=out["logits"])


def _image(h=48, w=64):
    img = np.full((h, w, 3), 255, np.uint8)
    img[10:15, 5:15] = 0          # a 50-pixel defect (probability ~0.9975)
    img[30:32, 40:42] = 0         # a 4-pixel speck
    return img


def test_regions_boxes_on_hand_drawn_mask():
    mask = np.zeros((20, 30), np.uint8)
    mask[3:8, 5:15] = 1                     # 10 x 5 box, class 1
    mask[12, 2] = mask[13, 3] = mask[14, 4] = 1  # a diagonal: one region with 8-connectivity
    mask[10:18, 20] = 2                     # an L of class 2: 8 + 4 pixels
    mask[17, 21:25] = 2
    mask[0, 29] = 2                         # a 1-pixel speck
    probs = np.zeros((3, 20, 30), np.float32)
    probs[1][mask == 1] = 0.8
    probs[1][3, 5] = 0.95
    probs[2][mask == 2] = 0.6
    regions = defect_regions(mask, probs, ["background", "scratch", "hole"], min_area=2)
    assert [(r["class"], r["bbox"], r["area"]) for r in regions] == [
        ("scratch", [5, 3, 10, 5], 50), ("hole", [20, 10, 5, 8], 12),
        ("scratch", [2, 12, 3, 3], 3)]
    box = regions[0]
    assert box["centroid"] == [9.5, 5.0]
    assert box["mean_confidence"] == pytest.approx((49 * 0.8 + 0.95) / 50, abs=1e-4)
    assert box["max_confidence"] == pytest.approx(0.95)
    assert regions[1]["mean_confidence"] == pytest.approx(0.6)
    four = defect_regions(mask, None, None, min_area=1, connectivity=4)
    assert sum(r["class"] == "class1" for r in four) == 4  # the diagonal falls apart
    assert "mean_confidence" not in four[0]
    assert largest_defect_region(mask) == 50
    assert largest_defect_region(np.zeros((4, 4), np.uint8)) == 0


def test_verdict_threshold_and_min_area():
    regions = [dict(area=20), dict(area=5)]
    assert image_verdict(regions, 16) == "defect"
    assert image_verdict(regions, 21) == "OK"
    assert image_verdict([], 1) == "OK"
    model = PointwiseSegmentor()
    img = np.full((32, 32, 3), 255, np.uint8)
    img[8:13, 8:12] = 96          # 20 px of defect probability sigmoid(12 * 0.1235) = 0.815
    p = float(torch.sigmoid(torch.tensor(12 * (1 - 96 / 255 - 0.5))))
    res = predict_image(model, img, Thresholds(pixel_threshold=0.5, min_area=16))
    assert res["verdict"] == "defect" and res["defect_pixels"] == 20
    assert res["score"] == dict(max_defect_prob=pytest.approx(p, abs=1e-4),
                                largest_region_area=20)
    assert predict_image(model, img, Thresholds(0.5, 21))["verdict"] == "OK"
    high = predict_image(model, img, Thresholds(pixel_threshold=0.9, min_area=1))
    assert high["verdict"] == "OK" and high["defect_pixels"] == 0 and high["regions"] == []


def test_threshold_mask_picks_the_best_defect_class():
    probs = np.array([[[0.6, 0.2, 0.1]], [[0.3, 0.3, 0.1]], [[0.1, 0.5, 0.8]]])  # (3, 1, 3)
    assert threshold_mask(probs, 0.5).tolist() == [[0, 2, 2]]
    assert threshold_mask(probs, 0.3).tolist() == [[1, 2, 2]]   # 1 - 0.6 = 0.4 >= 0.3
    assert threshold_mask(probs, 0.85).tolist() == [[0, 0, 2]]
    with pytest.raises(ValueError, match="pixel_threshold"):
        threshold_mask(probs, 1.5)


def test_predict_image_regions_mask_and_attention():
    model = PointwiseSegmentor()
    res = predict_image(model, _image(), Thresholds(min_area=16))
    assert res["mask"].shape == (48, 64) and res["probs"].shape == (2, 48, 64)
    assert res["mask"].sum() == 54                      # 50 + 4 pixels
    assert [(r["bbox"], r["area"]) for r in res["regions"]] == [([5, 10, 10, 5], 50)]
    assert res["verdict"] == "defect"
    assert res["attention"].shape == (48, 64)
    # one channel per class: the crack channel is shown (the background one is dropped)
    np.testing.assert_allclose(res["attention"], 1.0 - _image().mean(2) / 255, atol=1e-6)


def test_low_resolution_attention_is_resized_and_absent_without_one():
    res = predict_image(PointwiseSegmentor("low"), _image())
    assert res["attention"].shape == (48, 64)
    np.testing.assert_allclose(res["attention"], 0.25)
    assert predict_image(PointwiseSegmentor("none"), _image())["attention"] is None


def test_hrda_style_scale_outputs_give_the_attention():
    model = ScaleOutputsSegmentor()
    res = predict_image(model, _image())
    assert res["attention"].shape == (48, 64)   # one channel: shown as is
    np.testing.assert_allclose(res["attention"], 1.0 - _image().mean(2) / 255, atol=1e-6)
    assert res["verdict"] == "defect"


def test_sliding_windows_cover_the_image():
    boxes = sliding_windows(50, 70, 32, 16)
    cover = np.zeros((50, 70), int)
    for y1, y2, x1, x2 in boxes:
        assert (y2 - y1, x2 - x1) == (32, 32) and y1 >= 0 and x1 >= 0
        cover[y1:y2, x1:x2] += 1
    assert cover.min() >= 1
    assert sliding_windows(20, 30, 64, 32) == [(0, 20, 0, 30)]
    with pytest.raises(ValueError, match="stride"):
        sliding_windows(10, 10, 8, 9)


def test_tiled_equals_whole_for_a_pointwise_model():
    model = PointwiseSegmentor()
    img = (np.random.default_rng(0).random((45, 70, 3)) * 255).astype(np.uint8)
    whole = predict_logits(model, img)
    calls = model.calls
    tiled = predict_logits(model, img, window=16, stride=12)
    assert model.calls - calls == len(sliding_windows(45, 70, 16, 12)) > 1
    torch.testing.assert_close(tiled["logits"], whole["logits"])
    torch.testing.assert_close(tiled["attention"], whole["attention"])


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models on a shared 2-core machine: one OpenMP thread avoids spinning contention."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    return init_model(CONFIG, None, cfg_options=dict(TINY_MODEL))


def test_tiled_equals_whole_when_the_window_covers_the_image(tiny_model):
    img = (np.random.default_rng(1).random((40, 56, 3)) * 255).astype(np.uint8)
    whole = predict_logits(tiny_model, img)["logits"]
    assert whole.shape == (1, 2, 40, 56)
    covered = predict_logits(tiny_model, img, window=64)["logits"]
    torch.testing.assert_close(covered, whole)
    small = predict_logits(tiny_model, img, window=32, stride=16)["logits"]
    assert small.shape == whole.shape and torch.isfinite(small).all()
    assert not torch.allclose(small, whole)  # a transformer's output depends on the context
    assert "attention" not in predict_logits(tiny_model, img)
    assert predict_image(tiny_model, img)["attention"] is None


def test_init_model_errors_name_the_file(tmp_path, tiny_model):
    missing = str(tmp_path / "nope.pth")
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        init_model(CONFIG, missing, cfg_options=dict(TINY_MODEL))
    ckpt = str(tmp_path / "tiny.pth")
    torch.save(dict(meta=dict(dataset_meta=dict(classes=("background", "crack"),
                                                palette=[[0, 0, 0], [0, 255, 0]])),
                    state_dict=tiny_model.state_dict()), ckpt)
    loaded = init_model(CONFIG, ckpt, cfg_options=dict(TINY_MODEL))
    assert loaded.dataset_meta["palette"][1] == [0, 255, 0]
    bigger = dict(TINY_MODEL, **{"model.decode_head.channels": 32})
    with pytest.raises(RuntimeError, match="does not fit"):
        init_model(CONFIG, ckpt, cfg_options=bigger)


def test_inference_outputs_contract():
    class Bad(PointwiseSegmentor):
        def inference_outputs(self, inputs, batch_img_metas):
            return inputs

    with pytest.raises(TypeError, match="'logits'"):
        inference_outputs(Bad(), torch.zeros(1, 3, 8, 8))
    with pytest.raises(TypeError, match="segmentor"):
        inference_outputs(nn.Linear(2, 2), torch.zeros(1, 3, 8, 8))


def test_predict_files_writes_outputs_and_skips_broken_files(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    cv2.imwrite(str(src / "a.png"), _image())
    clean = np.full((48, 64, 3), 255, np.uint8)
    cv2.imwrite(str(src / "b.jpg"), clean)
    (src / "c.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    paths = sorted(str(p) for p in src.iterdir())
    out = str(tmp_path / "out")
    summary = predict_files(PointwiseSegmentor(), paths, out, Thresholds(min_area=16),
                            save_panels=True, progress=False)
    with open(osp.join(out, "predictions.json")) as f:
        saved = json.load(f)
    assert saved == json.loads(json.dumps(summary))
    assert saved["summary"] == dict(num_inputs=3, num_images=2, num_defect=1, num_ok=1,
                                    num_errors=1)
    assert saved["errors"][0]["image"].endswith("c.png")
    assert "cannot decode" in saved["errors"][0]["error"]
    a, b = saved["images"]
    assert (a["name"], a["verdict"], b["verdict"]) == ("a", "defect", "OK")
    assert a["regions"][0]["bbox"] == [5, 10, 10, 5]
    assert set(a["outputs"]) == set(FOLDERS)
    for rel in a["outputs"].values():
        assert osp.isfile(osp.join(out, rel))
    mask = cv2.imread(osp.join(out, a["outputs"]["mask"]), cv2.IMREAD_UNCHANGED)
    assert mask.dtype == np.uint8 and mask.shape == (48, 64) and set(np.unique(mask)) == {0, 1}
    assert a["attention"]["mean_on_defects"] > 0.99
    with open(osp.join(out, "verdicts.csv")) as f:
        rows = list(csv.DictReader(f))
    assert [(r["verdict"], r["num_regions"]) for r in rows] == [("defect", "1"), ("OK", "0"),
                                                                 ("error", "")]
    assert rows[0]["largest_region_area"] == "50" and "cannot decode" in rows[2]["error"]
    panel = cv2.imread(osp.join(out, a["outputs"]["panel"]))
    assert panel.shape[1] > 4 * 64  # image | overlay | heat map | attention
