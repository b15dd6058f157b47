"""Shared by the tests of mmseg_uda.deploy: configs, tiny model options, coloured test images."""

import os
import os.path as osp
import subprocess
import sys

import numpy as np

from helpers import REPO, TINY_HRDA_MODEL, draw_sample

SEGFORMER = osp.join(REPO, "configs/segformer/segformer_mit-b0_4x1k_cracks-256_cpu.py")
HRDA = osp.join(REPO, "configs/hrda/hrda_daformer_mit-b0_4x1k_cracks-256_cpu.py")
# a tiny MiT for the supervised HRDA config; detail windows 32 at stride 16 and an outer
# 64x64 window at stride 32: a 64x96 image runs 2 outer windows of 3 detail windows each
TINY_HRDA = TINY_HRDA_MODEL
SIZE = (64, 96)


def _images(num=2, seed=0, size=SIZE):
    """Generated crack images with a colour cast (so that the channel order matters)."""
    rng = np.random.default_rng(seed)
    cast = np.array([0.8, 1.0, 1.2])
    return [(draw_sample(rng, size)[0] * cast).clip(0, 255).astype(np.uint8)
            for _ in range(num)]


# PIL too: the runner promises numpy, OpenCV and onnxruntime only
BLOCKED = ("torch", "torchvision", "mmengine", "mmseg", "mmcv", "timm", "PIL")
# Blocks the heavy packages (any import of them raises ImportError), then runs the runner.
BLOCK = ("import sys\n"
         f"for name in {BLOCKED!r}:\n"
         "    sys.modules[name] = None\n"
         "import runpy\n"
         "sys.argv = ['mmseg_uda.deploy.predict'] + sys.argv[1:]\n"
         "runpy.run_module('mmseg_uda.deploy.predict', run_name='__main__')\n")


def run_blocked(args, cwd):
    """``python -m mmseg_uda.deploy.predict ARGS`` in a process where torch & co. cannot be
    imported."""
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-c", BLOCK, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)
