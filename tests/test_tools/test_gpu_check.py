"""scripts/gpu_check.sh: the CPU dry run passes, and the step machinery keeps its promises
(limits, dependants skipped, the JSON written after every step and when stopped)."""

import json
import math
import os
import os.path as osp
import shutil
import signal
import subprocess
import sys
import time

import pytest

from helpers import REPO

sys.path.insert(0, REPO)

from tools import gpu_check  # noqa: E402

SCRIPT = osp.join(REPO, "scripts", "gpu_check.sh")
STEPS = ("benchmark", "data", "train", "test", "predict", "benchmark_memory",
         "benchmark_compile", "ema", "syncs", "dist_train")


def _env(**extra):
    env = dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS="1")
    env.update(extra)
    return env


@pytest.mark.slow
def test_dry_run_passes_and_names_every_step_with_its_time(tmp_path):
    out, work = tmp_path / "out", tmp_path / "work"
    proc = subprocess.run(["bash", SCRIPT, "--out", str(out), "--work-dir", str(work),
                           "--dry-run"], cwd=str(tmp_path), env=_env(), capture_output=True,
                          text=True, timeout=600)
    printed = proc.stdout + proc.stderr
    assert proc.returncode == 0, printed[-5000:]
    for step in STEPS[:-1]:
        assert f"] {step}: ok in " in printed, step
        assert any(line.split()[:2] == [step, "ok"] for line in printed.splitlines()
                   if line.startswith("  ")), step  # the summary names it with its time
    assert "dist_train: skipped (needs 2 GPUs, 0 visible)" in printed
    assert "gpu_check: OK" in printed
    assert sorted(os.listdir(out)) == ["gpu_check.json", "gpu_check.log", "gpu_check.md"]

    summary = json.loads((out / "gpu_check.json").read_text())
    assert summary["finished"] and summary["ok"] and summary["mode"] == "dry-run"
    steps = {s["name"]: s for s in summary["steps"]}
    assert list(steps) == ["environment", *STEPS]
    for name in STEPS[:-1]:
        assert steps[name]["status"] == "ok", steps[name]
        assert 0 < steps[name]["seconds"] <= steps[name]["limit_s"]
    bench = steps["benchmark"]["metrics"]["results"]
    assert set(bench) == {"reference", "batched", "fast"}
    assert all(r["train_s_per_iter"] > 0 and r["infer_s_per_image"] > 0 for r in bench.values())
    bounded = steps["benchmark_memory"]["metrics"]["settings"]
    assert set(bounded["cfg_options"]) >= {"model.segmentor.backbone.with_cp",
                                            "model.segmentor.test_cfg.max_crops_per_pass"}
    compiled = steps["benchmark_compile"]["metrics"]
    assert compiled["settings"]["compile"] and compiled["settings"]["compile_backend"]
    train = steps["train"]["metrics"]
    assert train["last_logged_iter"] == 2 and train["losses_finite"]
    assert {"src.decode.loss_ce", "mix.detail.loss_ce"} <= set(train["loss_keys"])
    assert train["validations"] == 1 and train["checkpoint"].endswith("iter_2.pth")
    assert 0 <= steps["test"]["metrics"]["mIoU"] <= 100
    assert steps["test"]["metrics"]["num_images"] == 2
    assert steps["predict"]["metrics"]["num_images"] == 2
    assert steps["ema"]["metrics"]["max_abs_difference"] == 0
    assert steps["syncs"]["metrics"]["syncs_per_iter"] is None  # counted on CUDA only
    data = steps["data"]["metrics"]
    assert data["target"]["splits"] == {"train": 2, "val": 2}
    # targets are shown but judged on a GPU only
    targets = {t["name"]: t for t in summary["targets"]}
    assert all(t["passed"] is None for t in targets.values())
    assert targets["fast over reference, training iterations/s (x)"]["value"] > 0
    md = (out / "gpu_check.md").read_text()
    assert "| train | ok |" in md and "| real run |" in md


def _check(tmp_path, *extra):
    args = gpu_check.parse_args(["--out", str(tmp_path / "out"), "--work-dir",
                                 str(tmp_path / "work"), "--dry-run", *extra])
    return gpu_check.GPUCheck(args)


def _saved(check):
    with open(check.json_path) as f:
        return {s["name"]: s for s in json.load(f)["steps"]}


def test_a_step_over_its_limit_is_stopped_with_its_children(tmp_path):
    check = _check(tmp_path, "--limit", "benchmark=1")
    pid_file = tmp_path / "child.pid"
    # a child that leaves a grandchild behind: the whole process group must go
    script = f"sleep 60 & echo $! > {pid_file}; wait"
    start = time.monotonic()
    result = check.run_step("benchmark", "sleeps", lambda: ["bash", "-c", script])
    assert time.monotonic() - start < 20
    assert result.status == "timeout" and result.rc is None and result.limit_s == 1
    assert "not finished after 1 s" in result.note
    assert _saved(check)["benchmark"]["status"] == "timeout" and not check.ok()
    grandchild = int(pid_file.read_text())
    time.sleep(0.5)
    assert not _alive(grandchild)


