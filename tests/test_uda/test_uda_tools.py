"""tools/train.py and tools/test.py on the UDA configs with generated data."""

import glob
import importlib.util
import json
import os
import os.path as osp
import uuid
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from test_uda.uda_testing import (
    DACS_CPU,
    REPO,
    SOURCE_ONLY_CPU,
    cli_options,
    tiny_options,
    write_uda_data,
)

from mmseg_uda.datasets import DatasetError


def load_tool(name):
    spec = importlib.util.spec_from_file_location(f"uda_tool_{name}",
                                                  osp.join(REPO, "tools", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def unique_names():
    # MMEngine's visualizer and logger are per-name singletons within a process.
    name = f"uda_tools_{uuid.uuid4().hex[:8]}"
    return {"experiment_name": name, "visualizer.name": name}


@pytest.mark.slow
def test_train_then_test_dacs_cpu_config(tmp_path, monkeypatch):
    data = write_uda_data(str(tmp_path / "data"))
    monkeypatch.setenv("SOURCE_ROOT", data["source"])
    monkeypatch.setenv("TARGET_ROOT", data["target"])
    work = str(tmp_path / "work")
    opts = tiny_options(iters=3, extra=unique_names())
    load_tool("train").main([DACS_CPU, "--work-dir", work, "--cfg-options",
                             *cli_options(opts)])
    ckpt = osp.join(work, "iter_3.pth")
    assert osp.isfile(ckpt)
    log = Path(glob.glob(osp.join(work, "*", "*.log"))[0]).read_text()
    for key in ("src.decode.loss_ce", "mix.decode.loss_ce", "pseudo.weight",
                "pseudo.defect_fraction", "IoU.crack"):
        assert key in log, key
    assert glob.glob(osp.join(work, "*", "vis_data", "vis_image", "uda_debug_*.png"))

    report = str(tmp_path / "report.json")
    test_opts = {k: v for k, v in opts.items() if k.startswith("model.")}
    test_opts.update(unique_names())
    test_opts.update({"test_dataloader.num_workers": 0,
                      "test_dataloader.persistent_workers": False})
    load_tool("test").main([DACS_CPU, ckpt, "--out", report, "--work-dir",
                            str(tmp_path / "test"), "--cfg-options", *cli_options(test_opts)])
    result = json.loads(Path(report).read_text())
    assert result["num_images"] == 2 and "crack" in result["per_class"]
    assert result["checkpoint"] == osp.abspath(ckpt)

    # pseudo-label diagnosis on the target's (hidden) train masks
    quality = load_tool("pseudo_label_quality").main(
        [DACS_CPU, ckpt, "--split", "train.txt", "--max-images", "2", "--out",
         str(tmp_path / "quality.json"), "--cfg-options",
         *cli_options({k: v for k, v in opts.items() if k.startswith("model.segmentor")})])
    assert quality[0]["iter"] == 3 and quality[0]["teacher_steps"] == 3
    for net in ("teacher", "student"):
        scores = quality[0][net]
        assert 0 <= scores["reference_scalar_weight"] <= 1
        assert 0 <= scores["confidence_on_defect"] <= 1
    assert json.loads((tmp_path / "quality.json").read_text())[0]["tau"] == 0.968


def test_source_only_config_logs_no_target_losses(tmp_path, monkeypatch):
    data = write_uda_data(str(tmp_path / "data"))
    monkeypatch.setenv("SOURCE_ROOT", data["source"])
    monkeypatch.setenv("TARGET_ROOT", data["target"])
    work = str(tmp_path / "work")
    opts = tiny_options(iters=2, config=SOURCE_ONLY_CPU, extra=unique_names())
    opts["train_cfg.val_interval"] = 100
    load_tool("train").main([SOURCE_ONLY_CPU, "--work-dir", work, "--cfg-options",
                             *cli_options(opts)])
    log = Path(glob.glob(osp.join(work, "*", "*.log"))[0]).read_text()
    assert "src.decode.loss_ce" in log
    assert "mix." not in log and "pseudo." not in log


def _train_expecting(tmp_path, monkeypatch, source, target, match):
    monkeypatch.setenv("SOURCE_ROOT", source)
    monkeypatch.setenv("TARGET_ROOT", target)
    work = str(tmp_path / "work")
    with pytest.raises(DatasetError, match=match):
        load_tool("train").main([DACS_CPU, "--work-dir", work, "--cfg-options",
                                 *cli_options(tiny_options(iters=2, extra=unique_names()))])
    assert not glob.glob(osp.join(work, "iter_*.pth"))
    # tools/train.py builds the datasets before the Runner: no run (log, config dump) started
    assert not glob.glob(osp.join(work, "*", "*.log"))


def test_empty_target_folder_fails_before_training_naming_it(tmp_path, monkeypatch):
    data = write_uda_data(str(tmp_path / "data"))
    empty = tmp_path / "empty_target"
    (empty / "images").mkdir(parents=True)
    (empty / "masks").mkdir()
    (empty / "train.txt").write_text("")
    (empty / "test.txt").write_text("")
    _train_expecting(tmp_path, monkeypatch, data["source"], str(empty),
                     match=f"no images in '{empty / 'images'}'")


def test_source_mask_with_unknown_values_fails_before_training_naming_it(tmp_path,
                                                                         monkeypatch):
    data = write_uda_data(str(tmp_path / "data"))
    bad = osp.join(data["source"], "masks", "0002.png")
    mask = cv2.imread(bad, cv2.IMREAD_UNCHANGED)
    mask[0, 0] = 3
    cv2.imwrite(bad, mask)
    _train_expecting(tmp_path, monkeypatch, data["source"], data["target"],
                     match=f"mask '{bad}' has values \\[3\\]")
    assert os.path.isfile(bad) and np.asarray(mask).max() == 3


def _logits(label, conf, num_classes):
    """Logits whose arg-max is ``label`` with softmax maximum ``conf``."""
    label, conf = torch.as_tensor(label), torch.as_tensor(conf, dtype=torch.float64)
    rest = (1 - conf) / (num_classes - 1)
    probs = rest.unsqueeze(0).repeat(num_classes, *([1] * conf.dim()))
    probs.scatter_(0, label.unsqueeze(0), conf.unsqueeze(0))
    return probs.log().float().unsqueeze(0)  # (1, C, H, W)


def test_pseudo_label_tally_per_class_and_defect_union():
    Tally = load_tool("pseudo_label_quality").Tally
    # true:   0 0 1 1 / 2 2 2 255      pseudo: 0 1 1 2 / 2 1 0 0
    truth = torch.tensor([[0, 0, 1, 1], [2, 2, 2, 255]])
    label = torch.tensor([[0, 1, 1, 2], [2, 1, 0, 0]])
    conf = torch.tensor([[0.99, 0.6, 0.98, 0.55], [0.97, 0.9, 0.8, 0.99]])
    tally = Tally(3)
    tally.add(_logits(label, conf, 3), truth, tau=0.968)
    s = tally.summary(["bg", "pit", "crack"])
    # defect union: true defects at 5 pixels, pseudo-defect at 5 of 7 valid; both at 4
    assert s["defect_iou"] == pytest.approx(4 / 6)
    assert s["defect_precision"] == pytest.approx(4 / 5)
    assert s["defect_recall"] == pytest.approx(4 / 5)
    assert s["defect_pixels_above_tau"] == pytest.approx(2 / 5)  # 0.98, 0.97
    assert s["background_pixels_above_tau"] == pytest.approx(1 / 2)
    pit, crack = s["per_class"]["pit"], s["per_class"]["crack"]
    assert pit["iou"] == pytest.approx(1 / 4)  # hit 1; true 2, pseudo 3
    assert pit["recall"] == pytest.approx(1 / 2) and pit["precision"] == pytest.approx(1 / 3)
    assert pit["most_confused_with"] == "crack"
    assert crack["true_share"] == pytest.approx(3 / 7)
    assert crack["pseudo_share"] == pytest.approx(2 / 7)
    assert crack["confidence"] == pytest.approx((0.97 + 0.9 + 0.8) / 3, abs=1e-5)
    assert crack["above_tau"] == pytest.approx(1 / 3)
    assert s["confusion"] == [[1, 1, 0], [0, 1, 1], [1, 1, 1]]
    # two classes: the same defect-union numbers, no per-class table
    binary = Tally(2)
    binary.add(_logits((label > 0).long(), conf, 2), (truth > 0).long().masked_fill(
        truth == 255, 255), tau=0.968)
    b = binary.summary()
    assert "per_class" not in b
    assert b["defect_iou"] == pytest.approx(s["defect_iou"])
    with pytest.raises(ValueError, match="predicts 3 classes"):
        binary.add(_logits(label, conf, 3), truth, tau=0.968)
    with pytest.raises(ValueError, match="class ids up to 2"):
        binary.add(_logits((label > 0).long(), conf, 2), truth, tau=0.968)
