"""Runs that cannot silently go wrong (issue 16): one test per failure of the issue's table.

Each test failed on the code before this change (see docs/reliability.md for what happened
then). The end-to-end ones run tools/train.py / tools/test.py in a subprocess on a tiny MiT and
a 9-image generated dataset (a few seconds each).
"""

import glob
import json
import os
import os.path as osp
import shutil
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS, TRANSFORMS

from helpers import CPU_CONFIG, FAST_RUN, REPO, cfg_options, tiny_segmentor, write_dataset
from mmseg_uda.compat.checkpoint import load_checkpoint_checked
from mmseg_uda.datasets import DatasetError, DefectDataset
from mmseg_uda.models.weights.mit_converters import MiTWeightsError, read_state_dict
from mmseg_uda.utils import CheckpointError, WorkDirLock, WorkDirLockedError
from mmseg_uda.utils.work_dir import find_resume_checkpoint

TINY_SEGMENTOR = {
    "model.segmentor.backbone.embed_dims": 8,
    "model.segmentor.backbone.num_layers": [1, 1, 1, 1],
    "model.segmentor.decode_head.in_channels": [8, 16, 40, 64],
    "model.segmentor.decode_head.channels": 16,
}


@pytest.fixture(autouse=True)
def _own_check_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MMSEG_UDA_CACHE_DIR", str(tmp_path / "cache"))


def run_tool(tool, *args, data_root, timeout=300):
    env = dict(os.environ, DATA_ROOT=data_root, PYTHONWARNINGS="ignore")
    return subprocess.run([sys.executable, osp.join(REPO, "tools", tool), *args], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=timeout)


def train_args(work_dir, max_iters, **extra):
    opts = cfg_options({**FAST_RUN, "train_cfg.max_iters": max_iters, **extra})
    return [CPU_CONFIG, "--work-dir", work_dir, "--cfg-options", *opts]


def assert_one_line_error(proc, *fragments):
    """Exit status 1, no traceback, the last stderr line names what is wrong."""
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    for fragment in fragments:
        assert fragment in last, last
    return last


def half_file(path):
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[:len(data) // 2])


PIPELINE = [dict(type="LoadImageFromFile"), dict(type="LoadAnnotations")]


# --- row 1: a JPEG cut to half its size in the target ------------------------------------
def test_truncated_jpeg_fails_the_dataset_check(tmp_path):
    root = write_dataset(str(tmp_path / "target"), num=4, ext=".jpg", with_masks=False)
    ok = DefectDataset(root, with_masks=False, pipeline=[dict(type="LoadImageFromFile")])
    assert ok[0]["img"].shape == (64, 64, 3)  # what passes the check loads in the pipeline
    half_file(osp.join(root, "images", "0002.jpg"))
    with pytest.raises(DatasetError, match=r"unreadable image file .*0002\.jpg.*cannot decode"):
        DefectDataset(root, with_masks=False, pipeline=[dict(type="LoadImageFromFile")])


def test_check_cache_reuses_unchanged_files_and_rechecks_changed_ones(tmp_path):
    root = write_dataset(str(tmp_path / "data"), num=4, ext=".jpg")
    first = DefectDataset(root, pipeline=PIPELINE)
    cache = glob.glob(str(tmp_path / "cache" / "dataset_check" / "*.json"))
    assert len(cache) == 1
    with open(cache[0]) as f:
        assert len(json.load(f)["entries"]) == 8  # 4 images + 4 masks
    second = DefectDataset(root, pipeline=PIPELINE)
    assert second.class_pixel_fraction == pytest.approx(first.class_pixel_fraction)
    half_file(osp.join(root, "images", "0001.jpg"))  # size changes: decoded again
    with pytest.raises(DatasetError, match=r"0001\.jpg"):
        DefectDataset(root, pipeline=PIPELINE)


# --- row 2: learning rate 1e6 -------------------------------------------------------------
def test_non_finite_loss_stops_the_run_and_keeps_good_checkpoints(tmp_path, crack_dataset):
    work = str(tmp_path / "nan")
    proc = run_tool("train.py", *train_args(
        work, 12, **{"optim_wrapper.optimizer.lr": 1e6, "default_hooks.checkpoint.interval": 1,
                     "default_hooks.checkpoint.max_keep_ckpts": 2}), data_root=crack_dataset)
    last = assert_one_line_error(proc, "non-finite", "decode.loss_ce", "since iteration")
    assert "training stopped at iteration" in last
    stopped = int(last.split("training stopped at iteration ")[1].split(":")[0])
    assert stopped < 12  # not trained to the end
    kept = sorted(glob.glob(osp.join(work, "iter_*.pth")))
    assert kept, "the last good checkpoint must stay"
    for path in kept:
        state = torch.load(path, map_location="cpu", weights_only=False)["state_dict"]
        assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())
    with open(osp.join(work, "last_checkpoint")) as f:
        assert osp.join(work, f.read().strip()) == max(
            kept, key=lambda p: int(p.split("_")[-1][:-4]))
    assert "Iter(val)" not in proc.stdout  # no final validation of a NaN model


