"""One prepared, unattended check of the headline config on a GPU, or its tiny CPU dry run.

    bash scripts/gpu_check.sh --out DIR [--dry-run] [options]   # installs carried wheels first
    python tools/gpu_check.py --out DIR [--dry-run] [--work-dir DIR] [--budget S]
                              [--limit STEP=S ...] [--skip STEP ...] [--train-iters N]
                              [--bench-iters N] [--dist-gpus N] [--config CONFIG]

Every step is a separate process under its own time limit (killed with its whole process group
when it runs over), so one slow step cannot eat the budget of the others:

==================  ==========================================================================
environment         torch, CUDA, GPUs, bf16, package versions (in this process)
benchmark           ``tools/benchmark.py CONFIG --amp --modes reference batched fast``: s/iter,
                    images/s and peak memory per mode, one process
data                ``python -m synthetic generate``: a 2048x1536 labeled source and a 2560x1920
                    target (train split unlabeled for training, test split for the scores)
train               ``tools/train.py CONFIG --amp`` from random weights (``init_cfg=None``) for
                    ``--train-iters`` (100) iterations, one validation at the end: s/iter, peak
                    memory, every logged loss finite
test                ``tools/test.py CONFIG CKPT --out report.json``
predict             ``tools/predict.py CONFIG CKPT`` on 2 target images
benchmark_memory    when the fast mode's peak exceeds 24 GiB: the fast mode again with MiT
                    activation checkpointing (``with_cp``) and ``max_crops_per_pass=4``
benchmark_compile   ``tools/benchmark.py CONFIG --amp --compile --modes fast``; a compile that
                    has not finished within its limit is reported as ``timeout``, not waited
                    for (after the real run, so that it cannot starve it)
ema                 the mean teacher's EMA update, the fused one of ``build_ema_teacher`` against
                    MMEngine's per-parameter loop on the same student: time, host syncs
                    (``torch.cuda.set_sync_debug_mode``), equality
syncs               a few real training iterations (the Runner of tools/train.py) under
                    ``torch.cuda.set_sync_debug_mode('warn')``: host syncs per iteration and
                    the lines that cause them
dist_train          ``tools/dist_train.sh CONFIG 2 --amp`` for a few iterations, only when at
                    least two GPUs are visible (``--dist-gpus``)
==================  ==========================================================================

``--dry-run`` runs the same steps on the CPU with a tiny MiT, 64x64 crops, small generated
images, two training iterations and no ``--amp`` (the test suite runs it, so the check cannot
rot between GPU sessions). The compile step runs there with the ``aot_eager`` backend (graph
capture and AOT autograd without code generation, which needs minutes and a C++ toolchain).

Written to ``--out`` (at most three files, for machines that return only a few):
``gpu_check.json`` (rewritten after every step, so it exists even when the check is killed or a
step times out), ``gpu_check.log`` (every step's output) and ``gpu_check.md`` (the tables for
docs/benchmarks.md). Scratch data, checkpoints and predictions go to ``--work-dir``. Exit
status 0 when every required step passed (a compile timeout is reported, not a failure);
performance targets are judged in the JSON's ``targets`` on CUDA only.
"""

from __future__ import annotations

import argparse
import datetime
import glob
import json
import math
import os
import os.path as osp
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
HEADLINE = "configs/hrda_cracks.py"
STEP_NAMES = ("benchmark", "data", "train", "test", "predict", "benchmark_memory",
              "benchmark_compile", "ema", "syncs", "dist_train")
# Seconds per step on a GPU (H100-class): generous bounds of what each should take. Their sum
# is larger than the budget (450 s), which caps it: a step never gets more than what is left,
# and the steps the issue must show come first.
GPU_LIMITS = dict(benchmark=150, data=60, train=180, test=60, predict=45, benchmark_memory=90,
                  benchmark_compile=100, ema=45, syncs=75, dist_train=120)
# The dry run on a loaded 2-core CPU.
DRY_LIMITS = dict(benchmark=120, data=60, train=180, test=90, predict=90, benchmark_memory=120,
                  benchmark_compile=120, ema=60, syncs=120, dist_train=180)
OPTIONAL_STEPS = ("benchmark_compile",)  # a timeout here is reported, not a failure
# Performance targets of the headline on an H100-class GPU (issue 18).
TARGET_SPEEDUP = 6.0  # fast --amp over reference, training iterations/s, same run
TARGET_S_PER_ITER = 0.18  # fast --amp training step
TARGET_PEAK_GIB = 24.0  # fast --amp training peak memory (torch.cuda.max_memory_allocated)
# Above that peak, the memory bounds are measured: MiT activation checkpointing and at most this
# many crops per teacher inference pass.
MEMORY_BOUNDS = {"model.segmentor.backbone.with_cp": True,
                 "model.segmentor.test_cfg.max_crops_per_pass": 4}

# The headline shrunk for the CPU: a 4-stage MiT with one block per stage and 8..64 channels,
# 16-channel DAFormer decoders, 64x64 crops (32x32 context + 32x32 detail).
TINY_SEGMENTOR = {
    "model.segmentor.backbone.embed_dims": 8,
    "model.segmentor.backbone.num_layers": [1, 1, 1, 1],
    "model.segmentor.detail_crop_size": (32, 32),
    "model.segmentor.detail_stride": (16, 16),
    "model.segmentor.test_cfg.crop_size": (64, 64),
    "model.segmentor.test_cfg.stride": (32, 32),
}
for _head in ("decoder", "attention_decoder"):
    TINY_SEGMENTOR.update({
        f"model.segmentor.decode_head.{_head}.in_channels": [8, 16, 40, 64],
        f"model.segmentor.decode_head.{_head}.embed_dims": 16,
        f"model.segmentor.decode_head.{_head}.channels": 16,
    })
TINY_DATA = {
    "model.data_preprocessor.size": (64, 64),
    "train_dataloader.dataset.source.pipeline.3.crop_size": (64, 64),
    "train_dataloader.dataset.target.pipeline.1.crop_size": (64, 64),
}


