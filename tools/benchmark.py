"""Time HRDA training iterations and inference: reference-like mode vs fast mode, one run.

    python tools/benchmark.py CONFIG [--device cuda] [--amp] [--compile] [--batch 2]
        [--crop 1024 1024] [--infer-size 1024 2048] [--iters 20] [--warmup 5] [--rounds 1]
        [--modes reference fast] [--interleave] [--out result.json] [--cfg-options k=v ...]
        [--compile-backend inductor|aot_eager|...]

The config's HRDA segmentor (``model``, or ``model.segmentor`` of a UDA config) is timed on
the shapes of one HRDA UDA iteration with random data — B source + B target crops:

1. teacher (EMA copy, no grad): HRDA inference on the target crops (context pass + sliding
   detail windows), softmax, pseudo-labels and a confidence weight;
2. a class-mixed image (source pixels of the source's defect classes pasted on the target);
3. student: HRDA losses on the source and on the mixed crops, backward, AdamW step;
4. EMA update of the teacher.

Modes (the same config, built once per mode):

* ``reference`` — what the reference implementation does: fp32, stock MiT attention
  (``nn.MultiheadAttention``), one network pass per crop (``batch_crops=False``: context,
  detail, and each inference window separately), source and mixed losses as two forward and
  backward passes, EMA as a Python loop over parameters.
* ``batched`` (ablation, not run by default) — the batching of ``fast`` alone: fp32, stock
  attention, no compile.
* ``fast`` — crops of one shape as one batch (teacher: context + all windows in one pass;
  student: [source; mixed] x [context; detail] in one pass with per-group losses, one
  backward), fused attention (``MixVisionTransformerSDPA``), foreach EMA, bf16 autocast with
  ``--amp`` (CUDA), ``torch.compile`` of backbone and heads with ``--compile``.

Each call is timed on its own (synchronised on CUDA, as a training loop that logs losses is)
and the median after ``--warmup`` calls is reported. Modes run one after the other, each alone
in memory; ``--interleave`` builds them together and alternates their calls so that both see
the same load (for shared CPUs; no peak memory then). Inference is timed on one image of
``--infer-size`` (the outer sliding window applies when it is larger than the context crop).
Peak memory is ``torch.cuda.max_memory_allocated`` per mode on CUDA (not measured on CPU).
Results print as a table (medians over ``--rounds``) and, with ``--out``, as JSON with every
round's numbers.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import gc
import json
import os
import os.path as osp
import platform
import statistics
import sys
import time
from contextlib import nullcontext
from typing import Callable, Dict, List, Optional

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from tools._cli import CfgOptionsAction, add_debug_flag, parse_early, status_only  # noqa: E402

MODES = ("reference", "batched", "fast")
BATCHED_MODES = ("batched", "fast")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="HRDA speed and memory benchmark")
    parser.add_argument("config", help="config with an HRDA segmentor (model or model.segmentor)")
    parser.add_argument("--device", help="cuda or cpu (default: cuda when available)")
    parser.add_argument("--batch", type=int, default=2,
                        help="crops per domain: B source + B target (default: 2)")
    parser.add_argument("--crop", type=int, nargs=2, default=None, metavar=("H", "W"),
                        help="training crop in pixels (default: the data preprocessor's size)")
    parser.add_argument("--infer-size", type=int, nargs=2, default=None, metavar=("H", "W"),
                        help="inference image size (default: crop height x twice its width)")
    parser.add_argument("--iters", type=int, default=20, help="timed iterations (default: 20)")
    parser.add_argument("--warmup", type=int, default=5,
                        help="untimed warm-up iterations (default: 5)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="repeat every mode this many times, report medians (default: 1; "
                             "use 3+ on shared CPUs)")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=["reference", "fast"],
                        help="modes to time (default: reference fast; 'batched' is the fast "
                             "mode without fused attention, bf16 and compile: the batching "
                             "alone)")
    parser.add_argument("--interleave", action="store_true",
                        help="build all modes at once and alternate their steps call by call, "
                             "so that each sees the same load (shared CPUs); no peak memory")
    parser.add_argument("--amp", action="store_true", help="fast mode: bf16 autocast (CUDA)")
    parser.add_argument("--compile", action="store_true",
                        help="fast mode: torch.compile the backbone and the heads")
    parser.add_argument("--compile-backend", default="inductor",
                        help="torch.compile backend of --compile (default: inductor; "
                             "'aot_eager' captures the graphs without generating code, "
                             "the CPU dry run of scripts/gpu_check.sh)")
    parser.add_argument("--no-fused-attention", action="store_true",
                        help="fast mode: keep the stock MiT attention")
    parser.add_argument("--no-train", action="store_true", help="time inference only")
    parser.add_argument("--no-infer", action="store_true", help="time training only")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="write the results as JSON to this file")
    parser.add_argument("--cfg-options", nargs="+", action=CfgOptionsAction,
                        help="override config settings, key=value")
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    if args.iters < 1 or args.warmup < 0 or args.rounds < 1 or args.batch < 1:
        parser.error("--iters, --rounds and --batch must be >= 1 and --warmup >= 0")
    import torch

    if args.device is None:
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.amp and not args.device.startswith("cuda"):
        parser.error("--amp needs --device cuda (bf16 autocast on the GPU)")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("--device cuda but no CUDA GPU is visible")
    return args


parse_early(__name__, parse_args)  # --help before the stack is imported

import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmseg.registry import MODELS  # noqa: E402

import mmseg_uda  # noqa: E402,F401
from mmseg_uda.utils import load_config  # noqa: E402

STOCK_MIT, FUSED_MIT = "MixVisionTransformer", "MixVisionTransformerSDPA"
from mmseg_uda.utils import exit_tool, run_tool  # noqa: E402


def segmentor_config(cfg: Config) -> dict:
    """The HRDA segmentor's model config (bare, or wrapped by a UDA model)."""
    model = copy.deepcopy(cfg.model)
    if model.get("type") != "HRDAEncoderDecoder" and "segmentor" in model:
        model = copy.deepcopy(model.segmentor)
    if model.get("type") != "HRDAEncoderDecoder":
        raise SystemExit(f"{cfg.filename}: model (or model.segmentor) must be an "
                         f"HRDAEncoderDecoder, got {model.get('type')!r}")
    return model


