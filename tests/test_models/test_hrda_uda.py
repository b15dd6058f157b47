"""The HRDA top configs on the UDA core (DACS): they build, and train + test end to end."""

import glob
import json
import os.path as osp
import sys
import uuid
from pathlib import Path

import pytest
from mmengine.config import Config
from mmseg.registry import MODELS
from test_uda.uda_testing import cli_options, write_uda_data

from helpers import REPO
from mmseg_uda.models import DACS, HRDAEncoderDecoder, MixVisionTransformerSDPA

sys.path.insert(0, REPO)

from tools import test as test_tool  # noqa: E402
from tools import train as train_tool  # noqa: E402

HEADLINE = osp.join(REPO, "configs", "hrda_cracks.py")
CPU = osp.join(REPO, "configs", "hrda_cracks_cpu.py")
MAGNETIC = osp.join(REPO, "configs", "hrda_magnetic_tile.py")


def test_headline_is_dacs_around_hrda_on_pretrained_mit_b5():
    cfg = Config.fromfile(HEADLINE)
    seg = cfg.model.segmentor
    assert cfg.model.type == "DACS" and seg.type == "HRDAEncoderDecoder"
    assert seg.backbone.num_layers == [3, 6, 40, 3]
    assert seg.backbone.init_cfg.type == "MiTPretrained"
    assert seg.decode_head.decoder.type == "DAFormerHead"
    assert seg.decode_head.attention_decoder.fusion == "conv"
    assert cfg.model.data_preprocessor.size == (1024, 1024)
    assert cfg.train_dataloader.batch_size == 2
    model = MODELS.build(cfg.model)
    assert isinstance(model, DACS) and isinstance(model.student, HRDAEncoderDecoder)
    assert isinstance(model.student.backbone, MixVisionTransformerSDPA)
    assert model.student.detail_crop_size == (512, 512) and model.student.divisor == 8


def test_cpu_and_magnetic_tile_configs_build(monkeypatch):
    model = MODELS.build(Config.fromfile(CPU).model)
    assert model.student.backbone.init_cfg is None  # from scratch on the CPU
    assert model.student.detail_crop_size == (128, 128)
    monkeypatch.setenv("MT_ROOT", "/data/mt")
    monkeypatch.setenv("MT_TARGET_ROOT", "/data/line_photos")
    cfg = Config.fromfile(MAGNETIC)
    data = cfg.train_dataloader.dataset
    assert data.source.data_root == "data/synthetic_magnetic_tile"  # MT_SOURCE_ROOT not set
    assert data.target.data_root == "/data/line_photos" and not data.target.with_masks
    assert cfg.test_dataloader.dataset.data_root == "/data/mt"
    assert len(cfg.test_dataloader.dataset.metainfo.classes) == 6
    assert data.rare_class_sampling == dict(temperature=0.01)
    student = MODELS.build(cfg.model).student
    assert student.num_classes == 6 and student.decode_head.attention_decoder.out_channels == 6


def tiny_hrda_options(crop=64, iters=3, extra=None, daformer=False):
    """Shrink an HRDA UDA config: tiny MiT from scratch, 64 crops, a few iterations.

    ``daformer``: the config's decoders are DAFormer heads (the GPU configs) rather than the
    SegFormer MLP heads of hrda_cracks_cpu.py (which have no ``embed_dims``).
    """
    opts = {
        "model.segmentor.backbone.embed_dims": 8,
        "model.segmentor.backbone.num_layers": [1, 1, 1, 1],
        "model.segmentor.backbone.init_cfg": None,
        "model.data_preprocessor.size": (crop, crop),
        "model.segmentor.detail_crop_size": (32, 32),
        "model.segmentor.detail_stride": (16, 16),
        "model.segmentor.test_cfg.crop_size": (crop, crop),
        "model.segmentor.test_cfg.stride": (32, 32),
        "train_dataloader.dataset.source.pipeline.3.crop_size": (crop, crop),
        "train_dataloader.dataset.target.pipeline.1.crop_size": (crop, crop),
        "train_cfg.max_iters": iters, "train_cfg.val_interval": iters,
        "param_scheduler.0.end": 1, "param_scheduler.1.begin": 1,
        "default_hooks.logger.interval": 1, "default_hooks.checkpoint.interval": iters,
        "train_dataloader.num_workers": 0, "train_dataloader.persistent_workers": False,
        "val_dataloader.num_workers": 0, "val_dataloader.persistent_workers": False,
        "test_dataloader.num_workers": 0, "test_dataloader.persistent_workers": False,
        "custom_hooks.0.interval": 2,
    }
    for head in ("decoder", "attention_decoder"):
        opts[f"model.segmentor.decode_head.{head}.in_channels"] = [8, 16, 40, 64]
        if daformer:
            opts[f"model.segmentor.decode_head.{head}.embed_dims"] = 16
        opts[f"model.segmentor.decode_head.{head}.channels"] = 16
    name = f"hrda_uda_{uuid.uuid4().hex[:8]}"  # logger/visualizer are per-name singletons
    opts.update({"experiment_name": name, "visualizer.name": name})
    opts.update(extra or {})
    return opts


@pytest.mark.slow
def test_hrda_cracks_cpu_trains_through_dacs_and_tests(tmp_path, monkeypatch, capsys):
    data = write_uda_data(str(tmp_path / "data"))
    monkeypatch.setenv("SOURCE_ROOT", data["source"])
    monkeypatch.setenv("TARGET_ROOT", data["target"])
    work = str(tmp_path / "work")
    opts = tiny_hrda_options()
    train_tool.main([CPU, "--work-dir", work, "--cfg-options", *cli_options(opts)])
    log = Path(glob.glob(osp.join(work, "*", "*.log"))[0]).read_text()
    for key in ("src.decode.loss_ce", "src.detail.loss_ce", "mix.decode.loss_ce",
                "mix.detail.loss_ce", "pseudo.weight", "IoU.crack"):
        assert key in log, key
    assert glob.glob(osp.join(work, "*", "vis_data", "vis_image", "uda_debug_*.png"))

    report = str(tmp_path / "report.json")
    test_opts = {k: v for k, v in opts.items() if k.startswith(("model.", "test_dataloader"))}
    test_tool.main([CPU, osp.join(work, "iter_3.pth"), "--out", report, "--work-dir",
                    str(tmp_path / "test"), "--cfg-options", *cli_options(test_opts)])
    assert "[tools/test.py] aAcc:" in capsys.readouterr().out
    result = json.loads(Path(report).read_text())
    assert result["num_images"] == 2 and set(result["per_class"]) == {"background", "crack"}


@pytest.mark.slow
def test_hrda_magnetic_tile_trains_six_classes(tmp_path, monkeypatch):
    data = write_uda_data(str(tmp_path / "data"), num_classes=6)
    monkeypatch.setenv("MT_SOURCE_ROOT", data["source"])
    monkeypatch.setenv("MT_TARGET_ROOT", data["target"])
    monkeypatch.setenv("MT_ROOT", data["target"])
    work = str(tmp_path / "work")
    opts = tiny_hrda_options(iters=2, extra={"train_dataloader.batch_size": 2}, daformer=True)
    train_tool.main([MAGNETIC, "--work-dir", work, "--cfg-options", *cli_options(opts)])
    log = Path(glob.glob(osp.join(work, "*", "*.log"))[0]).read_text()
    assert "mix.detail.loss_ce" in log and "IoU.uneven" in log
    assert osp.isfile(osp.join(work, "iter_2.pth"))
