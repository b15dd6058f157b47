"""The README's paths, run as written: the commands and the child config are read from
README.md; only sizes shrink (generated images, a tiny model, 2 iterations)."""

import json
import os
import os.path as osp
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from test_models.test_hrda_uda import tiny_hrda_options
from test_uda.uda_testing import cli_options

from helpers import REPO, write_dataset

ITERS = 2
README = Path(REPO, "README.md").read_text()


def section(title: str) -> str:
    """The README text from the heading ``title`` to the next heading (outside code blocks)."""
    lines = README[README.index(title):].splitlines(keepends=True)
    fenced = False
    for i, line in enumerate(lines[1:], 1):
        fenced ^= line.startswith("```")
        if not fenced and line.startswith("#"):
            return "".join(lines[:i])
    return "".join(lines)


def blocks(text: str, lang: str) -> list:
    return re.findall(rf"```{lang}\n(.*?)```", text, re.S)


def commands(block: str) -> list:
    """Shell commands of a bash block: (env dict, argv list), continuations joined."""
    out = []
    for line in block.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        if not words:
            continue
        env = {}
        while "=" in words[0] and not words[0].startswith("-"):
            key, value = words.pop(0).split("=", 1)
            env[key] = value
        out.append((env, words))
    return out


def run(env_extra, argv, cwd, subs, extra=()):
    """Run one README command in ``cwd`` with the repository's tools; ``subs`` replace
    arguments (smaller sizes, the checkpoint of the short run)."""
    argv = [subs.get(a, a) for a in argv]
    assert argv[0] == "python"
    argv = [sys.executable] + [osp.join(REPO, a) if a.startswith(("tools/", "configs/")) and
                               osp.exists(osp.join(REPO, a)) else a for a in argv[1:]]
    env = {k: v for k, v in os.environ.items()
           if k not in ("SOURCE_ROOT", "TARGET_ROOT", "DATA_ROOT")}
    env.update(env_extra, PYTHONPATH=REPO, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    return subprocess.run(argv + list(extra), cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=400)


def ok(proc):
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def shrink_generator(argv):
    """--num 2000 --size 512 of the README -> 6 images of 96 x 96 px."""
    argv = list(argv)
    argv[argv.index("--num") + 1] = "6"
    argv[argv.index("--size") + 1] = "96"
    return argv


@pytest.mark.slow
def test_quick_start_images_only_target_trains_and_predicts(tmp_path):
    generate, train, predict = commands(blocks(section("## Quick start"), "bash")[0])
    photos = tmp_path / "data" / "my_photos"
    write_dataset(str(photos), num=4, size=(80, 96), with_masks=False, splits={}, ext=".jpg")
    assert sorted(os.listdir(photos)) == ["images"]  # photos only: no masks, no split files

    ok(run(generate[0], shrink_generator(generate[1]), tmp_path, {}))
    opts = tiny_hrda_options(iters=ITERS)
    proc = ok(run(train[0], train[1], tmp_path, {}, ["--cfg-options", *cli_options(opts)]))
    work = tmp_path / "work_dirs" / "hrda_cracks_cpu"
    log = next(work.glob("*/*.log")).read_text()
    assert "no target evaluation: the evaluation set 'data/my_photos'" in log
    assert "split=all (no train.txt: every image): 4 unlabeled images" in log
    assert "Iter(val)" not in log and "Error" not in proc.stderr

    ckpt = f"work_dirs/hrda_cracks_cpu/iter_{ITERS}.pth"
    model_opts = {k: v for k, v in opts.items() if k.startswith("model.")}
    ok(run(predict[0], predict[1], tmp_path, {"work_dirs/hrda_cracks_cpu/iter_1000.pth": ckpt},
           ["--no-progress", "--cfg-options", *cli_options(model_opts)]))
    result = json.loads((tmp_path / "work_dirs" / "my_photos_predictions" /
                         "predictions.json").read_text())
    assert result["summary"]["num_images"] == 4 and result["summary"]["num_errors"] == 0

    # the same command with a misspelt folder: one line naming the variable, before the Runner
    env = dict(train[0], TARGET_ROOT="data/my_photo")
    proc = run(env, train[1], tmp_path, {})
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        "tools/train.py: error: target and evaluation data folder not found: 'data/my_photo' "
        f"(= {tmp_path / 'data' / 'my_photo'}) (set by TARGET_ROOT, default 'data/cfd'; e.g. "
        "TARGET_ROOT=/path/to/folder)")
    assert "Traceback" not in proc.stderr and "Config:" not in proc.stdout + proc.stderr


@pytest.mark.slow
def test_new_defect_type_child_config_trains_and_tests(tmp_path):
    text = section("### A new defect type")
    (config,) = blocks(text, "python")
    generate, train, test = commands(blocks(text, "bash")[0])
    lines = [line for line in config.splitlines() if line.strip()]
    assert len(lines) <= 10
    path = tmp_path / "configs" / "my_scratches.py"
    path.parent.mkdir()
    path.write_text(config.replace("'./hrda_cracks.py'", repr(osp.join(REPO, "configs",
                                                                       "hrda_cracks.py"))))
    # the labeled target photos the test scores against (train.txt / test.txt)
    write_dataset(str(tmp_path / "data" / "my_metal_photos"), num=6, size=(96, 96), seed=3)

    ok(run(generate[0], shrink_generator(generate[1]), tmp_path, {}))
    meta = json.loads((tmp_path / "data" / "synthetic_scratches" / "meta.json").read_text())
    assert meta["classes"] == ["background", "scratch"]
    opts = tiny_hrda_options(iters=ITERS, daformer=True)
    train_argv = [a for a in train[1] if a != "--amp"]  # --amp needs a GPU
    ok(run(train[0], train_argv, tmp_path, {}, ["--cfg-options", *cli_options(opts)]))
    log = next((tmp_path / "work_dirs" / "my_scratches").glob("*/*.log")).read_text()
    assert "IoU.scratch" in log and "IoU.crack" not in log

    test_opts = {k: v for k, v in opts.items() if k.startswith(("model.", "test_dataloader"))}
    ok(run(test[0], test[1], tmp_path,
           {"work_dirs/my_scratches/iter_20000.pth": f"work_dirs/my_scratches/iter_{ITERS}.pth"},
           ["--cfg-options", *cli_options(test_opts)]))
    report = json.loads((tmp_path / "report.json").read_text())
    assert list(report["per_class"]) == ["background", "scratch"] and report["num_images"] == 2
    assert report["data"] == dict(data_root=str(tmp_path / "data" / "my_metal_photos"),
                                  split="test.txt", variable="TARGET_ROOT")
    assert report["thresholds"]["verdict_min_area_px"] == 16
    markdown = (tmp_path / "report.md").read_text()
    assert f"- data: `{tmp_path / 'data' / 'my_metal_photos'}` (set by `TARGET_ROOT`), split " \
           "`test.txt`" in markdown and "- thresholds: pixel class = argmax" in markdown