def build_mode(model_cfg: dict, mode: str, args, device: torch.device):
    """Student, teacher and optimizer of one mode."""
    cfg = copy.deepcopy(model_cfg)
    cfg["data_preprocessor"] = None
    cfg["batch_crops"] = mode in BATCHED_MODES
    backbone_type = cfg["backbone"]["type"]
    if backbone_type in (STOCK_MIT, FUSED_MIT):
        fused = mode == "fast" and not args.no_fused_attention
        cfg["backbone"]["type"] = FUSED_MIT if fused else STOCK_MIT
    cfg["backbone"]["init_cfg"] = None  # random weights: timing does not need pretraining
    torch.manual_seed(args.seed)
    student = MODELS.build(cfg).to(device)  # PyTorch's default init: enough for timing
    student.train()
    teacher = copy.deepcopy(student)
    for m in teacher.modules():  # the mean teacher runs without dropout / drop path
        if isinstance(m, torch.nn.modules.dropout._DropoutNd):
            m.p = 0.0
        elif hasattr(m, "drop_prob"):
            m.drop_prob = 0.0
    teacher.requires_grad_(False)
    if mode == "fast" and args.compile:
        for model in (student, teacher):
            model.backbone = torch.compile(model.backbone, dynamic=False,
                                           backend=args.compile_backend)
            model.decode_head = torch.compile(model.decode_head, dynamic=False,
                                              backend=args.compile_backend)
    optimizer = torch.optim.AdamW(student.parameters(), lr=6e-5, weight_decay=0.01)
    return student, teacher, optimizer