# --------------------------------------------------------------------------- arguments
def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Prepared GPU check of the headline config (or its tiny CPU dry run)")
    parser.add_argument("--out", required=True,
                        help="folder for gpu_check.json, gpu_check.log and gpu_check.md")
    parser.add_argument("--dry-run", action="store_true",
                        help="CPU, tiny model and images, same steps and tools, no --amp")
    parser.add_argument("--work-dir", help="scratch folder for data, checkpoints and "
                        "predictions, outside --out (default: a new gpu_check_* folder in the "
                        "temporary directory)")
    parser.add_argument("--config", default=HEADLINE, help=f"config (default: {HEADLINE})")
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds for all steps together; a step gets at most what is "
                             "left (default: 450 on a GPU, 900 for --dry-run)")
    parser.add_argument("--limit", nargs="+", default=[], metavar="STEP=S",
                        help="time limit of a step in seconds, e.g. train=240")
    parser.add_argument("--skip", nargs="+", default=[], choices=STEP_NAMES, metavar="STEP",
                        help=f"steps to leave out, of: {' '.join(STEP_NAMES)}")
    parser.add_argument("--train-iters", type=int, default=None,
                        help="iterations of the real run (default: 100; dry run: 2)")
    parser.add_argument("--bench-iters", type=int, default=None,
                        help="timed iterations per benchmark mode (default: 10; dry run: 1)")
    parser.add_argument("--dist-gpus", type=int, default=None,
                        help="processes of the dist_train smoke run (default: 2 when at least "
                             "two GPUs are visible, else the step is skipped); with --dry-run "
                             "CPU processes (gloo)")
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter for the tools (default: this one)")
    args = parser.parse_args(argv)
    limits = dict(DRY_LIMITS if args.dry_run else GPU_LIMITS)
    for item in args.limit:
        name, sep, value = item.partition("=")
        if not sep or name not in STEP_NAMES:
            parser.error(f"--limit {item!r}: expected STEP=SECONDS with STEP one of "
                         f"{', '.join(STEP_NAMES)}")
        try:
            limits[name] = float(value)
        except ValueError:
            parser.error(f"--limit {item!r}: {value!r} is not a number of seconds")
        if limits[name] <= 0:
            parser.error(f"--limit {item!r}: the limit must be > 0 seconds")
    args.limits = limits
    if args.budget is None:
        args.budget = 900.0 if args.dry_run else 450.0
    if args.budget <= 0:
        parser.error(f"--budget must be > 0 seconds, got {args.budget}")
    args.train_iters = args.train_iters or (2 if args.dry_run else 100)
    args.bench_iters = args.bench_iters or (1 if args.dry_run else 10)
    if args.train_iters < 1 or args.bench_iters < 1:
        parser.error("--train-iters and --bench-iters must be >= 1")
    config = args.config if osp.isabs(args.config) else osp.join(REPO, args.config)
    if not osp.isfile(config):
        parser.error(f"--config: file not found: {args.config!r}")
    args.config = config
    args.out = osp.abspath(args.out)
    args.work_dir = osp.abspath(args.work_dir or tempfile.mkdtemp(prefix="gpu_check_"))
    if args.work_dir == args.out or args.work_dir.startswith(args.out + os.sep):
        parser.error("--work-dir must not be inside --out (scratch data would be returned)")
    return args


# --------------------------------------------------------------------------- small helpers
def cfg_option_args(opts: Dict[str, object]) -> List[str]:
    """``--cfg-options`` values: tuples as ``(a,b)``, lists as ``[a,b]`` (MMEngine syntax)."""
    out = []
    for key, value in opts.items():
        if isinstance(value, tuple):
            text = "(" + ",".join(str(v) for v in value) + ")"
        elif isinstance(value, list):
            text = "[" + ",".join(str(v) for v in value) + "]"
        else:
            text = str(value)
        out.append(f"{key}={text}")
    return out


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def read_scalars(work_dir: str) -> List[dict]:
    """The rows of every ``vis_data/scalars.json`` of an MMEngine run in ``work_dir``."""
    rows = []
    for path in sorted(glob.glob(osp.join(work_dir, "*", "vis_data", "scalars.json"))):
        with open(path) as f:
            rows.extend(json.loads(line) for line in f if line.strip())
    return rows


def train_metrics(work_dir: str, max_iters: int) -> dict:
    """s/iter, peak memory and loss finiteness of a finished run from its logged scalars.

    ``time`` is MMEngine's per-iteration wall time (data included), averaged over each logging
    interval; the median over the intervals after the first (start-up, cudnn autotuning) is
    the steady s/iter. ``memory`` is ``torch.cuda.max_memory_allocated`` in MiB, reset at
    every logging interval, so its maximum is the run's peak.
    """
    rows = read_scalars(work_dir)
    train_rows = [r for r in rows if "iter" in r and any("loss" in k for k in r)]
    losses = {k for r in train_rows for k in r if "loss" in k}
    bad = sorted({f"{k}@{r['iter']}" for r in train_rows for k in losses
                  if k in r and not _finite(r[k])})
    times = [r["time"] for r in train_rows if _finite(r.get("time"))]
    steady = times[1:] or times
    memory = [r["memory"] for r in train_rows if _finite(r.get("memory"))]
    val = [r for r in rows if any(k.startswith(("mIoU", "IoU.")) for k in r)]
    last_iter = max((r["iter"] for r in train_rows), default=0)
    metrics = dict(
        logged_rows=len(train_rows), last_logged_iter=last_iter, max_iters=max_iters,
        loss_keys=sorted(losses), losses_finite=bool(train_rows) and not bad,
        non_finite=bad[:20],
        final_loss={k: train_rows[-1][k] for k in sorted(losses) if k in train_rows[-1]}
        if train_rows else {},
        s_per_iter=statistics.median(steady) if steady else None,
        data_s_per_iter=statistics.median(
            [r["data_time"] for r in train_rows[1:] or train_rows if _finite(r.get("data_time"))]
            or [math.nan]),
        peak_mem_gib=max(memory) / 1024 if memory else None,
        validations=len(val),
        val_metrics={k: v for k, v in (val[-1] if val else {}).items()
                     if k.startswith(("mIoU", "IoU.", "aAcc", "F1."))},
    )
    if not _finite(metrics["data_s_per_iter"]):
        metrics["data_s_per_iter"] = None
    return metrics


def benchmark_modes_from_output(lines: Sequence[str]) -> Dict[str, dict]:
    """The ``[benchmark] MODE: {...}`` lines tools/benchmark.py prints as each mode finishes."""
    import ast

    results = {}
    for line in lines:
        if line.startswith("[benchmark] ") and ": {" in line:
            mode, _, text = line[len("[benchmark] "):].partition(": ")
            try:
                results[mode] = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                continue
    return results


