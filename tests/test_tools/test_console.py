"""The console of training and testing: progress with ETA from the first iteration, and the
stack's known harmless messages filtered (the rest kept)."""

import logging
import os.path as osp

import pytest

from helpers import cfg_options, write_dataset
from mmseg_uda.engine.hooks.progress_hook import KnownNoiseFilter
from reports_helpers import CONFIG, data_options, run_tool

NOISE = ("paramwise_options --", "For binary segmentation", "would be deprecated soon",
         "The prefix is not set", '"FileClient" will be deprecated', "The draw is False")


@pytest.mark.slow  # two tool runs in subprocesses (~40 s on the shared 2-core VM)
def test_train_and_test_show_progress_early_and_no_known_noise(tmp_path):
    data = write_dataset(str(tmp_path / "data"), num=9, size=(64, 64))
    opts = cfg_options({**data_options(data), "train_cfg.max_iters": 6,
                        "train_cfg.val_interval": 6, "param_scheduler.0.end": 1,
                        "param_scheduler.1.begin": 1, "train_dataloader.batch_size": 2,
                        "model.data_preprocessor.size": [64, 64],
                        "train_dataloader.dataset.pipeline.3.crop_size": 64,
                        "default_hooks.logger.interval": 50})
    work = str(tmp_path / "w")
    res = run_tool("train", [CONFIG, "--work-dir", work, "--cfg-options", *opts])
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    assert "Iter(train) [1/6]  eta: " in out and "(the log's first line follows at" in out
    assert "Iter(train) [2/6]" in out and "Iter(train) [5/6]" in out
    for noise in NOISE:
        assert noise not in out, noise
    assert "Iter(val) [1/3]  eta: " in out
    res = run_tool("test", [CONFIG, osp.join(work, "iter_6.pth"), "--work-dir",
                            str(tmp_path / "t"), "--cfg-options", *opts])
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    assert "Iter(test) [1/3]  eta: " in out and "Iter(test) [2/3]" in out
    for noise in NOISE:
        assert noise not in out, noise


def test_noise_filter_is_targeted():
    keep = KnownNoiseFilter()

    def record(msg):
        return logging.LogRecord("mmengine", logging.INFO, __file__, 1, msg, None, None)

    assert not keep.filter(record("paramwise_options -- backbone.x:lr=6e-05"))
    assert not keep.filter(record("The prefix is not set in metric class DefectMetric."))
    assert keep.filter(record("The prefix of the dataset is wrong"))  # not a known message
    assert keep.filter(record("Iter(train) [1/6] loss: 0.7 paramwise_options -- nothing"))
