"""Two-process CPU DDP (gloo) through tools/train.py --launcher pytorch with DACS."""

import glob
import os
import os.path as osp
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from test_uda.uda_testing import DACS_CPU, REPO, cli_options, tiny_options, write_uda_data

ITERS = 4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_rank_dacs_losses_on_both_ranks_and_identical_teachers(tmp_path):
    data = write_uda_data(str(tmp_path / "data"), num_source=10, num_target=8)
    work = str(tmp_path / "work")
    opts = tiny_options(iters=ITERS, extra={
        # DEBUG makes MMEngine keep one log file per rank (rank 0 alone otherwise).
        "log_level": "DEBUG",
        "train_cfg.val_interval": 100,
        "default_hooks.checkpoint.interval": 100,
        "custom_hooks.0.interval": 100,
        # Check the teacher checksums across ranks every 2 iterations (strict: a difference
        # fails the run) and save each rank's teacher after training for an exact comparison.
        "custom_hooks.1.interval": 2,
        "custom_hooks.1.strict": True,
        "custom_hooks.1.save_dir": "ranks",
    })
    env = dict(os.environ, SOURCE_ROOT=data["source"], TARGET_ROOT=data["target"],
               OMP_NUM_THREADS="1", PYTHONPATH=REPO, CUDA_VISIBLE_DEVICES="")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
           f"--master_port={free_port()}", osp.join(REPO, "tools", "train.py"), DACS_CPU,
           "--launcher", "pytorch", "--work-dir", work, "--cfg-options", *cli_options(opts)]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]

    logs = sorted(glob.glob(osp.join(work, "*", "*rank*.log")))
    assert [osp.basename(p).split("rank")[-1] for p in logs] == ["0.log", "1.log"], logs
    for path in logs:
        text = Path(path).read_text()
        lines = [line for line in text.splitlines() if "Iter(train)" in line]
        assert len(lines) == ITERS, path
        for key in ("src.decode.loss_ce", "mix.decode.loss_ce", "pseudo.weight"):
            assert all(key in line for line in lines), (path, key)
        assert "Distributed training: True" in text and "MMDistributedDataParallel" in text
    rank0_log = Path(logs[0]).read_text()
    for it in (2, ITERS):
        assert f"over 2 ranks after iteration {it}: max checksum difference 0\n" in rank0_log

    states = [torch.load(osp.join(work, "ranks", f"state_rank{r}.pth"), weights_only=True)
              for r in range(2)]
    params = [s["parameters"] for s in states]
    buffers = [s["buffers"] for s in states]
    assert int(buffers[0]["teacher.steps"]) == int(buffers[1]["teacher.steps"]) == ITERS
    # Every teacher parameter is bit-identical on both ranks. (The BN running statistics are
    # buffers copied from each rank's student; with broadcast_buffers=False, which
    # tools/train.py sets on CPU, they are per-rank like the student's.)
    assert params[0].keys() == params[1].keys() and len(params[0]) > 50
    assert all(k.startswith("teacher.module.") for k in params[0])
    for key in params[0]:
        assert torch.equal(params[0][key], params[1][key]), key