def last_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint MMEngine named in ``last_checkpoint``, else the newest ``iter_*.pth``."""
    marker = osp.join(work_dir, "last_checkpoint")
    if osp.isfile(marker):
        with open(marker) as f:
            path = f.read().strip()
        if osp.isfile(path):
            return path
    found = sorted(glob.glob(osp.join(work_dir, "iter_*.pth")),
                   key=lambda p: int(osp.basename(p)[5:-4]))
    return found[-1] if found else None


def environment(dry_run: bool) -> dict:
    """Machine, torch/CUDA and package versions (in this process, no limit needed)."""
    from importlib import metadata

    env: Dict[str, object] = dict(
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        host=platform.node(), python=platform.python_version(), machine=platform.machine(),
        cpu_count=os.cpu_count())
    packages = {}
    for name in ("torch", "torchvision", "timm", "mmengine", "mmcv", "mmcv-lite",
                 "mmsegmentation", "numpy", "opencv-python-headless"):
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    env["packages"] = packages
    try:
        import torch
    except ImportError as exc:  # the check cannot run at all
        env["error"] = f"torch cannot be imported: {exc}"
        return env
    env["torch"] = torch.__version__
    env["cuda_available"] = torch.cuda.is_available()
    env["gpus"] = []
    if not dry_run and torch.cuda.is_available():
        try:
            env["gpus"] = [torch.cuda.get_device_name(i)
                           for i in range(torch.cuda.device_count())]
            env["cuda"] = torch.version.cuda
            env["bf16"] = torch.cuda.is_bf16_supported()
            props = torch.cuda.get_device_properties(0)
            env["gpu_memory_gib"] = round(props.total_memory / 2**30, 1)
            env["capability"] = f"{props.major}.{props.minor}"
        except RuntimeError as exc:  # a driver / device problem: say so, run nothing
            env["gpus"] = []
            env["error"] = f"CUDA is available but the GPU cannot be queried: {exc}"
    if shutil.which("nvidia-smi") and not dry_run:
        try:
            smi = subprocess.run(
                ["nvidia-smi", "--query-gpu=name,driver_version,memory.total",
                 "--format=csv,noheader"], capture_output=True, text=True, timeout=20)
            env["nvidia_smi"] = smi.stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            pass
    if hasattr(os, "getloadavg"):
        env["load_average_1_5_15min"] = [round(v, 2) for v in os.getloadavg()]
    return env


# --------------------------------------------------------------------------- running a step
class Interrupted(Exception):
    """SIGTERM/SIGINT reached the check: record the step as interrupted and stop."""


def run_command(cmd: Sequence[str], limit: float, log: Callable[[str], None],
                env: Optional[dict] = None, cwd: str = REPO,
                grace: float = 10.0) -> Tuple[Optional[int], float, bool, float]:
    """Run ``cmd`` in its own process group, streaming its output to ``log``.

    Returns:
        tuple: (exit status or None when killed, seconds, whether it ran past ``limit``, CPU
        seconds of its processes). Over the limit, the whole group gets SIGTERM, then SIGKILL
        after ``grace`` seconds.
    """
    start = time.monotonic()
    cpu_before = _children_cpu()
    proc = subprocess.Popen(list(cmd), cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True, text=True, errors="replace", bufsize=1)

    def pump():
        for line in proc.stdout:
            log(line.rstrip("\n"))

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    timed_out = False
    try:
        proc.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc, grace)
    except BaseException:
        _kill_group(proc, grace)
        raise
    finally:
        reader.join(timeout=5)
    seconds = time.monotonic() - start
    return (None if timed_out else proc.returncode), seconds, timed_out, \
        _children_cpu() - cpu_before


def _children_cpu() -> float:
    """CPU seconds (user + system) of the finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _kill_group(proc: subprocess.Popen, grace: float) -> None:
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@dataclass
class StepResult:
    name: str
    what: str
    status: str = "pending"  # pending, running, ok, failed, timeout, skipped, interrupted
    limit_s: Optional[float] = None
    seconds: Optional[float] = None
    cpu_s: Optional[float] = None  # CPU seconds of the step's processes (all cores)
    rc: Optional[int] = None
    command: Optional[List[str]] = None
    note: str = ""
    metrics: dict = field(default_factory=dict)


