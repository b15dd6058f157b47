"""tools/eval_generator.py: argument checks and a tiny ablation end to end."""

import json
import os.path as osp
import subprocess
import sys

import pytest
from test_uda.uda_testing import SOURCE_ONLY_CPU, cli_options, tiny_options

from helpers import REPO

sys.path.insert(0, osp.join(REPO, "tools"))
import eval_generator  # noqa: E402


@pytest.mark.parametrize("args, message", [
    (["--num", "0"], "must be positive"),
    (["--iters", "-1"], "must be positive"),
    (["--target", "/nonexistent/cfd"], "target dataset not found"),
    (["--ablate", "no_texture,no_such_feature"], "no_such_feature"),
    (["--ablate", "no_rims+no_such_feature"], "no_such_feature"),
    (["--style", "no_such_style"], "unknown style 'no_such_style'"),
    (["--enable", "rimz"], "unknown feature 'rimz' to enable"),
])
def test_bad_arguments_fail_before_any_work(tmp_path, args, message):
    argv = ["--target", str(tmp_path), "--work-dir", str(tmp_path / "w"), *args]
    with pytest.raises(SystemExit, match=message):
        eval_generator.main(argv)
    assert not osp.exists(tmp_path / "w")


@pytest.mark.slow
def test_tiny_ablation_table(tmp_path):
    target = tmp_path / "target"
    subprocess.run([sys.executable, "-m", "synthetic", "generate", "--type", "crack",
                    "--num", "6", "--size", "64", "--seed", "3", "--style", "field",
                    "--out", str(target), "--quiet"], cwd=REPO, check=True)
    work = tmp_path / "work"
    opts = cli_options(tiny_options(crop=64, iters=2, config=SOURCE_ONLY_CPU))
    eval_generator.main([
        "--target", str(target), "--num", "6", "--size", "64", "--iters", "2",
        "--ablate", "no_distractors+no_occlusion,no_rims+no_jagged", "--work-dir", str(work),
        "--cfg-options", *opts,
        "val_dataloader.dataset.split=val.txt", "test_dataloader.dataset.split=val.txt"])
    table = (work / "ablation.md").read_text()
    assert "| full |" in table
    assert "| no_distractors+no_occlusion | distractors, occlusion |" in table
    with open(work / "ablation.json") as f:
        result = json.load(f)
    # rims and jagged are already off in the default style (pavement): nothing to ablate
    assert result["variants"] == {"full": [],
                                  "no_distractors+no_occlusion": ["distractors", "occlusion"]}
    assert "no_rims+no_jagged" not in table
    assert result["results"]["methods"]["no_distractors+no_occlusion"]["IoU"][0] is not None
    # false alarms on defect-free tiles, from each run's test report
    assert "false-alarm tiles %" in table.splitlines()[0]
    fa = result["results"]["methods"]["full"]["tile_false_alarm"][0]
    assert fa is None or 0.0 <= fa <= 100.0
    with open(work / "full" / "seed0" / "report.json") as f:
        assert json.load(f)["tile_level"]["tile_px"] == 64
    # Each variant trains on its own generated set, which records what was switched off;
    # no shared source set is generated.
    with open(work / "sources" / "no_distractors+no_occlusion" / "meta.json") as f:
        assert json.load(f)["args"]["disable"] == ["distractors", "occlusion"]
    assert not osp.exists(work / "source_data")
