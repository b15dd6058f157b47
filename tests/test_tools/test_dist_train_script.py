"""tools/dist_train.sh: two processes (gloo on CPU) through torchrun and --launcher pytorch."""

import os
import os.path as osp
import socket
import subprocess
import sys

import pytest
import torch

from helpers import CPU_CONFIG as CONFIG
from helpers import FAST_RUN as FAST
from helpers import REPO, cfg_options


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_dist_train_two_processes(tmp_path, crack_dataset):
    work = str(tmp_path / "ddp")
    env = dict(os.environ, DATA_ROOT=crack_dataset, PYTHON=sys.executable, PORT=str(free_port()),
               OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    opts = cfg_options({**FAST, "train_cfg.max_iters": 4, "default_hooks.checkpoint.interval": 4})
    proc = subprocess.run(["bash", osp.join(REPO, "tools", "dist_train.sh"), CONFIG, "2",
                           "--work-dir", work, "--cfg-options", *opts], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert "Distributed training is not used" not in log
    assert "world_size: 2" in log or "Distributed launcher: pytorch" in log
    ckpt = torch.load(osp.join(work, "iter_4.pth"), weights_only=False)
    assert ckpt["meta"]["iter"] == 4
    # DDP wraps the model; the checkpoint must hold plain module keys (resumable on 1 process)
    assert all(not k.startswith("module.") for k in ckpt["state_dict"])
