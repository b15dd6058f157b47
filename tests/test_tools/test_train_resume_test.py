"""tools/train.py -> checkpoint -> --resume -> tools/test.py --out, through the real Runner."""

import glob
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from helpers import CPU_CONFIG as CONFIG
from helpers import FAST_RUN as FAST
from helpers import REPO, cfg_options


def run_tool(tool, *args, data_root, check=True):
    env = dict(os.environ, DATA_ROOT=data_root, PYTHONWARNINGS="ignore")
    proc = subprocess.run([sys.executable, osp.join(REPO, "tools", tool), *args], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"{tool} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def train(work_dir, data_root, max_iters, *extra):
    opts = cfg_options({**FAST, "train_cfg.max_iters": max_iters})
    return run_tool("train.py", CONFIG, "--work-dir", work_dir, *extra, "--cfg-options", *opts,
                    data_root=data_root)


def logged(work_dir, key):
    """{iteration: value} of a scalar over every run logged in work_dir."""
    values = {}
    for path in glob.glob(osp.join(work_dir, "*", "vis_data", "scalars.json")):
        with open(path) as f:
            for line in f:
                row = json.loads(line)
                if key in row and "iter" in row:
                    values[row["iter"]] = row[key]
    return values


@pytest.mark.slow
def test_train_resume_and_test(tmp_path, crack_dataset):
    work = str(tmp_path / "run")
    train(work, crack_dataset, 6)
    lr_straight = logged(work, "lr")
    ckpt = torch.load(osp.join(work, "iter_3.pth"), weights_only=False)
    assert ckpt["meta"]["iter"] == 3

    # Simulate a run interrupted right after its iteration-3 checkpoint.
    os.remove(osp.join(work, "iter_6.pth"))
    with open(osp.join(work, "last_checkpoint"), "w") as f:
        f.write(osp.join(work, "iter_3.pth"))
    for log_dir in glob.glob(osp.join(work, "2*")):
        os.rename(log_dir, osp.join(tmp_path, "first_run_logs"))

    # without --resume the tool refuses to overwrite the earlier run's checkpoints
    proc = run_tool("train.py", CONFIG, "--work-dir", work, "--cfg-options",
                    *cfg_options({**FAST, "train_cfg.max_iters": 6}), data_root=crack_dataset,
                    check=False)
    assert proc.returncode != 0 and "already holds checkpoints" in proc.stderr + proc.stdout

    out = train(work, crack_dataset, 6, "--resume")
    assert "resumed epoch: 0, iter: 3" in out.stdout + out.stderr
    final = torch.load(osp.join(work, "iter_6.pth"), weights_only=False)
    assert final["meta"]["iter"] == 6
    # the LR schedule continues where it stopped: same values as the uninterrupted run
    lr_resumed = logged(work, "lr")
    assert set(lr_resumed) == {4, 5, 6}
    for it in (4, 5, 6):
        assert lr_resumed[it] == pytest.approx(lr_straight[it], rel=1e-6), it
    assert lr_resumed[6] < lr_resumed[4]  # poly decay is running, not restarted

    report = str(tmp_path / "reports" / "report.json")
    run_tool("test.py", CONFIG, osp.join(work, "iter_6.pth"), "--work-dir",
             str(tmp_path / "test_logs"), "--out", report, "--cfg-options",
             *cfg_options(FAST), data_root=crack_dataset)
    with open(report) as f:
        data = json.load(f)
    assert {"mIoU", "aAcc", "per_class"} <= set(data)
    for name in ("background", "crack"):
        assert {"IoU", "precision", "recall", "F1"} <= set(data["per_class"][name])
    assert data["num_images"] == 3 and data["checkpoint"].endswith("iter_6.pth")


def test_tools_refuse_bad_arguments_early(tmp_path, crack_dataset):
    missing = str(tmp_path / "missing.pth")
    proc = run_tool("test.py", CONFIG, missing, data_root=crack_dataset, check=False)
    assert proc.returncode != 0 and "checkpoint file not found" in proc.stderr
    proc = run_tool("train.py", CONFIG, "--resume", missing, "--work-dir", str(tmp_path / "w"),
                    data_root=crack_dataset, check=False)
    assert proc.returncode != 0 and "--resume: checkpoint not found" in proc.stderr
    proc = run_tool("train.py", CONFIG, "--work-dir", str(tmp_path / "w"), "--cfg-options",
                    "model.decode_head.num_clases=3", data_root=crack_dataset, check=False)
    assert proc.returncode != 0 and "did you mean 'num_classes'" in proc.stderr
    proc = run_tool("train.py", CONFIG, "--amp", "--work-dir", str(tmp_path / "w"),
                    data_root=crack_dataset, check=False)
    if not torch.cuda.is_available():
        assert proc.returncode != 0 and "--amp needs a CUDA GPU" in proc.stderr


def test_bad_data_fails_before_training(tmp_path, crack_dataset):
    os.remove(osp.join(crack_dataset, "masks", "0001.png"))
    proc = run_tool("train.py", CONFIG, "--work-dir", str(tmp_path / "w"), "--cfg-options",
                    *cfg_options({**FAST, "train_cfg.max_iters": 4}), data_root=crack_dataset,
                    check=False)
    assert proc.returncode != 0
    assert "has no mask" in proc.stderr and "0001.png" in proc.stderr
    assert "Iter(train)" not in proc.stdout + proc.stderr