def random_batch(args, num_classes: int, crop, device: torch.device, gen: torch.Generator):
    """Normalised source/target crops and a source label with thin defect strokes."""
    b, (h, w) = args.batch, crop
    source = torch.randn(b, 3, h, w, generator=gen).to(device)
    target = torch.randn(b, 3, h, w, generator=gen).to(device)
    label = torch.zeros(b, h, w, dtype=torch.long)
    for i in range(b):
        for cls in range(1, num_classes):
            row = int(torch.randint(0, h - 8, (1,), generator=gen))
            label[i, row:row + 6, : w // 2] = cls
    return source, target, label.to(device)


def uda_step(mode: str, student, teacher, optimizer, batch, autocast,
             tau: float = 0.968, alpha: float = 0.999) -> None:
    """One HRDA UDA iteration (see the module docstring)."""
    source, target, src_label = batch
    with torch.no_grad(), autocast():
        logits = teacher.inference_logits(target)
    prob, pseudo = torch.softmax(logits.float(), dim=1).max(dim=1)
    weight = (prob >= tau).float().mean(dim=(1, 2))  # one confidence per image
    paste = src_label > 0  # ClassMix stand-in: the source's defect pixels on the target
    mixed = torch.where(paste[:, None], source, target)
    mix_label = torch.where(paste, src_label, pseudo)
    mix_weight = torch.where(paste, torch.ones_like(prob), weight[:, None, None])
    optimizer.zero_grad(set_to_none=True)
    if mode in BATCHED_MODES:
        n = source.shape[0]
        with autocast():
            losses = student.weighted_loss(
                torch.cat([source, mixed]), torch.cat([src_label, mix_label]),
                torch.cat([torch.ones_like(mix_weight), mix_weight]),
                groups={"src": n, "mix": n})
        sum(v for k, v in losses.items() if "loss" in k).backward()
    else:  # one forward and backward per loss, as the reference
        for images, label, pw in ((source, src_label, None), (mixed, mix_label, mix_weight)):
            losses = student.weighted_loss(images, label, pw)
            sum(v for k, v in losses.items() if "loss" in k).backward()
    optimizer.step()
    with torch.no_grad():
        t_params = list(teacher.parameters())
        s_params = [p.detach() for p in student.parameters()]
        if mode in BATCHED_MODES:
            torch._foreach_lerp_(t_params, s_params, 1 - alpha)
        else:
            for t, s in zip(t_params, s_params):
                t.mul_(alpha).add_(s, alpha=1 - alpha)


class ModeRunner:
    """One mode's student, teacher, optimizer and data; one call = one timed step."""

    def __init__(self, mode: str, model_cfg: dict, args, device: torch.device, crop,
                 infer_size) -> None:
        self.mode, self.device = mode, device
        self.student, self.teacher, self.optimizer = build_mode(model_cfg, mode, args, device)
        self.amp = mode == "fast" and args.amp
        gen = torch.Generator().manual_seed(args.seed)
        self.batch = random_batch(args, self.student.num_classes, crop, device, gen)
        self.image = torch.randn(1, 3, *infer_size, generator=gen).to(device)

    def phase(self, kind: str) -> Callable[[], None]:
        """The step of a phase; the teacher runs in train mode for pseudo-labels (as the
        reference, without dropout) and in eval mode for inference."""
        self.teacher.train(kind == "train")
        return self.train_step if kind == "train" else self.infer_step

    def autocast(self):
        return torch.autocast("cuda", dtype=torch.bfloat16) if self.amp else nullcontext()

    def train_step(self) -> None:
        uda_step(self.mode, self.student, self.teacher, self.optimizer, self.batch,
                 self.autocast)

    def infer_step(self) -> None:
        with torch.no_grad(), self.autocast():
            self.teacher.inference_logits(self.image)

    def timed_call(self, fn: Callable[[], None]) -> float:
        """Seconds of one call, synchronised on CUDA (like a training loop that logs)."""
        start = time.perf_counter()
        fn()
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter() - start


def summarise(kind: str, first: float, times: List[float], images: int,
              peak: Optional[float]) -> Dict[str, Optional[float]]:
    """Median seconds per call (robust to load spikes on shared machines) and derived rates."""
    seconds = statistics.median(times)
    unit = "iter" if kind == "train" else "image"
    return {f"{kind}_s_per_{unit}": seconds, f"{kind}_first_call_s": first,
            f"{kind}_images_per_s": images / seconds, f"{kind}_peak_mem_gib": peak}


def run_sequential(mode: str, model_cfg: dict, args, device: torch.device, crop,
                   infer_size) -> Dict:
    """Build one mode, time training then inference; peak memory of this mode alone."""
    runner = ModeRunner(mode, model_cfg, args, device, crop, infer_size)
    result: Dict[str, Optional[float]] = {}
    for kind, images, enabled in (("train", 2 * args.batch, not args.no_train),
                                  ("infer", 1, not args.no_infer)):
        if not enabled:
            continue
        fn = runner.phase(kind)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        calls = [runner.timed_call(fn) for _ in range(max(args.warmup, 1) + args.iters)]
        times = calls[max(args.warmup, 1):]
        result.update(summarise(kind, calls[0], times, images, _peak(device)))
    return result


def run_interleaved(model_cfg: dict, args, device: torch.device, crop,
                    infer_size) -> Dict[str, Dict]:
    """All modes built at once, their steps alternated call by call (same load for each)."""
    runners = {m: ModeRunner(m, model_cfg, args, device, crop, infer_size) for m in args.modes}
    results: Dict[str, Dict] = {m: {} for m in args.modes}
    for kind, images, enabled in (("train", 2 * args.batch, not args.no_train),
                                  ("infer", 1, not args.no_infer)):
        if not enabled:
            continue
        steps = {m: runner.phase(kind) for m, runner in runners.items()}
        calls: Dict[str, List[float]] = {m: [] for m in args.modes}
        for _ in range(max(args.warmup, 1) + args.iters):
            for m, runner in runners.items():
                calls[m].append(runner.timed_call(steps[m]))
        for m in args.modes:
            times = calls[m][max(args.warmup, 1):]
            results[m].update(summarise(kind, calls[m][0], times, images, None))
    return results


def _peak(device: torch.device) -> Optional[float]:
    if device.type != "cuda":
        return None
    return torch.cuda.max_memory_allocated(device) / 2**30


def environment(device: torch.device) -> Dict:
    env = dict(date=datetime.datetime.now().isoformat(timespec="seconds"),
               host=platform.node(), machine=platform.machine(), python=platform.python_version(),
               torch=torch.__version__, threads=torch.get_num_threads())
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
    else:
        env["cpu"] = platform.processor() or _cpu_model()
        env["cpu_count"] = os.cpu_count()
        if hasattr(os, "getloadavg"):  # shared machines: how busy it was at the end
            env["load_average_1_5_15min"] = [round(v, 2) for v in os.getloadavg()]
    return env


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def _fmt(value: Optional[float], spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def report(results: Dict[str, Dict], args) -> str:
    lines = ["| mode | train s/iter | train img/s | train peak GiB | infer s/img | infer img/s "
             "| infer peak GiB | first train iter s |",
             "|---|---|---|---|---|---|---|---|"]
    for mode, r in results.items():
        lines.append(
            f"| {mode} | {_fmt(r.get('train_s_per_iter'), '.3f')} "
            f"| {_fmt(r.get('train_images_per_s'), '.2f')} "
            f"| {_fmt(r.get('train_peak_mem_gib'), '.1f')} "
            f"| {_fmt(r.get('infer_s_per_image'), '.3f')} "
            f"| {_fmt(r.get('infer_images_per_s'), '.2f')} "
            f"| {_fmt(r.get('infer_peak_mem_gib'), '.1f')} "
            f"| {_fmt(r.get('train_first_call_s'), '.1f')} |")
    ref = results.get("reference", {})
    for mode in (m for m in results if m != "reference"):
        for key, name in (("train_s_per_iter", "training"), ("infer_s_per_image", "inference")):
            if ref.get(key) and results[mode].get(key):
                lines.append(f"speed-up of {mode} over reference, {name}: "
                             f"{ref[key] / results[mode][key]:.2f}x")
    return "\n".join(lines)


def main(argv=None) -> Dict:
    args = parse_args(argv)
    init_default_scope("mmseg")
    cfg = load_config(args.config, args.cfg_options)
    model_cfg = segmentor_config(cfg)
    device = torch.device(args.device)
    crop = tuple(args.crop or (model_cfg.get("data_preprocessor") or {}).get("size")
                 or (1024, 1024))
    infer_size = tuple(args.infer_size or (crop[0], 2 * crop[1]))
    rounds: Dict[str, List[Dict]] = {m: [] for m in args.modes}
    for _ in range(args.rounds):
        if args.interleave:
            for mode, result in run_interleaved(model_cfg, args, device, crop,
                                                infer_size).items():
                rounds[mode].append(result)
                print(f"[benchmark] {mode}: {result}", flush=True)
            gc.collect()
            continue
        for mode in args.modes:
            rounds[mode].append(run_sequential(mode, model_cfg, args, device, crop,
                                               infer_size))
            print(f"[benchmark] {mode}: {rounds[mode][-1]}", flush=True)
            gc.collect()  # the mode's models are gone: measure the next one alone
            if device.type == "cuda":
                torch.cuda.empty_cache()
    results = {mode: {key: (statistics.median(r[key] for r in runs)
                            if runs[0][key] is not None else None) for key in runs[0]}
               for mode, runs in rounds.items()}
    table = report(results, args)
    settings = dict(config=args.config, device=str(device), batch_per_domain=args.batch,
                    crop=list(crop), infer_size=list(infer_size), iters=args.iters,
                    warmup=args.warmup, rounds=args.rounds, interleave=args.interleave,
                    amp=args.amp, compile=args.compile,
                    compile_backend=args.compile_backend if args.compile else None,
                    fused_attention=not args.no_fused_attention,
                    cfg_options=dict(args.cfg_options or {}))
    print(f"HRDA benchmark: {settings}")
    print(f"environment: {environment(device)}")
    print(table)
    output = dict(settings=settings, environment=environment(device), results=results,
                  rounds=rounds, table=table)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(output, f, indent=2)
    return output


if __name__ == "__main__":
    exit_tool(run_tool(status_only(main), "tools/benchmark.py"))
