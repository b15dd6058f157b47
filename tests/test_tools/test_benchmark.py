"""tools/benchmark.py runs both modes of a tiny HRDA config on the CPU and reports them."""

import json
import os.path as osp
import sys

import pytest

from helpers import REPO, cfg_options

sys.path.insert(0, REPO)

from test_models.test_hrda_configs import TINY_HRDA as TINY  # noqa: E402

from tools import benchmark  # noqa: E402

CONFIG = osp.join(REPO, "configs/hrda/hrda_daformer_mit-b0_4x1k_cracks-256_cpu.py")


def test_both_modes_are_timed_and_compared(tmp_path, capsys):
    out = str(tmp_path / "bench.json")
    result = benchmark.main([CONFIG, "--device", "cpu", "--crop", "64", "64", "--infer-size",
                             "64", "128", "--iters", "1", "--warmup", "1", "--out", out,
                             "--cfg-options", *cfg_options(TINY, tiny=False)])
    printed = capsys.readouterr().out
    assert "speed-up of fast over reference, training" in printed
    assert "| reference |" in printed and "| fast |" in printed
    with open(out) as f:
        saved = json.load(f)
    assert saved["results"] == json.loads(json.dumps(result["results"]))
    for mode in ("reference", "fast"):
        r = saved["results"][mode]
        assert r["train_s_per_iter"] > 0 and r["infer_s_per_image"] > 0
        assert r["train_images_per_s"] == pytest.approx(4 / r["train_s_per_iter"])
        assert r["train_peak_mem_gib"] is None  # measured on CUDA only
    assert saved["settings"]["crop"] == [64, 64] and saved["environment"]["torch"]


def test_interleaved_modes_alternate_in_one_build(capsys):
    result = benchmark.main([CONFIG, "--device", "cpu", "--crop", "64", "64", "--iters", "1",
                             "--warmup", "0", "--interleave", "--no-infer", "--cfg-options",
                             *cfg_options(TINY, tiny=False)])
    for mode in ("reference", "fast"):
        assert result["results"][mode]["train_s_per_iter"] > 0
        assert "infer_s_per_image" not in result["results"][mode]
    assert result["settings"]["interleave"] is True
    assert "speed-up of fast over reference, training" in capsys.readouterr().out


def test_refuses_amp_on_cpu_and_non_hrda_configs(capsys):
    with pytest.raises(SystemExit):
        benchmark.main([CONFIG, "--device", "cpu", "--amp"])
    assert "--amp needs --device cuda" in capsys.readouterr().err
    plain = osp.join(REPO, "configs/segformer/segformer_mit-b0_4x1k_cracks-256_cpu.py")
    with pytest.raises(SystemExit, match="must be an HRDAEncoderDecoder"):
        benchmark.main([plain, "--device", "cpu", "--iters", "1"])
