"""Benchmark files: their methods' configs exist and their options fit those configs."""

import glob
import os.path as osp
import sys

import pytest
from mmengine.config import Config

from helpers import REPO
from mmseg_uda.utils import load_config

sys.path.insert(0, osp.join(REPO, "tools"))
import benchmark_adaptation as ba  # noqa: E402

FILES = sorted(glob.glob(osp.join(REPO, "configs", "benchmarks", "*.py")))


def _options(items):
    """``KEY=VALUE`` strings parsed as ``--cfg-options`` parses them (tuples, lists, numbers)."""
    import argparse

    from mmengine.config import DictAction

    parser = argparse.ArgumentParser()
    parser.add_argument("--cfg-options", nargs="+", action=DictAction, default={})
    return parser.parse_args(["--cfg-options", *items] if items else []).cfg_options


@pytest.mark.parametrize("path", FILES, ids=[osp.basename(p) for p in FILES])
def test_benchmark_file_methods_and_options(path):
    bench = Config.fromfile(path)
    for key in ("methods", "seeds", "budget", "target"):
        assert key in bench, f"{path}: missing {key}"
    max_iters = bench.budget["max_iters"]
    for name, spec in bench.methods.items():
        spec = ba.method_spec(name, spec)
        opts = {**_options(bench.get("cfg_options", [])), **_options(spec["cfg_options"])}
        # Raises on a misspelt key, and on a schedule longer than the budget.
        cfg = load_config(osp.join(REPO, spec["config"]), opts)
        for sched in cfg.param_scheduler:
            assert int(str(sched.get("begin", 0))) < max_iters, (name, sched)
        model = cfg.model
        if model.get("type") == "DACS" and not model.get("source_only", False):
            # The EMA teacher must follow the student within the budget: a horizon of
            # 1/(1 - alpha) iterations at most half the run (0.999 would average every
            # student since the random initialisation in a 400-iteration run).
            horizon = 1.0 / (1.0 - model.alpha)
            assert horizon <= max_iters / 2, (name, model.alpha, max_iters)
