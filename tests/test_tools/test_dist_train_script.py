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


def test_finish_distributed_destroys_the_process_group(tmp_path):
    """Ranks leave no gloo group behind for interpreter shutdown (the cause of a SIGABRT on
    rank 0 after a finished run); outside torchrun it does nothing."""
    script = (
        "import torch.distributed as dist\n"
        "from mmseg_uda.utils import finish_distributed\n"
        "finish_distributed()\n"
        f"dist.init_process_group('gloo', init_method='file://{tmp_path / 'store'}', "
        "rank=0, world_size=1)\n"
        "assert dist.is_initialized()\n"
        "finish_distributed()\n"
        "assert not dist.is_initialized()\n"
        "print('destroyed')\n")
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0 and "destroyed" in proc.stdout, proc.stderr[-2000:]