class GPUCheck:
    """The steps, their results and the files in ``--out``."""

    def __init__(self, args) -> None:
        self.args = args
        self.dry = args.dry_run
        self.device = "cpu" if self.dry else "cuda"
        self.started = time.monotonic()
        self.start_date = datetime.datetime.now(datetime.timezone.utc)
        self.results: Dict[str, StepResult] = {}
        self.env_info: dict = {}
        os.makedirs(args.out, exist_ok=True)
        os.makedirs(args.work_dir, exist_ok=True)
        self.json_path = osp.join(args.out, "gpu_check.json")
        self.md_path = osp.join(args.out, "gpu_check.md")
        # open for the whole check, closed by finish()
        self._log_file = open(osp.join(args.out, "gpu_check.log"), "w",  # noqa: SIM115
                              buffering=1)
        self._lock = threading.Lock()
        self.step_output: List[str] = []  # the lines of the step that runs (for parsing)
        self.tool_env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONWARNINGS="ignore")
        self.tool_env["PYTHONPATH"] = REPO + (
            os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH") else "")
        if self.dry:  # the CPU paths even on a machine with a GPU
            self.tool_env["CUDA_VISIBLE_DEVICES"] = ""
        self.data = dict(source=osp.join(args.work_dir, "source"),
                         target=osp.join(args.work_dir, "target"))

    # ----------------------------------------------------------------- output
    def log(self, line: str) -> None:
        with self._lock:
            print(line, flush=True)
            self._log_file.write(line + "\n")

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def write_json(self, finished: bool = False) -> dict:
        summary = dict(
            check="gpu_check", mode="dry-run" if self.dry else "gpu",
            config=osp.relpath(self.args.config, REPO), started=self.start_date.isoformat(
                timespec="seconds"), finished=finished, elapsed_s=round(self.elapsed(), 1),
            budget_s=self.args.budget, ok=self.ok(), environment=self.env_info,
            settings=dict(train_iters=self.args.train_iters, bench_iters=self.args.bench_iters,
                          limits=self.args.limits, work_dir=self.args.work_dir),
            steps=[vars(r) for r in self.results.values()], targets=self.targets())
        tmp = self.json_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(summary, f, indent=2, default=str)
        os.replace(tmp, self.json_path)
        return summary

    def ok(self) -> bool:
        for r in self.results.values():
            if r.status in ("failed", "interrupted"):
                return False
            if r.status == "timeout" and r.name not in OPTIONAL_STEPS:
                return False
        return True

    # ----------------------------------------------------------------- steps
    def python(self, *args: str) -> List[str]:
        return [self.args.python, *args]

    def run_step(self, name: str, what: str, build: Callable[[], List[str]],
                 needs: Sequence[str] = (), parse: Optional[Callable[[], dict]] = None,
                 skip: str = "") -> StepResult:
        """Run one step under its limit (or skip it) and record it in the JSON."""
        result = StepResult(name=name, what=what)
        self.results[name] = result
        left = self.args.budget - self.elapsed()
        missing = [n for n in needs if self.results.get(n) is None
                   or self.results[n].status != "ok"]
        if name in self.args.skip:
            skip = "--skip"
        elif missing:
            skip = f"needs {', '.join(missing)}, which did not pass"
        elif not skip and left < 5:
            skip = f"budget spent ({self.args.budget:.0f} s)"
        index = len(self.results)
        if skip:
            result.status, result.note = "skipped", skip
            self.log(f"==> [{index}] {name}: skipped ({skip})")
            self.write_json()
            return result
        try:
            result.command = build()
        except (OSError, ValueError) as exc:
            result.status, result.note = "failed", f"could not prepare the step: {exc}"
            self.log(f"==> [{index}] {name}: failed ({result.note})")
            self.write_json()
            return result
        result.limit_s = round(min(self.args.limits[name], left), 1)
        result.status = "running"
        self.write_json()
        self.log(f"==> [{index}] {name} (limit {result.limit_s:.0f} s): {what}")
        self.log("    $ " + " ".join(_quote(c) for c in result.command))
        self.step_output = []

        def log(line: str) -> None:
            self.step_output.append(line)
            self.log(line)

        try:
            rc, seconds, timed_out, cpu = run_command(result.command, result.limit_s, log,
                                                      env=self.tool_env)
        except OSError as exc:  # the program could not be started
            result.status, result.note = "failed", f"could not start {result.command[0]}: {exc}"
            self.log(f"<== [{index}] {name}: failed ({result.note})")
            self.write_json()
            return result
        except Interrupted:
            result.status, result.seconds = "interrupted", None
            result.note = "the check was stopped (SIGTERM/SIGINT) during this step"
            self.write_json()
            raise
        result.rc, result.seconds = rc, round(seconds, 1)
        result.cpu_s = round(cpu, 1)
        if timed_out:
            result.status = "timeout"
            result.note = (f"not finished after {result.limit_s:.0f} s: stopped"
                           + (" (reported, not a failure)" if name in OPTIONAL_STEPS else ""))
        else:
            result.status = "ok" if rc == 0 else "failed"
            if rc != 0:
                result.note = f"exit status {rc}"
        if parse is not None:
            try:
                result.metrics = parse()
            except (OSError, ValueError, KeyError) as exc:
                result.metrics = {}
                if result.status == "ok":
                    result.status, result.note = "failed", f"its output is incomplete: {exc}"
            check = result.metrics.pop("_failure", None)
            if check and result.status == "ok":
                result.status, result.note = "failed", check
        self.log(f"<== [{index}] {name}: {result.status} in {result.seconds:.1f} s"
                 + (f" ({result.note})" if result.note else ""))
        self.write_json()
        return result

    # ----------------------------------------------------------------- the check
    def tiny(self) -> Dict[str, object]:
        return {**TINY_SEGMENTOR, **TINY_DATA} if self.dry else {}

    def benchmark_args(self, name: str, *extra: str,
                       options: Optional[Dict[str, object]] = None) -> List[str]:
        iters, warmup = str(self.args.bench_iters), "1" if self.dry else "3"
        cmd = self.python(osp.join(REPO, "tools", "benchmark.py"), self.args.config,
                          "--device", self.device, "--iters", iters, "--warmup", warmup,
                          "--out", osp.join(self.args.work_dir, f"{name}.json"), *extra)
        if self.dry:
            cmd += ["--crop", "64", "64", "--infer-size", "64", "128"]
        else:
            cmd.append("--amp")
        options = {**(TINY_SEGMENTOR if self.dry else {}), **(options or {})}
        if options:
            cmd += ["--cfg-options", *cfg_option_args(options)]
        return cmd

    def parse_benchmark(self, name: str) -> Callable[[], dict]:
        """The benchmark's JSON; after a timeout, the modes it finished (from its output)."""
        def parse() -> dict:
            path = osp.join(self.args.work_dir, f"{name}.json")
            if osp.isfile(path):
                saved = _load_json(path)
                return dict(settings=saved["settings"], results=saved["results"],
                            table=saved["table"])
            results = benchmark_modes_from_output(self.step_output)
            if not results:
                raise ValueError(f"{path} not written and no mode finished")
            return dict(results=results, partial=True)
        return parse

    def train_options(self, iters: int, name: str) -> Dict[str, object]:
        workers = 0 if self.dry else min(8, max(2, (os.cpu_count() or 4) // 2))
        warmup = max(1, min(10, iters // 10))
        opts: Dict[str, object] = {
            "model.segmentor.backbone.init_cfg": None,  # random weights: nothing to download
            "train_cfg.max_iters": iters, "train_cfg.val_interval": iters,
            "param_scheduler.0.end": warmup, "param_scheduler.1.begin": warmup,
            "default_hooks.logger.interval": 1 if self.dry else 10,
            "default_hooks.checkpoint.interval": iters,
            "custom_hooks.0.interval": max(1, iters // 2),  # UDA debug panels once
            "custom_hooks.1.interval": max(1, iters // 2),  # teacher rank consistency
            "train_dataloader.num_workers": workers,
            "train_dataloader.persistent_workers": workers > 0,
            "val_dataloader.num_workers": min(workers, 2),
            "val_dataloader.persistent_workers": False,
            "test_dataloader.num_workers": min(workers, 2),
            "test_dataloader.persistent_workers": False,
            "experiment_name": f"gpu_check_{name}", "visualizer.name": f"gpu_check_{name}",
        }
        opts.update(self.tiny())
        return opts

    def model_options(self) -> Dict[str, object]:
        """What test.py and predict.py need to rebuild the trained model."""
        return {"model.segmentor.backbone.init_cfg": None, **self.tiny(),
                "test_dataloader.num_workers": 0, "test_dataloader.persistent_workers": False}

    def build_data(self) -> List[str]:
        for path in self.data.values():
            if osp.isdir(path):
                shutil.rmtree(path)
        if self.dry:
            src = ["--num", "4", "--size", "96x80", "--style", "lab"]
            tgt = ["--num", "4", "--size", "128x96", "--style", "field", "--val-fraction", "0.5"]
        else:
            src = ["--num", "8", "--size", "2048x1536"]
            tgt = ["--num", "8", "--size", "2560x1920", "--style", "field",
                   "--val-fraction", "0.25"]
        workers = "1" if self.dry else str(min(8, os.cpu_count() or 1))
        gen = [self.args.python, "-m", "synthetic", "generate", "--type", "crack", "--seed",
               "0", "--quiet", "--workers", workers]
        # test.txt of the target: its val split (labels used only for the scores)
        script = (
            f"{_shell(gen + src + ['--out', self.data['source']])} && "
            f"{_shell(gen + tgt + ['--seed', '1', '--out', self.data['target']])}"
            f" && cp {_quote(osp.join(self.data['target'], 'val.txt'))} "
            f"{_quote(osp.join(self.data['target'], 'test.txt'))}")
        return ["bash", "-c", script]

    def parse_data(self) -> dict:
        out = {}
        for key, root in self.data.items():
            with open(osp.join(root, "meta.json")) as f:
                meta = json.load(f)
            out[key] = dict(root=root, images=len(os.listdir(osp.join(root, "images"))),
                            size_wxh=meta["args"]["size"], splits=meta["splits"])
        return out

    def run(self) -> int:
        args = self.args
        self.log(f"gpu_check ({'dry run, CPU' if self.dry else 'GPU'}): {args.config}, "
                 f"budget {args.budget:.0f} s, work dir {args.work_dir}")
        self.env_info = environment(self.dry)
        self.log(f"environment: {json.dumps(self.env_info)}")
        gpus = len(self.env_info.get("gpus") or [])
        if "error" in self.env_info:
            self.results["environment"] = StepResult(
                "environment", "versions", status="failed", note=self.env_info["error"])
        elif not self.dry and gpus == 0:
            self.results["environment"] = StepResult(
                "environment", "versions", status="failed",
                note="no CUDA GPU is visible: run with --dry-run on a CPU machine")
        else:
            self.results["environment"] = StepResult("environment", "versions", status="ok")
        self.write_json()
        if self.results["environment"].status != "ok":
            self.log(f"environment: {self.results['environment'].note}")
            return self.finish()

        # the issue's headline checks first, so that a slow compile cannot starve them
        for step in (self.step_benchmark, self.step_data, self.step_train, self.step_test,
                     self.step_predict, self.step_memory, self.step_compile, self.step_ema,
                     self.step_syncs, self.step_dist_train):
            step()
        return self.finish()

    def tool(self, name: str, *args: str) -> List[str]:
        return self.python(osp.join(REPO, "tools", name), *args)

    def step_benchmark(self) -> None:
        self.run_step("benchmark", "HRDA UDA step: reference, batched, fast modes",
                      lambda: self.benchmark_args(
                          "benchmark", "--modes", "reference", "batched", "fast"),
                      parse=self.parse_benchmark("benchmark"))

    def step_memory(self) -> None:
        """The fast mode with the memory bounds, when its peak is over the target (GPU), and
        always in the dry run (so that the path is exercised)."""
        bench = self.results.get("benchmark")
        fast = ((bench.metrics.get("results") or {}).get("fast") or {}) if bench else {}
        peak = fast.get("train_peak_mem_gib")
        skip = ""
        if not self.dry and (peak is None or peak <= TARGET_PEAK_GIB):
            skip = (f"fast peak {_num(peak, '.1f')} GiB is within {TARGET_PEAK_GIB:g} GiB"
                    if peak is not None else "no fast peak measured")
        crops = MEMORY_BOUNDS["model.segmentor.test_cfg.max_crops_per_pass"]
        self.run_step("benchmark_memory", "fast mode with activation checkpointing and "
                      f"max_crops_per_pass={crops}",
                      lambda: self.benchmark_args("benchmark_memory", "--modes", "fast",
                                                  options=MEMORY_BOUNDS),
                      parse=self.parse_benchmark("benchmark_memory"), skip=skip)

    def step_compile(self) -> None:
        extra = ["--modes", "fast", "--compile", "--no-infer"]
        if self.dry:
            extra += ["--compile-backend", "aot_eager"]
        self.run_step("benchmark_compile", "fast mode with torch.compile (bounded)",
                      lambda: self.benchmark_args("benchmark_compile", *extra),
                      parse=self.parse_benchmark("benchmark_compile"))

    def step_ema(self) -> None:
        out = osp.join(self.args.work_dir, "ema.json")
        cmd = self.tool("gpu_check.py", "ema-probe", self.args.config, "--device", self.device,
                        "--out", out, "--iters", "3" if self.dry else "20")
        if self.dry:
            cmd += ["--cfg-options", *cfg_option_args(TINY_SEGMENTOR)]
        self.run_step("ema", "teacher EMA update: fused vs MMEngine loop", lambda: cmd,
                      parse=lambda: _load_json(out))

    def step_data(self) -> None:
        self.run_step("data", "generated source and target", self.build_data,
                      parse=self.parse_data)
        self.tool_env.update(SOURCE_ROOT=self.data["source"], TARGET_ROOT=self.data["target"])

    def step_train(self) -> None:
        args, work = self.args, osp.join(self.args.work_dir, "train")

        def build() -> List[str]:
            _clean(work)
            cmd = self.tool("train.py", args.config, "--work-dir", work)
            if not self.dry:
                cmd.append("--amp")
            return cmd + ["--cfg-options",
                          *cfg_option_args(self.train_options(args.train_iters, "train"))]

        def parse() -> dict:
            m = train_metrics(work, args.train_iters)
            m["checkpoint"] = last_checkpoint(work)
            if m["last_logged_iter"] < args.train_iters:
                m["_failure"] = (f"logged up to iteration {m['last_logged_iter']} of "
                                 f"{args.train_iters}")
            elif not m["losses_finite"]:
                m["_failure"] = f"non-finite losses: {', '.join(m['non_finite']) or 'none logged'}"
            elif m["validations"] < 1:
                m["_failure"] = "no validation was logged"
            elif not m["checkpoint"]:
                m["_failure"] = "no checkpoint was written"
            return m

        self.run_step("train", f"tools/train.py, {args.train_iters} iterations, random init",
                      build, needs=("data",), parse=parse)

    def checkpoint(self) -> str:
        return self.results["train"].metrics["checkpoint"]

    def step_test(self) -> None:
        work = osp.join(self.args.work_dir, "test")
        report = osp.join(work, "report.json")

        def parse() -> dict:
            data = _load_json(report)
            m = {k: data.get(k) for k in ("mIoU", "aAcc", "mF1", "num_images")}
            m["per_class_IoU"] = {c: v.get("IoU") for c, v in data.get("per_class", {}).items()}
            return m

        self.run_step("test", "tools/test.py --out report.json",
                      lambda: self.tool("test.py", self.args.config, self.checkpoint(),
                                        "--work-dir", work, "--out", report, "--cfg-options",
                                        *cfg_option_args(self.model_options())),
                      needs=("train",), parse=parse)

    def step_predict(self) -> None:
        out = osp.join(self.args.work_dir, "predict")
        inputs = osp.join(self.args.work_dir, "predict_input")

        def build() -> List[str]:
            _clean(inputs, out)
            os.makedirs(inputs)
            images = sorted(os.listdir(osp.join(self.data["target"], "images")))[:2]
            for name in images:
                shutil.copy(osp.join(self.data["target"], "images", name), inputs)
            return self.tool("predict.py", self.args.config, self.checkpoint(), inputs,
                             "--out", out, "--device", "cpu" if self.dry else "cuda:0",
                             "--no-progress", "--cfg-options",
                             *cfg_option_args(self.model_options()))

        def parse() -> dict:
            s = _load_json(osp.join(out, "predictions.json"))["summary"]
            m = {k: s.get(k) for k in ("num_images", "num_defect", "num_ok", "num_errors")}
            if m["num_images"] != 2:
                m["_failure"] = f"predicted {m['num_images']} of 2 images"
            return m

        self.run_step("predict", "tools/predict.py on 2 target images", build,
                      needs=("train",), parse=parse)

    def step_syncs(self) -> None:
        work = osp.join(self.args.work_dir, "syncs")
        out = osp.join(self.args.work_dir, "syncs.json")
        iters = 3 if self.dry else 8

        def build() -> List[str]:
            _clean(work)
            opts = self.train_options(iters, "syncs")
            # steady-state iterations: no debug panels, rank checks or checkpoints among them
            opts.update({"default_hooks.checkpoint.interval": iters + 1,
                         "custom_hooks.0.interval": iters + 1,
                         "custom_hooks.1.interval": iters + 1,
                         "default_hooks.checkpoint.save_last": False})
            cmd = self.tool("gpu_check.py", "syncs-probe", self.args.config, "--work-dir",
                            work, "--out", out, "--skip-iters", "1" if self.dry else "3")
            if not self.dry:
                cmd.append("--amp")
            return cmd + ["--cfg-options", *cfg_option_args(opts)]

        self.run_step("syncs", f"host syncs of real training iterations ({iters}, "
                      "torch.cuda.set_sync_debug_mode)", build, needs=("data",),
                      parse=lambda: _load_json(out))

    def step_dist_train(self) -> None:
        args = self.args
        gpus = len(self.env_info.get("gpus") or [])
        procs = args.dist_gpus if args.dist_gpus is not None else (2 if gpus >= 2 else 0)
        work = osp.join(args.work_dir, "dist_train")
        iters = 4 if self.dry else 10

        def build() -> List[str]:
            _clean(work)
            opts = self.train_options(iters, "dist")
            opts.update({"val_dataloader": None, "val_cfg": None, "val_evaluator": None})
            cmd = ["bash", osp.join(REPO, "tools", "dist_train.sh"), args.config, str(procs),
                   "--work-dir", work]
            if not self.dry:
                cmd.append("--amp")
            return cmd + ["--cfg-options", *cfg_option_args(opts)]

        def parse() -> dict:
            m = train_metrics(work, iters)
            m = {k: m[k] for k in ("last_logged_iter", "losses_finite", "s_per_iter",
                                   "peak_mem_gib")}
            m["processes"] = procs
            if not m["losses_finite"] or m["last_logged_iter"] < iters:
                m["_failure"] = "the distributed run did not log every iteration finitely"
            return m

        skip = "" if procs >= 2 else f"needs 2 GPUs, {gpus} visible"
        self.tool_env.setdefault("PYTHON", args.python)
        self.tool_env["PORT"] = str(29500 + os.getpid() % 1000)
        self.run_step("dist_train", f"tools/dist_train.sh, {procs} processes, {iters} "
                      "iterations", build, needs=("data",), parse=parse, skip=skip)

    # ----------------------------------------------------------------- summary
    def targets(self) -> List[dict]:
        """The issue's performance targets, judged on CUDA only (values shown either way)."""
        bench = self.results.get("benchmark")
        res = (bench.metrics.get("results") or {}) if bench else {}
        ref, fast = res.get("reference", {}), res.get("fast", {})
        judged = not self.dry
        out = []

        def add(name, value, limit, better):
            ok = None
            if judged and value is not None:
                ok = value >= limit if better == "higher" else value <= limit
            out.append(dict(name=name, value=value, limit=limit, better=better, passed=ok))

        speedup = None
        if ref.get("train_s_per_iter") and fast.get("train_s_per_iter"):
            speedup = ref["train_s_per_iter"] / fast["train_s_per_iter"]
        add("fast over reference, training iterations/s (x)", speedup, TARGET_SPEEDUP,
            "higher")
        add("fast training step (s/iter)", fast.get("train_s_per_iter"), TARGET_S_PER_ITER,
            "lower")
        add("fast training peak memory (GiB)", fast.get("train_peak_mem_gib"),
            TARGET_PEAK_GIB, "lower")
        train = self.results.get("train")
        finite = train.metrics.get("losses_finite") if train else None
        out.append(dict(name="real run: losses finite", value=finite, limit=True,
                        better="equal", passed=finite if judged else None))
        return out

    def markdown(self) -> str:
        env = self.env_info
        device = ", ".join(env.get("gpus") or []) or "CPU (dry run)"
        lines = [f"gpu_check {self.start_date:%Y-%m-%d %H:%M} UTC on {device}; torch "
                 f"{env.get('torch')}; {osp.relpath(self.args.config, REPO)}", "",
                 "| step | status | seconds | CPU s | limit s | note |",
                 "|---|---|---|---|---|---|"]
        for r in self.results.values():
            lines.append(f"| {r.name} | {r.status} | {_num(r.seconds, '.1f')} "
                         f"| {_num(r.cpu_s, '.1f')} | {_num(r.limit_s, '.0f')} | {r.note} |")
        for name in ("benchmark", "benchmark_memory", "benchmark_compile"):
            r = self.results.get(name)
            if r and r.metrics.get("table"):
                table = [t for t in r.metrics["table"].splitlines() if t.startswith("|")]
                notes = [t for t in r.metrics["table"].splitlines() if not t.startswith("|")]
                lines += ["", f"{name} ({_settings_text(r.metrics.get('settings', {}))}):", "",
                          *table, "", *notes]
        ema = self.results.get("ema")
        if ema and ema.metrics:
            m = ema.metrics
            lines += ["", "| EMA update | ms | host syncs |", "|---|---|---|",
                      f"| MMEngine loop | {_num(m.get('stock_ms'), '.2f')} "
                      f"| {_num(m.get('stock_syncs'), 'd')} |",
                      f"| fused (`_foreach_lerp_`) | {_num(m.get('fused_ms'), '.2f')} "
                      f"| {_num(m.get('fused_syncs'), 'd')} |"]
        syncs = self.results.get("syncs")
        if syncs and syncs.metrics:
            m = syncs.metrics
            lines += ["", f"host syncs per training iteration: "
                      f"{_num(m.get('syncs_per_iter'), '.1f')} (over "
                      f"{m.get('iterations_counted')} iterations)"]
            if m.get("sites_per_iter"):
                lines += ["", "| synchronising line | per iteration |", "|---|---|"]
                lines += [f"| `{k}` | {v:.1f} |" for k, v in m["sites_per_iter"].items()]
        train = self.results.get("train")
        if train and train.metrics:
            m = train.metrics
            lines += ["", "| real run | s/iter | data s/iter | peak GiB | losses finite "
                      "| mIoU (val) |", "|---|---|---|---|---|---|",
                      f"| {m.get('last_logged_iter')} iterations | "
                      f"{_num(m.get('s_per_iter'), '.3f')} | "
                      f"{_num(m.get('data_s_per_iter'), '.3f')} | "
                      f"{_num(m.get('peak_mem_gib'), '.1f')} | {m.get('losses_finite')} | "
                      f"{_num(m.get('val_metrics', {}).get('mIoU'), '.1f')} |"]
        lines += ["", "| target | value | limit | passed |", "|---|---|---|---|"]
        for t in self.targets():
            value = t["value"] if not isinstance(t["value"], float) else f"{t['value']:.3f}"
            passed = "not judged (CPU)" if t["passed"] is None else t["passed"]
            lines.append(f"| {t['name']} | {value} | {t['limit']} | {passed} |")
        return "\n".join(lines) + "\n"

    def finish(self) -> int:
        summary = self.write_json(finished=True)
        with open(self.md_path, "w") as f:
            f.write(self.markdown())
        self.log("")
        self.log(f"gpu_check summary ({summary['mode']}, {summary['elapsed_s']:.0f} s of "
                 f"{self.args.budget:.0f} s budget):")
        for r in self.results.values():
            self.log(f"  {r.name:<18} {r.status:<11} {_num(r.seconds, '6.1f')} s"
                     + (f" (CPU {r.cpu_s:.1f} s)" if r.cpu_s is not None else "")
                     + (f"  (limit {r.limit_s:.0f} s)" if r.limit_s else "")
                     + (f"  {r.note}" if r.note else ""))
        for t in summary["targets"]:
            self.log(f"  target: {t['name']}: {t['value']} (limit {t['limit']}, passed "
                     f"{'not judged on CPU' if t['passed'] is None else t['passed']})")
        self.log(f"gpu_check: {'OK' if summary['ok'] else 'FAILED'} -> {self.json_path}")
        self._log_file.close()
        return 0 if summary["ok"] else 1


def _num(value, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def _settings_text(s: dict) -> str:
    keys = ("device", "batch_per_domain", "crop", "infer_size", "iters", "warmup", "amp",
            "compile")
    return ", ".join(f"{k} {s[k]}" for k in keys if k in s)


def _clean(*paths: str) -> None:
    """Remove folders of an earlier run of the check (the work dir is reused)."""
    for path in paths:
        if osp.isdir(path):
            shutil.rmtree(path)


def _load_json(path: str) -> dict:
    with open(path) as f:
        return json.load(f)


def _quote(text: str) -> str:
    import shlex
    return shlex.quote(str(text))


def _shell(cmd: Sequence[str]) -> str:
    return " ".join(_quote(c) for c in cmd)


# --------------------------------------------------------------------------- the EMA probe
def ema_probe(argv=None) -> dict:
    """Time the teacher's EMA update, fused (``build_ema_teacher``) vs MMEngine's loop.

    ``python tools/gpu_check.py ema-probe CONFIG --device cuda --out ema.json [--iters 20]``:
    both teachers average the same HRDA student of CONFIG (random weights), whose parameters
    change between updates; reports ms per update (median), the host syncs of one update
    (CUDA: ``torch.cuda.set_sync_debug_mode('warn')`` warnings) and the largest difference of
    the two teachers afterwards (0: the same update).
    """
    from mmengine.config import DictAction

    parser = argparse.ArgumentParser(prog="gpu_check.py ema-probe")
    parser.add_argument("config")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--out", required=True)
    parser.add_argument("--cfg-options", nargs="+", action=DictAction, default={})
    args = parser.parse_args(argv)
    sys.path.insert(0, REPO)
    import copy
    import warnings

    import torch
    from mmengine.model import MomentumAnnealingEMA
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    import mmseg_uda  # noqa: F401
    from mmseg_uda.models.uda.teacher import build_ema_teacher
    from mmseg_uda.utils import load_config
    from tools.benchmark import segmentor_config

    init_default_scope("mmseg")
    cfg = load_config(args.config, args.cfg_options or None)
    model_cfg = copy.deepcopy(segmentor_config(cfg))
    model_cfg["backbone"]["init_cfg"] = None
    model_cfg["data_preprocessor"] = None
    device = torch.device(args.device)
    torch.manual_seed(0)
    student = MODELS.build(model_cfg).to(device)
    alpha = float(cfg.model.get("alpha", 0.999))
    teachers = dict(stock=MomentumAnnealingEMA(student, momentum=1 - alpha, gamma=1),
                    fused=build_ema_teacher(student, alpha))
    for t in teachers.values():
        t.module.requires_grad_(False)
    params = list(student.parameters())

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    times: Dict[str, List[float]] = {k: [] for k in teachers}
    syncs: Dict[str, Optional[int]] = dict.fromkeys(teachers)
    for it in range(args.iters + 2):
        with torch.no_grad():  # a new student between updates
            torch._foreach_add_(params, [torch.full_like(p, 1e-3 * (it + 1)) for p in params])
        for name, teacher in teachers.items():
            sync()
            start = time.perf_counter()
            if device.type == "cuda" and it == 2:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    torch.cuda.set_sync_debug_mode("warn")
                    try:
                        teacher.update_parameters(student)
                    finally:
                        torch.cuda.set_sync_debug_mode("default")
                syncs[name] = sum("synchroniz" in str(w.message) for w in caught)
            else:
                teacher.update_parameters(student)
            sync()
            if it >= 2:  # after the copy (step 0) and one warm-up update
                times[name].append(time.perf_counter() - start)
    diff = max(float((a - b).abs().max()) for a, b in zip(
        teachers["stock"].module.parameters(), teachers["fused"].module.parameters()))
    result = dict(device=str(device), tensors=len(params),
                  parameters=sum(p.numel() for p in params), updates=args.iters,
                  stock_ms=1e3 * statistics.median(times["stock"]),
                  fused_ms=1e3 * statistics.median(times["fused"]),
                  stock_syncs=syncs["stock"], fused_syncs=syncs["fused"],
                  max_abs_difference=diff)
    result["speedup"] = result["stock_ms"] / result["fused_ms"]
    print(f"[ema-probe] {json.dumps(result)}", flush=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    if diff > 1e-5:
        raise SystemExit(f"[ema-probe] the fused EMA differs from MMEngine's by {diff:g}")
    return result


# --------------------------------------------------------------------------- the sync probe
def syncs_probe(argv=None) -> dict:
    """Find the host syncs of real training iterations of CONFIG (CUDA).

    ``python tools/gpu_check.py syncs-probe CONFIG --work-dir DIR --out syncs.json [--amp]
    [--skip-iters 3] [--cfg-options ...]`` builds the Runner as tools/train.py does and trains
    ``train_cfg.max_iters`` iterations; from iteration ``--skip-iters`` + 1 on, every iteration
    (data preprocessing, forward, backward, optimizer, the runtime hooks that log the losses)
    runs under ``torch.cuda.set_sync_debug_mode('warn')``, and each synchronising call is
    counted by the Python line that made it. A sync that PyTorch reports outside the Python
    thread (in the autograd engine's backward threads) may only be printed to the log by
    PyTorch's C++ warning handler, not counted. On the CPU the iterations run and nothing is
    counted (``syncs_per_iter`` is null).
    """
    from mmengine.config import DictAction

    parser = argparse.ArgumentParser(prog="gpu_check.py syncs-probe")
    parser.add_argument("config")
    parser.add_argument("--work-dir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--amp", action="store_true")
    parser.add_argument("--skip-iters", type=int, default=3)
    parser.add_argument("--cfg-options", nargs="+", action=DictAction, default={})
    args = parser.parse_args(argv)
    sys.path.insert(0, REPO)
    import collections
    import warnings

    import torch
    from mmengine.hooks import Hook
    from mmengine.runner import Runner
    from mmseg.registry import HOOKS

    import mmseg_uda  # noqa: F401
    from mmseg_uda.utils import enable_amp, load_config

    cuda = torch.cuda.is_available()
    state = dict(ctx=None, records=None, iters=0)
    sites: collections.Counter = collections.Counter()

    class SyncProbeStart(Hook):
        priority = "HIGHEST"  # before every other hook's before_train_iter

        def before_train_iter(self, runner, batch_idx, data_batch=None):
            if not cuda or runner.iter < args.skip_iters:
                return
            state["ctx"] = warnings.catch_warnings(record=True)
            state["records"] = state["ctx"].__enter__()
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")

    class SyncProbeStop(Hook):
        priority = "LOWEST"  # after every other hook's after_train_iter (loss logging)

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            if state["ctx"] is None:
                return
            torch.cuda.set_sync_debug_mode("default")
            state["ctx"].__exit__(None, None, None)
            for w in state["records"]:
                if "synchroniz" in str(w.message):
                    sites[f"{_short_path(w.filename)}:{w.lineno}"] += 1
            state["ctx"] = None
            state["iters"] += 1

    for hook in (SyncProbeStart, SyncProbeStop):
        HOOKS.register_module(module=hook, force=True)
    cfg = load_config(args.config, args.cfg_options or None)
    cfg.work_dir = args.work_dir
    cfg.launcher = "none"
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None  # training iterations only
    if args.amp:
        enable_amp(cfg)
    cfg.custom_hooks = list(cfg.get("custom_hooks") or []) + [
        dict(type="SyncProbeStart", priority="HIGHEST"),
        dict(type="SyncProbeStop", priority="LOWEST")]
    runner = Runner.from_cfg(cfg)
    runner.train()
    counted = state["iters"]
    total = sum(sites.values())
    result = dict(cuda=cuda, iterations_counted=counted,
                  syncs_per_iter=total / counted if cuda and counted else None,
                  sites_per_iter={k: v / counted for k, v in sites.most_common(25)}
                  if counted else {})
    print(f"[syncs-probe] {json.dumps(result)}", flush=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    return result


def _short_path(path: str) -> str:
    """A site-packages or repository path from the package / repository root on."""
    for marker in ("site-packages" + os.sep, REPO + os.sep):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["ema-probe"]:
        ema_probe(argv[1:])
        return 0
    if argv[:1] == ["syncs-probe"]:
        syncs_probe(argv[1:])
        return 0
    check = GPUCheck(parse_args(argv))

    def stop(signum, frame):
        raise Interrupted(f"signal {signum}")

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        return check.run()
    except Interrupted:
        check.log("gpu_check: stopped by a signal; the JSON holds the steps so far")
        check.finish()
        return 130
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


if __name__ == "__main__":
    sys.exit(main())
