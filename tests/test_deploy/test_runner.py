"""python -m mmseg_uda.deploy.predict: imports without torch / MMEngine / MMSeg, and writes the
verdicts, regions and masks that tools/predict.py writes for the same model and images."""

import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from deploy_helpers import BLOCKED, SEGFORMER, SIZE, _images, run_blocked
from helpers import REPO, TINY_MODEL
from mmseg_uda.apis import init_model, predict_files
from mmseg_uda.deploy import Thresholds
from mmseg_uda.deploy.export import export_with_parity


def test_runner_imports_with_torch_blocked(tmp_path):
    code = ("import sys\n"
            f"for name in {BLOCKED!r}:\n"
            "    sys.modules[name] = None\n"
            "import mmseg_uda, mmseg_uda.deploy, mmseg_uda.deploy.predict\n"
            "print(mmseg_uda.MISSING_FOR_TRAINING)\n"
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {BLOCKED!r} "
            "and sys.modules[m] is not None))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=str(tmp_path), capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=REPO), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["('torch', 'mmengine', 'mmseg')", "[]"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("runner")
    model = init_model(SEGFORMER, None, cfg_options=dict(TINY_MODEL))
    out = str(root / "m.onnx")
    assert export_with_parity(model, out, SIZE, _images(2))["failures"] == []
    folder = root / "line"
    folder.mkdir()
    for i, img in enumerate(_images(4, seed=3)):
        cv2.imwrite(str(folder / f"{i:02d}.png"), img)
    (folder / "broken.png").write_bytes(b"not an image")
    return dict(model=model, onnx=out, folder=folder, root=root)


def assert_same_picture(path, ref_path, max_pixel_fraction=1e-3, max_level_diff=8):
    """Same size and pixels, except at most ``max_pixel_fraction`` of the pixels, each by at
    most ``max_level_diff`` levels per channel."""
    mine, ref = cv2.imread(path), cv2.imread(ref_path)
    assert mine.shape == ref.shape, (path, mine.shape, ref.shape)
    diff = np.abs(mine.astype(int) - ref.astype(int)).max(-1)
    assert diff.max() <= max_level_diff and (diff > 0).mean() <= max_pixel_fraction, \
        (path, int(diff.max()), int((diff > 0).sum()))


@pytest.mark.parametrize("mask_format", ["palette", "ids"])
def test_runner_writes_what_predict_writes(exported, tmp_path, mask_format):
    # both at a low pixel threshold so that the random tiny model finds regions
    ref = predict_files(exported["model"], sorted(str(p) for p in exported["folder"].iterdir()),
                        str(tmp_path / "torch"), progress=False, save_panels=True,
                        mask_palette=mask_format == "palette",
                        thresholds=Thresholds(pixel_threshold=0.45, min_area=4,
                                              source="command line (pixel_threshold, min_area) "
                                                     "over defaults"))
    fmt = [] if mask_format == "palette" else ["--mask-format", "ids"]  # palette: the default
    proc = run_blocked([exported["onnx"], str(exported["folder"]), "--out",
                         str(tmp_path / "onnx"), "--pixel-threshold", "0.45", "--min-area", "4",
                         "--panels", "--no-progress", *fmt], cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "4 predicted" in proc.stdout and "broken.png" in proc.stderr
    mine = json.loads((tmp_path / "onnx" / "predictions.json").read_text())
    assert mine["summary"] == ref["summary"] and mine["classes"] == ref["classes"]
    assert mine["thresholds"] == ref["thresholds"]
    assert any(e["regions"] for e in ref["images"]), "the test needs some defect regions"
    for a, b in zip(mine["images"], ref["images"]):
        assert (a["name"], a["verdict"], a["defect_pixels"]) == \
            (b["name"], b["verdict"], b["defect_pixels"])
        assert [r["bbox"] for r in a["regions"]] == [r["bbox"] for r in b["regions"]]
        assert set(a["outputs"]) == {"mask", "overlay", "heatmap", "panel"}
        assert a["outputs"] == b["outputs"]
        for kind, rel in a["outputs"].items():
            mine_file, ref_file = tmp_path / "onnx" / rel, tmp_path / "torch" / rel
            if kind in ("mask", "overlay"):  # the same files, byte for byte
                assert mine_file.read_bytes() == ref_file.read_bytes(), (a["name"], kind)
            else:  # colour maps of probabilities that differ by ~1e-6: a rare pixel may
                # round to the next colour (255 levels)
                assert_same_picture(str(mine_file), str(ref_file))
        mask = Image.open(tmp_path / "onnx" / a["outputs"]["mask"])
        assert mask.mode == ("P" if mask_format == "palette" else "L")
        assert int((np.array(mask) > 0).sum()) == a["defect_pixels"]
    assert (tmp_path / "onnx" / "verdicts.csv").read_text().splitlines()[0] == \
        (tmp_path / "torch" / "verdicts.csv").read_text().splitlines()[0]


def test_runner_bad_inputs(exported, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    cv2.imwrite(str(other / "big.png"), np.zeros((80, 80, 3), np.uint8))
    proc = run_blocked([exported["onnx"], str(other), "--out", str(tmp_path / "o")],
                        cwd=str(tmp_path))
    assert proc.returncode == 1  # nothing predicted
    assert "image is 80x80 (HxW) but the model was exported for 64x96" in proc.stderr
    not_onnx = tmp_path / "x.onnx"
    not_onnx.write_bytes(b"garbage")
    proc = run_blocked([str(not_onnx), str(other), "--out", str(tmp_path / "p")],
                        cwd=str(tmp_path))
    assert proc.returncode != 0 and "ONNX Runtime cannot load" in proc.stderr


def test_benchmark_deploy_tool(exported, tmp_path):
    from reports_helpers import load_tool

    result = load_tool("benchmark_deploy").main([
        SEGFORMER, "--images", str(exported["folder"] / "0*.png"), "--num", "2",
        "--work-dir", str(tmp_path), "--cfg-options",
        *[f"{k}={v}".replace(" ", "") for k, v in TINY_MODEL.items()]])
    assert result["images"] == 2 and result["size"] == list(SIZE)
    assert result["pytorch_img_per_s"] > 0 and result["onnxruntime_img_per_s"] > 0
    assert result["parity_max_abs_prob_diff"] < 1e-4
