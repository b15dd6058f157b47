"""tools/test.py --out / --md / --per-image-csv on a tiny trained checkpoint."""

import csv
import json
import os.path as osp

import pytest

from helpers import REPO, cfg_options
from mmseg_uda.utils import CheckpointError
from reports_helpers import load_tool, run_tool, tiny_run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return tiny_run(tmp_path_factory)


def test_report_files_end_to_end(run, tmp_path):
    out = tmp_path / "rep" / "report.json"
    res = run_tool("test", [run["config"], run["checkpoint"], "--work-dir", str(tmp_path / "w"),
                            "--out", str(out), "--per-image-csv", str(tmp_path / "img.csv"),
                            "--tolerance-px", "3", "--tolerances", "0", "1",
                            "--verdict-min-area", "4", "--tile-size", "16", "--cfg-options",
                            *run["model_options"], *run["data_options"]])
    assert res.returncode == 0, res.stderr[-3000:]
    assert "mTolerantF1" in res.stdout
    report = json.loads(out.read_text())
    for key in ("mIoU", "aAcc", "mF1", "mDice", "mTolerantF1", "image_level",
                "confusion_matrix", "confusion_matrix_normalized"):
        assert key in report
    crack = report["per_class"]["crack"]
    assert {"IoU", "precision", "recall", "F1", "Dice", "tolerant", "tolerant_by_px"} <= set(crack)
    assert crack["tolerant"]["tolerance_px"] == 3 and report["tolerances"] == [0, 1, 3]
    assert crack["tolerant_by_px"]["0"]["precision"] == crack["precision"]
    # tolerance can only help
    f1s = [crack["tolerant_by_px"][k]["F1"] for k in ("0", "1", "3")]
    assert f1s == sorted(f1s)
    assert report["image_level"]["min_area_px"] == 4
    tiles = report["tile_level"]
    assert tiles["tile_px"] == 16 and tiles["min_area_px"] == 4
    assert tiles["num_ok"] + tiles["num_defective"] > 0
    assert report["num_images"] == 3 and report["checkpoint"].endswith("iter_2.pth")
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "# Defect segmentation report" in md and "| crack |" in md
    with open(tmp_path / "img.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 and "tolF1@3px_crack" in rows[0] and "false_alarm_tiles" in rows[0]
    assert {r["gt_verdict"] for r in rows} <= {"OK", "defect"}


def test_report_flag_errors(run, tmp_path):
    test = load_tool("test")
    base = [run["config"], run["checkpoint"], "--cfg-options", *run["model_options"]]
    with pytest.raises(SystemExit, match="is a folder"):
        test.main(base[:2] + ["--out", str(tmp_path)] + base[2:])
    with pytest.raises(SystemExit, match="would overwrite the JSON report"):
        test.main(base[:2] + ["--out", str(tmp_path / "r.json"), "--md",
                              str(tmp_path / "r.json")] + base[2:])
    with pytest.raises(CheckpointError, match="checkpoint file not found"):
        test.main([run["config"], str(tmp_path / "missing.pth"), "--out", "x.json"])


def test_show_dir_writes_a_titled_picture_per_image(run, tmp_path):
    """--show-dir: one image | truth | prediction picture per test image, without the
    training data (the train loader points at a folder that does not exist)."""
    import cv2

    show = tmp_path / "show"
    options = [o for o in run["data_options"] if not o.startswith("train_dataloader.")]
    load_tool("test").main([run["config"], run["checkpoint"], "--work-dir", str(tmp_path / "w"),
                            "--show-dir", str(show), "--cfg-options", *run["model_options"],
                            *options, f"train_dataloader.dataset.data_root={tmp_path / 'none'}"])
    pictures = sorted(show.glob("*.png"))
    assert len(pictures) == 3  # every test image, named after it
    with open(f"{run['data_root']}/test.txt") as f:
        stems = sorted(line.split()[0] for line in f if line.strip())
    assert [p.stem for p in pictures] == stems
    picture = cv2.imread(str(pictures[0]))
    assert picture.shape[1] == 3 * 64 + 2 * 4  # image | truth | prediction, 4-px gaps
    assert picture.shape[0] > 64  # a title strip above the images
    strip = picture[:picture.shape[0] - 64]
    assert 0.5 < (strip == 255).mean() < 1.0  # a white strip with the titles written on it
    with pytest.raises(SystemExit, match="--show-dir is a file"):
        load_tool("test").main([run["config"], run["checkpoint"], "--show-dir",
                                run["checkpoint"]])


def test_show_dir_of_a_uda_config_needs_neither_source_nor_train_split(tmp_path, monkeypatch):
    """The stock DACS config tested on a target folder with images, masks and test.txt only;
    SOURCE_ROOT names a folder that does not exist."""
    import torch

    from helpers import write_dataset
    from mmseg_uda.apis import init_model

    target = write_dataset(str(tmp_path / "target"), num=2, size=(64, 64),
                           splits={"test.txt": range(2)})
    monkeypatch.setenv("SOURCE_ROOT", str(tmp_path / "no_source"))
    monkeypatch.setenv("TARGET_ROOT", target)
    config = osp.join(REPO, "configs", "dacs_cracks_cpu.py")
    tiny = {"model.segmentor.backbone.embed_dims": 8,
            "model.segmentor.backbone.num_layers": [1, 1, 1, 1],
            "model.segmentor.decode_head.in_channels": [8, 16, 40, 64],
            "model.segmentor.decode_head.channels": 16}
    checkpoint = str(tmp_path / "dacs.pth")
    torch.save({"state_dict": init_model(config, None, cfg_options=tiny).state_dict(),
                "meta": {}}, checkpoint)
    show = tmp_path / "show"
    load_tool("test").main([config, checkpoint, "--work-dir", str(tmp_path / "w"), "--show-dir",
                            str(show), "--cfg-options", *cfg_options(
                                {**tiny, "test_dataloader.num_workers": 0,
                                 "test_dataloader.persistent_workers": False}, tiny=False)])
    assert sorted(p.name for p in show.glob("*.png")) == ["0000.png", "0001.png"]