def test_a_compile_timeout_is_reported_not_failed(tmp_path):
    check = _check(tmp_path, "--limit", "benchmark_compile=1")
    result = check.run_step("benchmark_compile", "sleeps",
                            lambda: [sys.executable, "-c", "import time; time.sleep(30)"])
    assert result.status == "timeout" and "not a failure" in result.note
    assert check.ok()


def test_a_failed_step_skips_its_dependants_and_says_why(tmp_path):
    check = _check(tmp_path)
    failed = check.run_step("train", "fails", lambda: [sys.executable, "-c",
                                                       "raise SystemExit(3)"])
    assert failed.status == "failed" and failed.rc == 3 and failed.note == "exit status 3"
    called = []
    skipped = check.run_step("test", "needs train", lambda: called.append(1) or ["true"],
                             needs=("train",))
    assert skipped.status == "skipped" and "needs train" in skipped.note and not called
    saved = _saved(check)
    assert saved["train"]["status"] == "failed" and saved["test"]["status"] == "skipped"
    assert check.finish() == 1


def test_budget_caps_the_limits_and_skips_what_does_not_fit(tmp_path):
    check = _check(tmp_path, "--budget", "8")
    ok = check.run_step("data", "quick", lambda: [sys.executable, "-c", "pass"])
    assert ok.status == "ok" and ok.limit_s <= 8
    check.started -= 10  # the budget is spent
    late = check.run_step("train", "late", lambda: ["true"])
    assert late.status == "skipped" and "budget spent" in late.note


def test_check_of_the_output_turns_an_exit_0_into_a_failure(tmp_path):
    check = _check(tmp_path)
    result = check.run_step("predict", "exits 0", lambda: ["true"],
                            parse=lambda: {"num_images": 1, "_failure": "predicted 1 of 2"})
    assert result.status == "failed" and result.note == "predicted 1 of 2"
    assert "_failure" not in result.metrics
    missing = check.run_step("test", "no report", lambda: ["true"],
                             parse=lambda: gpu_check._load_json(str(tmp_path / "none.json")))
    assert missing.status == "failed" and "incomplete" in missing.note


def test_train_metrics_flag_non_finite_losses_and_find_the_peak(tmp_path):
    run = tmp_path / "run" / "20260101_000000" / "vis_data"
    run.mkdir(parents=True)
    rows = [dict(iter=i, loss=1.0 / i, time=0.5 if i > 1 else 9.0, data_time=0.1,
                 memory=1024 * i) for i in range(1, 5)]
    rows[2]["src.decode.loss_ce"] = math.nan
    rows.append({"mIoU": 40.0, "IoU.crack": 10.0, "step": 4})
    (run / "scalars.json").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    m = gpu_check.train_metrics(str(tmp_path / "run"), 4)
    assert not m["losses_finite"] and m["non_finite"] == ["src.decode.loss_ce@3"]
    assert m["s_per_iter"] == 0.5 and m["peak_mem_gib"] == 4.0  # MiB logged, reset per log
    assert m["last_logged_iter"] == 4 and m["validations"] == 1
    assert m["val_metrics"] == {"mIoU": 40.0, "IoU.crack": 10.0}


def test_bad_arguments_are_refused(tmp_path, capsys):
    out = str(tmp_path / "out")
    for argv, message in (
            (["--limit", "train=abc"], "is not a number"),
            (["--limit", "trian=5"], "STEP one of"),
            (["--work-dir", osp.join(out, "w")], "must not be inside --out"),
            (["--config", "configs/missing.py"], "file not found"),
            (["--budget", "0"], "--budget must be > 0")):
        with pytest.raises(SystemExit):
            gpu_check.parse_args(["--out", out, "--dry-run", *argv])
        assert message in capsys.readouterr().err, argv


