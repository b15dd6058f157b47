"""Shared by the tests of the inspection tools (test report, predict, calibrate, domain gap).

:func:`tiny_run` trains the CPU SegFormer config, shrunk to :data:`helpers.TINY_MODEL`, for two
iterations on a generated crack set with ``tools/train.py`` (in-process) — once per test
session — and returns what the tools need to run on it.
"""

from __future__ import annotations

import importlib.util
import os
import os.path as osp
import subprocess
import sys
from typing import Dict, List, Optional

import torch

from helpers import REPO, TINY_MODEL, cfg_options, write_dataset

CONFIG = osp.join(REPO, "configs/segformer/segformer_mit-b0_4x1k_cracks-256_cpu.py")
_RUN: Dict[str, object] = {}


def load_tool(name: str):
    """Import ``tools/<name>.py`` as a module (to call its ``main(argv)`` in-process)."""
    spec = importlib.util.spec_from_file_location(f"mmseg_uda_tool_{name}",
                                                  osp.join(REPO, "tools", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def data_options(data_root: str) -> dict:
    """Point every dataloader of the config at ``data_root`` and keep workers in-process."""
    opts = {}
    for loader in ("train_dataloader", "val_dataloader", "test_dataloader"):
        opts[f"{loader}.dataset.data_root"] = data_root
        opts[f"{loader}.num_workers"] = 0
        opts[f"{loader}.persistent_workers"] = False
    return opts


def tiny_run(tmp_path_factory) -> dict:
    """``{config, checkpoint, data_root, model_options}`` of a 2-iteration tiny training run.

    ``model_options`` are the ``--cfg-options`` arguments that shrink the model (every tool
    needs them with this config); the checkpoint is trained on 64x64 images (9: 6 train,
    3 test) of :func:`helpers.write_dataset`.
    """
    if not _RUN:
        root = tmp_path_factory.mktemp("tiny_run")
        data_root = write_dataset(str(root / "data"), num=9, size=(64, 64))
        train_opts = dict(data_options(data_root))
        train_opts.update({
            "train_cfg.max_iters": 2, "train_cfg.val_interval": 2,
            "param_scheduler.0.end": 1, "param_scheduler.1.begin": 1,
            "train_dataloader.batch_size": 2, "model.data_preprocessor.size": [64, 64],
            "train_dataloader.dataset.pipeline.3.crop_size": 64,
            "default_hooks.checkpoint.interval": 2, "default_hooks.logger.interval": 1,
        })
        work_dir = str(root / "work")
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # tiny model: OpenMP threads only contend on a busy machine
        try:
            load_tool("train").main([CONFIG, "--work-dir", work_dir, "--cfg-options",
                                     *cfg_options(train_opts)])
        finally:
            torch.set_num_threads(threads)
        checkpoint = osp.join(work_dir, "iter_2.pth")
        assert osp.isfile(checkpoint), f"training did not write {checkpoint}"
        _RUN.update(config=CONFIG, checkpoint=checkpoint, data_root=data_root,
                    model_options=cfg_options(), data_options=cfg_options(
                        data_options(data_root)))
    return dict(_RUN)


def run_tool(name: str, args: List[str], cwd: Optional[str] = None,
             timeout: int = 300) -> subprocess.CompletedProcess:
    """Run ``python tools/<name>.py ARGS`` in a subprocess (the command line a user types)."""
    return subprocess.run([sys.executable, osp.join(REPO, "tools", f"{name}.py"), *args],
                          capture_output=True, text=True, cwd=cwd or REPO, timeout=timeout,
                          env=_env())


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    # One OpenMP thread: the tiny models gain nothing from more, and on a shared 2-core
    # machine spinning threads made these runs 4x slower.
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


__all__ = ["CONFIG", "TINY_MODEL", "data_options", "load_tool", "run_tool", "tiny_run"]