def test_non_finite_guard_counts_consecutive_steps_only():
    from types import SimpleNamespace

    from mmengine.logging import MessageHub

    from mmseg_uda.engine.hooks import NonFiniteGuardHook
    from mmseg_uda.utils import NonFiniteError

    model = torch.nn.Linear(2, 2)
    runner = SimpleNamespace(model=model, iter=0, work_dir="w",
                             message_hub=MessageHub.get_instance("non_finite_guard_test"))
    guard = NonFiniteGuardHook(patience=2)
    nan, ok = {"loss": torch.tensor(float("nan")), "decode.acc": 1.0}, {"loss": torch.tensor(1.)}
    for step, outputs in enumerate([nan, ok, nan, ok]):  # never two in a row: no stop
        runner.iter = step
        guard.after_train_iter(runner, step, outputs=outputs)
    runner.iter = 4
    guard.after_train_iter(runner, 4, outputs=nan)
    runner.iter = 5
    with pytest.raises(NonFiniteError,
                       match=r"iteration 6: .*since iteration 5 \(loss terms loss\)"):
        guard.after_train_iter(runner, 5, outputs=nan)
    with torch.no_grad():
        model.weight[0, 0] = float("inf")  # finite loss, non-finite weights (a NaN gradient)
    guard = NonFiniteGuardHook(patience=1)
    with pytest.raises(NonFiniteError, match="parameters weight"):
        guard.after_train_iter(runner, 6, outputs=ok)
    with pytest.raises(ValueError, match="patience"):
        NonFiniteGuardHook(patience=0)


# --- row 3: kill -9 the moment a checkpoint is written -------------------------------------
class Killed(BaseException):
    """Stands for SIGKILL in the middle of writing a file."""