def test_sigterm_leaves_a_finished_json_naming_the_interrupted_step(tmp_path):
    out, work = tmp_path / "out", tmp_path / "work"
    proc = subprocess.Popen([sys.executable, osp.join(REPO, "tools", "gpu_check.py"), "--out",
                             str(out), "--work-dir", str(work), "--dry-run", "--skip",
                             *STEPS[1:]], env=_env(PYTHONPATH=REPO), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # wait until the benchmark step runs
            path = out / "gpu_check.json"
            if path.exists():
                steps = {s["name"]: s for s in json.loads(path.read_text())["steps"]}
                if steps.get("benchmark", {}).get("status") == "running":
                    break
            time.sleep(0.2)
        else:
            pytest.fail("the benchmark step did not start")
        proc.send_signal(signal.SIGTERM)
        printed, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, printed[-3000:]
    summary = json.loads((out / "gpu_check.json").read_text())
    steps = {s["name"]: s for s in summary["steps"]}
    assert summary["finished"] and not summary["ok"]
    assert steps["benchmark"]["status"] == "interrupted"
    assert "stopped by a signal" in printed


def test_wrapper_refuses_an_interpreter_without_the_stack(tmp_path):
    """Without mm* packages and without carried wheels: a clear error, not a traceback."""
    bare = shutil.which("python3", path="/usr/bin:/bin")
    if bare is None or subprocess.run([bare, "-c", "import mmengine"],
                                      capture_output=True).returncode == 0:
        pytest.skip("no interpreter without mmengine on this machine")
    proc = subprocess.run(["bash", SCRIPT, "--out", str(tmp_path / "out"), "--dry-run"],
                          env=_env(PYTHON=bare, WHEELS=str(tmp_path / "no_wheels")),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "scripts/device_wheels.sh" in proc.stderr and "cannot import" in proc.stderr


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            return "State:\tZ" not in f.read()  # a zombie waits only for its reaping
    except FileNotFoundError:
        return False


def test_gpu_mode_commands(tmp_path, monkeypatch):
    """Without a GPU here: the commands the check would run on one (two GPUs visible)."""
    check = gpu_check.GPUCheck(gpu_check.parse_args(
        ["--out", str(tmp_path / "out"), "--work-dir", str(tmp_path / "work")]))
    monkeypatch.setattr(gpu_check, "environment",
                        lambda dry: {"gpus": ["H100", "H100"], "torch": "2.x"})
    images = tmp_path / "work" / "target" / "images"
    commands = {}

    def fake_run_step(name, what, build, needs=(), parse=None, skip=""):
        if name == "predict":  # the data step of a real run wrote these
            images.mkdir(parents=True, exist_ok=True)
            for i in range(3):
                (images / f"{i:06d}.png").write_bytes(b"")
        commands[name] = None if skip else build()
        metrics = {"checkpoint": "/w/iter_100.pth"} if name == "train" else {}
        if name == "benchmark":  # over the memory target: the bounds are measured
            metrics = {"results": {"fast": {"train_peak_mem_gib": 30.0}}}
        check.results[name] = gpu_check.StepResult(name, what, status="ok", metrics=metrics)

    monkeypatch.setattr(check, "run_step", fake_run_step)
    assert check.run() == 0
    text = {k: " ".join(v) for k, v in commands.items()}
    assert list(commands) == list(STEPS)
    for name in ("benchmark", "train", "benchmark_memory", "benchmark_compile", "syncs",
                 "dist_train"):
        assert "--amp" in commands[name], name
    assert "--device cuda" in text["benchmark"] and "--crop" not in text["benchmark"]
    assert "--modes reference batched fast" in text["benchmark"]
    assert "--compile" in commands["benchmark_compile"]
    assert "--compile-backend" not in text["benchmark_compile"]  # inductor on the GPU
    assert "model.segmentor.backbone.with_cp=True" in text["benchmark_memory"]
    assert "2048x1536" in text["data"] and "2560x1920" in text["data"]
    assert "train_cfg.max_iters=100" in text["train"]
    assert "model.segmentor.backbone.init_cfg=None" in text["train"]
    assert "embed_dims" not in text["train"]  # the real MiT-b5, not the tiny one
    assert "/w/iter_100.pth" in commands["test"] and "--out" in commands["test"]
    assert "cuda:0" in commands["predict"]
    assert len(os.listdir(tmp_path / "work" / "predict_input")) == 2
    assert commands["dist_train"][:2] == ["bash", osp.join(REPO, "tools", "dist_train.sh")]
    assert commands["dist_train"][3] == "2"


def test_no_gpu_without_dry_run_is_a_clear_failure(tmp_path, monkeypatch):
    monkeypatch.setattr(gpu_check, "environment", lambda dry: {"gpus": [], "torch": "2.x"})
    out = tmp_path / "out"
    assert gpu_check.main(["--out", str(out), "--work-dir", str(tmp_path / "w")]) == 1
    summary = json.loads((out / "gpu_check.json").read_text())
    assert summary["finished"] and not summary["ok"]
    assert "no CUDA GPU is visible" in summary["steps"][0]["note"]
    assert len(summary["steps"]) == 1  # nothing else was started


def test_a_program_that_cannot_start_fails_its_step(tmp_path):
    check = _check(tmp_path)
    result = check.run_step("data", "missing", lambda: [str(tmp_path / "no_such_program")])
    assert result.status == "failed" and "could not start" in result.note
    assert _saved(check)["data"]["status"] == "failed"


def test_a_benchmark_stopped_midway_keeps_the_modes_it_finished(tmp_path):
    check = _check(tmp_path, "--limit", "benchmark=3")
    line = "[benchmark] reference: {'train_s_per_iter': 1.5, 'train_peak_mem_gib': None}"
    script = f"print({line!r}, flush=True); import time; time.sleep(30)"
    result = check.run_step("benchmark", "stops", lambda: [sys.executable, "-c", script],
                            parse=check.parse_benchmark("benchmark"))
    assert result.status == "timeout"
    assert result.metrics == {"results": {"reference": {"train_s_per_iter": 1.5,
                                                        "train_peak_mem_gib": None}},
                              "partial": True}
