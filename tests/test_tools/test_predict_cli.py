"""tools/predict.py end to end on a tiny trained checkpoint: outputs, errors, --out guard."""

import json
import os
import os.path as osp
import shutil

import cv2
import numpy as np
import pytest
from PIL import Image

from reports_helpers import load_tool, run_tool, tiny_run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return tiny_run(tmp_path_factory)


@pytest.fixture
def inputs(run, tmp_path):
    folder = tmp_path / "line"
    folder.mkdir()
    for name in ("0000.png", "0001.png"):
        shutil.copy(osp.join(run["data_root"], "images", name), folder / name)
    big = np.full((100, 130, 3), 128, np.uint8)
    cv2.line(big, (5, 5), (120, 90), (30, 30, 30), 3)
    cv2.imwrite(str(folder / "big.jpg"), big)
    (folder / "broken.png").write_bytes(b"not an image at all")
    (folder / "readme.txt").write_text("ignored: not an image extension")
    return folder


def test_predict_folder_end_to_end(run, inputs, tmp_path):
    out = tmp_path / "pred"
    res = run_tool("predict", [run["config"], run["checkpoint"], str(inputs), "--out", str(out),
                               "--window", "48", "--stride", "32", "--min-area", "3",
                               "--cfg-options", *run["model_options"]])
    assert res.returncode == 0, res.stderr[-3000:]
    assert "broken.png" in res.stderr and "predict: 100%" in res.stderr  # skip + progress bar
    pred = json.loads((out / "predictions.json").read_text())
    assert pred["summary"] == dict(num_inputs=4, num_images=3, num_defect=pred["summary"]
                                   ["num_defect"], num_ok=3 - pred["summary"]["num_defect"],
                                   num_errors=1)
    assert pred["errors"][0]["image"].endswith("broken.png")
    assert pred["thresholds"] == dict(pixel_threshold=0.5, min_area=3,
                                      source="command line (min_area) over defaults")
    assert pred["inference"]["window"] == 48 and pred["classes"] == ["background", "crack"]
    for entry in pred["images"]:
        assert entry["verdict"] in ("OK", "defect")
        assert (entry["verdict"] == "defect") == bool(entry["regions"])
        for region in entry["regions"]:
            x, y, w, h = region["bbox"]
            assert region["area"] >= 3 and x >= 0 and x + w <= entry["width"]
            assert 0 <= region["mean_confidence"] <= region["max_confidence"] <= 1
        for kind in ("mask", "overlay"):
            img = cv2.imread(str(out / entry["outputs"][kind]), cv2.IMREAD_UNCHANGED)
            assert img.shape[:2] == (entry["height"], entry["width"])
        heat = cv2.imread(str(out / entry["outputs"]["heatmap"]))
        assert heat.shape[0] == entry["height"] and heat.shape[1] > entry["width"]  # + bar
        # the mask: a palette PNG whose pixel values are the class ids
        mask = Image.open(out / entry["outputs"]["mask"])
        assert mask.mode == "P" and mask.getpalette()[:6] == [0, 0, 0, 255, 0, 0]
        ids = np.array(mask)
        assert set(np.unique(ids)) <= {0, 1} and int((ids > 0).sum()) == entry["defect_pixels"]
        assert "attention" not in entry["outputs"]  # a SegFormer has no scale attention
    big = next(e for e in pred["images"] if e["name"] == "big")
    assert (big["height"], big["width"]) == (100, 130)


def test_out_guard_and_calibration_beside_checkpoint(run, inputs, tmp_path):
    predict = load_tool("predict")
    out = tmp_path / "pred"
    out.mkdir()
    (out / "old.txt").write_text("earlier run")
    argv = [run["config"], run["checkpoint"], str(inputs / "0000.png"), "--out", str(out),
            "--no-progress", "--cfg-options", *run["model_options"]]
    with pytest.raises(SystemExit, match="not empty.*--overwrite"):
        predict.main(argv)
    calibration = osp.join(osp.dirname(run["checkpoint"]), "calibration.json")
    with open(calibration, "w") as f:
        json.dump(dict(pixel_threshold=0.999, min_area=7), f)
    try:
        assert predict.main(argv + ["--overwrite", "--no-images"]) == 0
    finally:
        os.remove(calibration)
    pred = json.loads((out / "predictions.json").read_text())
    assert pred["thresholds"] == dict(pixel_threshold=0.999, min_area=7, source=calibration)
    assert not (out / "masks").exists() and (out / "old.txt").exists()


def test_bad_inputs_are_named(run, tmp_path):
    predict = load_tool("predict")
    empty = tmp_path / "empty"
    empty.mkdir()
    base = ["--out", str(tmp_path / "o"), "--cfg-options", *run["model_options"]]
    with pytest.raises(SystemExit, match="no images in folder .*empty"):
        predict.main([run["config"], run["checkpoint"], str(empty)] + base)
    with pytest.raises(SystemExit, match="checkpoint file not found: .*nope.pth"):
        predict.main([run["config"], str(tmp_path / "nope.pth"),
                      osp.join(run["data_root"], "images")] + base)
    with pytest.raises(SystemExit, match="calibration file not found"):
        predict.main([run["config"], run["checkpoint"], osp.join(run["data_root"], "images"),
                      "--calibration", str(tmp_path / "cal.json")] + base)
    bad = tmp_path / "only_bad"
    bad.mkdir()
    (bad / "x.png").write_bytes(b"junk")
    assert predict.main([run["config"], run["checkpoint"], str(bad), "--out",
                         str(tmp_path / "o2"), "--no-progress", "--cfg-options",
                         *run["model_options"]]) == 1
    assert json.loads((tmp_path / "o2" / "predictions.json").read_text())["summary"][
        "num_errors"] == 1