def test_interrupted_save_keeps_the_previous_checkpoints(tmp_path, crack_dataset, monkeypatch):
    from mmengine.fileio.backends.local_backend import LocalBackend

    sys.path.insert(0, REPO)
    from tools import train as train_tool

    work = str(tmp_path / "run")
    monkeypatch.setenv("DATA_ROOT", crack_dataset)
    real_put = LocalBackend.put

    def put(self, obj, filepath):
        if "_4.pth" in osp.basename(str(filepath)):  # iteration 4's checkpoint: die midway
            with open(filepath, "wb") as f:
                f.write(obj[:len(obj) // 2])
            raise Killed()
        return real_put(self, obj, filepath)

    monkeypatch.setattr(LocalBackend, "put", put)
    with pytest.raises(Killed):
        train_tool.main(train_args(work, 6, **{"default_hooks.checkpoint.interval": 1,
                                               "default_hooks.checkpoint.max_keep_ckpts": 2}))
    assert osp.isfile(osp.join(work, "iter_2.pth")) and osp.isfile(osp.join(work, "iter_3.pth"))
    assert not osp.exists(osp.join(work, "iter_4.pth"))  # the partial file has a temp name
    with open(osp.join(work, "last_checkpoint")) as f:
        assert f.read().strip() == "iter_3.pth"
    path, _ = find_resume_checkpoint(work)
    assert path == osp.join(work, "iter_3.pth")
    assert not osp.exists(osp.join(work, ".lock"))  # released on the way out


# --- rows 4 and 5: --resume without a usable last_checkpoint ------------------------------
@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A finished 3-iteration run (iter_3.pth) and its data."""
    base = tmp_path_factory.mktemp("resume")
    data = write_dataset(str(base / "data"), num=9)
    work = str(base / "run")
    proc = run_tool("train.py", *train_args(work, 3), data_root=data)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return dict(work=work, data=data)


def test_resume_without_last_checkpoint_uses_the_newest_checkpoint(tmp_path, trained_run):
    work = str(tmp_path / "run")
    shutil.copytree(trained_run["work"], work)
    os.remove(osp.join(work, "last_checkpoint"))
    proc = run_tool("train.py", *train_args(work, 4), "--resume", data_root=trained_run["data"])
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "no last_checkpoint" in out and "resumed epoch: 0, iter: 3" in out
    assert torch.load(osp.join(work, "iter_4.pth"), weights_only=False)["meta"]["iter"] == 4


def test_resume_in_a_copied_work_dir_uses_its_own_checkpoints(tmp_path, trained_run):
    original = trained_run["work"]
    before = {p: os.stat(p).st_mtime_ns for p in glob.glob(osp.join(original, "*.pth"))}
    copy = str(tmp_path / "copy")
    shutil.copytree(original, copy)
    with open(osp.join(copy, "last_checkpoint"), "w") as f:  # as MMEngine wrote it: absolute
        f.write(osp.join(original, "iter_3.pth"))
    proc = run_tool("train.py", *train_args(copy, 4), "--resume", data_root=trained_run["data"])
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert f"continuing from {osp.join(copy, 'iter_3.pth')}" in out
    assert {p: os.stat(p).st_mtime_ns
            for p in glob.glob(osp.join(original, "*.pth"))} == before
    with open(osp.join(copy, "last_checkpoint")) as f:
        assert f.read().strip() == "iter_4.pth"  # relative from now on


def test_find_resume_checkpoint_falls_back_over_a_corrupt_newest(tmp_path):
    work = str(tmp_path)
    assert find_resume_checkpoint(work) == (None, [])
    for step in (2, 4):
        torch.save({"meta": {"iter": step}}, osp.join(work, f"iter_{step}.pth"))
    half_file(osp.join(work, "iter_4.pth"))
    with open(osp.join(work, "last_checkpoint"), "w") as f:
        f.write("iter_4.pth")
    path, notes = find_resume_checkpoint(work)
    assert path == osp.join(work, "iter_2.pth")
    assert any("iter_4.pth" in n and "iter_2.pth" in n and "truncated" in n for n in notes)
    half_file(osp.join(work, "iter_2.pth"))
    with pytest.raises(CheckpointError, match="no loadable checkpoint"):
        find_resume_checkpoint(work)


# --- row 6: two runs on one work dir ------------------------------------------------------
def test_second_run_on_a_work_dir_in_use_is_refused(tmp_path, crack_dataset):
    work = str(tmp_path / "run")
    env = dict(os.environ, DATA_ROOT=crack_dataset, PYTHONWARNINGS="ignore")
    first = subprocess.Popen(
        [sys.executable, osp.join(REPO, "tools", "train.py"), *train_args(work, 1000)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while not osp.isfile(osp.join(work, ".lock")) and time.time() < deadline:
            time.sleep(0.1)
        assert first.poll() is None, "the first run ended too early"
        second = run_tool("train.py", *train_args(work, 4), "--overwrite",
                          data_root=crack_dataset)
        assert_one_line_error(second, "is in use by another run", f"PID {first.pid}")
        resumed = run_tool("train.py", *train_args(work, 4), "--resume",
                           data_root=crack_dataset)
        assert_one_line_error(resumed, "is in use by another run")
        assert first.poll() is None  # the first run was not disturbed
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert osp.isfile(osp.join(work, ".lock"))  # kill -9 leaves it behind: stale now
    with WorkDirLock(work):
        pass
    assert not osp.exists(osp.join(work, ".lock"))


def test_lock_of_a_live_process_is_respected(tmp_path):
    os.makedirs(tmp_path / "w")
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with open(tmp_path / "w" / ".lock", "w") as f:
            json.dump({"host": os.uname().nodename, "pid": holder.pid, "started": "now"}, f)
        with pytest.raises(WorkDirLockedError, match=f"PID {holder.pid}"):
            WorkDirLock(str(tmp_path / "w")).acquire()
    finally:
        holder.kill()
        holder.wait()


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path, capsys):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    os.makedirs(tmp_path / "w")
    with open(tmp_path / "w" / ".lock", "w") as f:
        json.dump({"host": os.uname().nodename, "pid": dead.pid, "started": "then"}, f)
    with WorkDirLock(str(tmp_path / "w")):
        assert "stale" in capsys.readouterr().err


# --- row 7: tools/test.py with a checkpoint of another config -----------------------------
HRDA_HEADS = {f"model.segmentor.decode_head.{head}.{key}": value
              for head in ("decoder", "attention_decoder")
              for key, value in (("in_channels", [8, 16, 40, 64]), ("channels", 16))}


def _uda_model(config, **extra):
    from mmseg_uda.utils import load_config

    opts = dict(TINY_SEGMENTOR)
    if "hrda" in config:
        opts = {k: v for k, v in opts.items() if ".decode_head." not in k}
        opts.update(HRDA_HEADS)
    cfg = load_config(osp.join(REPO, "configs", config), {**opts, **extra})
    torch.manual_seed(0)
    return MODELS.build(cfg.model)


def test_strict_loading_of_mismatched_checkpoints(tmp_path):
    dacs, source_only = _uda_model("dacs_cracks_cpu.py"), _uda_model("source_only_cracks_cpu.py")
    dacs_ckpt, so_ckpt = str(tmp_path / "dacs.pth"), str(tmp_path / "so.pth")
    torch.save({"state_dict": dacs.state_dict(), "meta": {}}, dacs_ckpt)
    torch.save({"state_dict": source_only.state_dict(), "meta": {}}, so_ckpt)
    segformer = tiny_segmentor()
    with pytest.raises(CheckpointError, match=r"missing from it, e\.g\. backbone\..*unexpected"):
        load_checkpoint_checked(segformer, dacs_ckpt)  # SegFormer config + DACS checkpoint
    hrda = _uda_model("hrda_cracks_cpu.py")
    with pytest.raises(CheckpointError, match=r"does not fit.*missing.*attention_decoder"):
        load_checkpoint_checked(hrda, dacs_ckpt)  # HRDA config + DACS checkpoint
    teacher_eval = _uda_model("dacs_cracks_cpu.py", **{"model.eval_model": "teacher"})
    with pytest.raises(CheckpointError, match=r"missing from it, e\.g\. teacher\."):
        load_checkpoint_checked(teacher_eval, so_ckpt)  # teacher of a source-only checkpoint
    # the harmless case: a DACS checkpoint evaluated through its student
    info = load_checkpoint_checked(source_only, dacs_ckpt)
    assert info["ignored"] and not info["missing"] and not info["unexpected"]
    for key, value in source_only.state_dict().items():
        assert torch.equal(value, dacs.state_dict()[key]), key
    # --non-strict loads what fits and says what did not
    info = load_checkpoint_checked(teacher_eval, so_ckpt, strict=False)
    assert info["missing"] and all(k.startswith("teacher.") for k in info["missing"])


def test_strict_loading_unwraps_a_tta_model(tmp_path):
    from mmseg.models import SegTTAModel

    trained, fresh = tiny_segmentor(seed=0), tiny_segmentor(seed=1)
    ckpt = str(tmp_path / "seg.pth")
    torch.save({"state_dict": trained.state_dict(), "meta": {}}, ckpt)
    tta = SegTTAModel(module=fresh)  # tools/test.py --tta evaluates through such a wrapper
    info = load_checkpoint_checked(tta, ckpt)
    assert not info["missing"] and not info["unexpected"]
    assert torch.equal(fresh.decode_head.conv_seg.weight, trained.decode_head.conv_seg.weight)


def test_test_tool_refuses_a_checkpoint_of_another_config(tmp_path, crack_dataset):
    dacs = _uda_model("dacs_cracks_cpu.py")
    ckpt = str(tmp_path / "dacs.pth")
    torch.save({"state_dict": dacs.state_dict(), "meta": {}}, ckpt)
    opts = cfg_options(FAST_RUN)
    proc = run_tool("test.py", CPU_CONFIG, ckpt, "--work-dir", str(tmp_path / "t"),
                    "--cfg-options", *opts, data_root=crack_dataset)
    assert_one_line_error(proc, "does not fit the model of the config", "dacs.pth",
                          "backbone.", "--non-strict")
    report = str(tmp_path / "report.json")
    proc = run_tool("test.py", CPU_CONFIG, ckpt, "--non-strict", "--out", report,
                    "--work-dir", str(tmp_path / "t"), "--cfg-options", *opts,
                    data_root=crack_dataset)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(report) as f:
        loading = json.load(f)["checkpoint_loading"]
    assert loading["strict"] is False and loading["missing_keys"]


def test_predict_accepts_a_dacs_checkpoint_through_its_student(tmp_path):
    from mmseg_uda.apis import init_model

    dacs = _uda_model("dacs_cracks_cpu.py")
    ckpt = str(tmp_path / "dacs.pth")
    torch.save({"state_dict": dacs.state_dict(), "meta": {}}, ckpt)
    model = init_model(osp.join(REPO, "configs", "source_only_cracks_cpu.py"), ckpt,
                       cfg_options=dict(TINY_SEGMENTOR))
    assert model.teacher is None
    assert torch.equal(model.student.decode_head.conv_seg.weight,
                       dacs.student.decode_head.conv_seg.weight)


# --- row 8: a 16-bit PNG holding 12-bit data ----------------------------------------------
def test_twelve_bit_png_is_scaled_by_its_bit_depth(tmp_path):
    ramp = np.tile(np.linspace(0, 4095, 64).astype(np.uint16), (64, 1))
    path = str(tmp_path / "12bit.png")
    cv2.imwrite(path, ramp)
    img = TRANSFORMS.build(dict(type="LoadImageFromFile"))(dict(img_path=path))["img"]
    assert img.dtype == np.uint8 and img.shape == (64, 64, 3)
    assert img.max() == 255
    assert img[0, 32, 0] == pytest.approx(int(ramp[0, 32]) * 255 / 4095, abs=1)
    explicit = TRANSFORMS.build(dict(type="LoadImageFromFile", bit_depth=10))
    with pytest.raises(DatasetError, match=r"12bit\.png.*above 1023"):
        explicit(dict(img_path=path))
    grey = TRANSFORMS.build(dict(type="LoadImageFromFile", color_type="grayscale"))
    assert grey(dict(img_path=path))["img"].max() == 255


def test_png_sbit_chunk_sets_the_bit_depth():
    from mmseg_uda.datasets.image_io import decode_image

    ok, buf = cv2.imencode(".png", np.full((4, 4), 1023, np.uint16))
    data = buf.tobytes()
    sbit = b"\x00\x00\x00\x01sBIT\x0a" + b"\x00\x00\x00\x00"  # 10 significant bits (CRC unused)
    with_sbit = data[:33] + sbit + data[33:]  # after the signature and IHDR
    assert decode_image(with_sbit, flag="grayscale").max() == 255
    assert decode_image(data, flag="grayscale").max() == 255  # auto: 1023 needs 10 bits


# --- row 9: an empty or truncated weights file --------------------------------------------
def test_weight_file_errors_say_what_is_wrong_with_the_file(tmp_path):
    empty = str(tmp_path / "mit_b5.pth")
    open(empty, "wb").close()
    with pytest.raises(MiTWeightsError, match=r"mit_b5\.pth.*empty \(0 bytes\)") as err:
        read_state_dict(empty)
    assert "allow-pickle" not in str(err.value)
    cut = str(tmp_path / "cut.pth")
    torch.save({"w": torch.zeros(1000)}, cut)
    half_file(cut)
    with pytest.raises(MiTWeightsError, match=r"cut\.pth.*truncated") as err:
        read_state_dict(cut)
    assert "allow-pickle" not in str(err.value)


# --- every user error: one line, exit 1; --debug shows the traceback -----------------------
def test_user_errors_end_in_one_line(tmp_path, crack_dataset):
    ckpt = str(tmp_path / "iter_3.pth")
    torch.save({"state_dict": {"w": torch.zeros(100)}}, ckpt)
    half_file(ckpt)
    proc = run_tool("test.py", CPU_CONFIG, ckpt, "--cfg-options", *cfg_options(FAST_RUN),
                    "--work-dir", str(tmp_path / "t"), data_root=crack_dataset)
    assert_one_line_error(proc, "iter_3.pth", "truncated")
    proc = run_tool("train.py", *train_args(str(tmp_path / "w"), 4), "--resume", ckpt,
                    data_root=crack_dataset)
    assert_one_line_error(proc, "iter_3.pth", "truncated")


def test_predict_reports_a_broken_checkpoint_in_one_line(tmp_path, capsys):
    sys.path.insert(0, REPO)
    from mmseg_uda.utils import run_tool
    from tools import predict as predict_tool

    ckpt = str(tmp_path / "model.pth")
    open(ckpt, "wb").close()
    image = str(tmp_path / "a.png")
    cv2.imwrite(image, np.zeros((32, 32, 3), np.uint8))
    status = run_tool(predict_tool.main, "tools/predict.py",
                      [CPU_CONFIG, ckpt, image, "--out", str(tmp_path / "out"), "--no-progress",
                       "--cfg-options", *cfg_options()])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 1 and err[-1].startswith("tools/predict.py: error: checkpoint ")
    assert "model.pth" in err[-1] and "empty (0 bytes)" in err[-1]


def test_run_tool_prints_user_errors_and_keeps_bugs(capsys):
    from mmseg_uda.utils import run_tool

    def broken_file(argv):
        raise CheckpointError("checkpoint 'x.pth' cannot be loaded: the file is empty")

    assert run_tool(broken_file, "tools/x.py", []) == 1
    assert capsys.readouterr().err == (
        "tools/x.py: error: checkpoint 'x.pth' cannot be loaded: the file is empty\n")
    with pytest.raises(CheckpointError):  # --debug: the traceback
        run_tool(broken_file, "tools/x.py", ["--debug"])

    def bug(argv):
        raise ZeroDivisionError("a bug")

    with pytest.raises(ZeroDivisionError):  # not a user error: traceback as before
        run_tool(bug, "tools/x.py", [])
    assert run_tool(lambda argv: 0, "tools/x.py", []) == 0


def test_config_with_safe_hooks():
    cfg = Config.fromfile(CPU_CONFIG)
    assert cfg.default_hooks.checkpoint.type == "SafeCheckpointHook"
    assert cfg.default_hooks.non_finite.type == "NonFiniteGuardHook"
