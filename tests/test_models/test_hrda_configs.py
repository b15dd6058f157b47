"""Every HRDA/DAFormer config loads and builds its model; the supervised HRDA config trains
and tests end to end through tools/train.py and tools/test.py."""

import json
import os.path as osp
import sys

import pytest
from mmengine.config import Config
from mmseg.registry import MODELS

from helpers import REPO, TINY_HRDA_MODEL, cfg_options, write_dataset

sys.path.insert(0, REPO)

from mmseg_uda.models import DAFormerHead, HRDAEncoderDecoder  # noqa: E402
from tools import test as test_tool  # noqa: E402
from tools import train as train_tool  # noqa: E402

MODEL_CONFIGS = {
    "configs/_base_/models/daformer_mit_b5.py": DAFormerHead,
    "configs/_base_/models/hrda_daformer_mit_b5.py": HRDAEncoderDecoder,
    "configs/hrda/hrda_daformer_mit-b0_4x1k_cracks-256_cpu.py": HRDAEncoderDecoder,
}


@pytest.mark.parametrize("path", sorted(MODEL_CONFIGS))
def test_config_loads_and_builds(path):
    cfg = Config.fromfile(osp.join(REPO, path))
    model = MODELS.build(cfg.model)
    expected = MODEL_CONFIGS[path]
    assert isinstance(model.decode_head if expected is DAFormerHead else model, expected)
    if isinstance(model, HRDAEncoderDecoder):
        assert model.divisor == 8 and model.batch_crops


# a tiny MiT and 64x64 crops: context 32x32 + detail 32x32 in one pass
TINY_HRDA = {**TINY_HRDA_MODEL, "model.data_preprocessor.size": [64, 64]}
FAST_RUN = {
    "train_cfg.max_iters": 3, "train_cfg.val_interval": 3,
    "default_hooks.checkpoint.interval": 3, "default_hooks.logger.interval": 1,
    "param_scheduler.0.end": 1, "param_scheduler.1.begin": 1,
    "train_dataloader.batch_size": 2, "train_dataloader.num_workers": 0,
    "train_dataloader.persistent_workers": False, "val_dataloader.num_workers": 0,
    "val_dataloader.persistent_workers": False, "test_dataloader.num_workers": 0,
    "test_dataloader.persistent_workers": False,
}


@pytest.mark.slow
def test_supervised_hrda_trains_and_tests_through_the_tools(tmp_path, monkeypatch, capsys):
    data = write_dataset(str(tmp_path / "data"), num=6, size=(80, 72))
    monkeypatch.setenv("DATA_ROOT", data)
    config = osp.join(REPO, "configs/hrda/hrda_daformer_mit-b0_4x1k_cracks-256_cpu.py")
    work = str(tmp_path / "work")
    opts = cfg_options({**TINY_HRDA, **FAST_RUN}, tiny=False)
    opts.append("train_dataloader.dataset.pipeline.3.crop_size=(64,64)")  # RandomCrop: tuple
    train_tool.main([config, "--work-dir", work, "--cfg-options", *opts])
    ckpt = osp.join(work, "iter_3.pth")
    assert osp.isfile(ckpt)
    report = str(tmp_path / "report.json")
    test_tool.main([config, ckpt, "--work-dir", str(tmp_path / "test"), "--out", report,
                    "--cfg-options", *opts])
    assert "[tools/test.py] aAcc:" in capsys.readouterr().out
    with open(report) as f:
        metrics = json.load(f)
    assert set(metrics["per_class"]) == {"background", "crack"}
    assert 0.0 <= metrics["mIoU"] <= 100.0
