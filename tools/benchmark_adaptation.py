"""Adaptation benchmark: every method trained with the same budget and seeds, side by side.

    python tools/benchmark_adaptation.py configs/benchmarks/cracks_cpu.py \
        --target ../shared/data/cfd
    python tools/benchmark_adaptation.py configs/benchmarks/demo_cpu.py   # no external data

A benchmark file (an MMEngine config) names the methods (each a training config), the budget,
the seeds, and the source data (a folder, or generator arguments). For each method and seed the
runner calls ``tools/train.py`` and ``tools/test.py`` (so every run is an ordinary run you can
inspect in its work dir), then writes one table — defect IoU, F1, tolerant F1, mIoU as mean ±
std over seeds, wall time, and the fraction of the source-only → oracle gap each method closes
— as JSON and Markdown, plus a PNG of target IoU over iterations per method.

A method is a training config, or ``dict(config=..., source='target')`` (the oracle: trained on
the target's labeled train split), ``dict(config=..., generate=dict(...))`` (its own generated
source), ``dict(config=..., tent=dict(after=METHOD, args=[...]))`` (``tools/tent.py`` on that
method's final checkpoint of the same seed; its time is the adaptation alone),
``dict(config=..., pretrain=True)`` (its backbone starts from the benchmark's self-supervised
pretraining: ``pretrain=dict(config=..., iters=N, data='target' | 'target+source')`` at the top
level runs ``tools/pretrain.py`` once per seed, cached in ``WORK_DIR/pretrain/seed<N>``).

A few labeled target images: ``labeled_target=N`` in a method's dict (or ``dict(num=N,
ratio=r)``), or ``--labeled-target N`` for every trained method without its own key, adds N
images of the target's ``train.txt`` (never ``test.txt``) with their masks to the supervised
stream (``train_dataloader.dataset.labeled_target`` of the UDA set): chosen per seed by a
seeded shuffle, listed in ``<run dir>/labeled_target.txt`` and ``run.json``; the run dir is
``<method>/seed<S>_labels<N>``, so runs with other N are never reused.

``defect_class`` names the class scored (default ``'crack'``); a list of classes (a multi-class
benchmark, e.g. ``configs/benchmarks/magnetic_tile_cpu.py``) scores their mean IoU (the mIoU over
the defect classes, background left out) with one IoU column per class. ``root_env=dict(source=
[...], target=[...])`` sets more environment variables to the source / target roots, for
configs that read other names than ``SOURCE_ROOT`` / ``TARGET_ROOT``.

Finished runs (with a report) are reused, so an interrupted benchmark continues where it
stopped; pass --rerun to train them again. Nothing the runner made is deleted unasked: the
folder of an interrupted run (no report) is moved to ``seed<S>.interrupted-<time>`` before the
run starts again, and a stale generated source or pretraining to ``<folder>.old-<time>``.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import math
import os
import os.path as osp
import shutil
import subprocess
import sys
import time
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
# "gap closed" is computed only when the oracle's IoU is above source-only's by more than this.
GAP_MIN_POINTS = 0.0
# A self-training method whose mean logged pseudo.weight is below this never switched its target
# loss on (the default of SelfTrainingWatchHook's min_weight).
MIN_PSEUDO_WEIGHT = 0.01
sys.path.insert(0, REPO)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("benchmark", help="benchmark file, e.g. configs/benchmarks/cracks_cpu.py")
    parser.add_argument("--target", help="target dataset root (images/, masks/, train split "
                        "unlabeled for adaptation, test split labeled); overrides the file")
    parser.add_argument("--source", help="source dataset root; overrides the file's generator")
    parser.add_argument("--methods", help="comma-separated subset of the file's methods")
    parser.add_argument("--seeds", help="comma-separated seeds (overrides the file)")
    parser.add_argument("--iters", type=int, help="training iterations (overrides the file)")
    parser.add_argument("--work-dir", help="where runs go (default: work_dirs/benchmarks/<name>)")
    parser.add_argument("--out-dir", help="where the table and plot go (default: the work dir)")
    parser.add_argument("--rerun", action="store_true", help="train finished runs again")
    parser.add_argument("--only-finished", action="store_true",
                        help="train nothing: write the table over the runs that have a report "
                             "(e.g. after running methods and seeds in parallel invocations)")
    parser.add_argument("--labeled-target", type=int, default=None, metavar="N",
                        help="add N labeled images of the target's train.txt (chosen per "
                             "seed) to the supervised stream of every trained method that "
                             "has no labeled_target key of its own")
    parser.add_argument("--cfg-options", nargs="+", default=[],
                        help="extra --cfg-options passed to every training run")
    return parser.parse_args(argv)


# ----------------------------------------------------------------------------- helpers
def _load_benchmark(path: str):
    from mmengine.config import Config

    if not osp.isfile(path):
        raise SystemExit(f"benchmark file not found: {path!r}")
    bench = Config.fromfile(path)
    for key in ("methods", "seeds", "budget", "target"):
        if key not in bench:
            raise SystemExit(f"{path}: missing key {key!r}")
    return bench


def _run(cmd: List[str], env: dict, log_path: str) -> float:
    """Run a tool, teeing nothing to the console; raise with the log's tail on failure."""
    start = time.time()
    with open(log_path, "w") as log:
        proc = subprocess.run(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        with open(log_path) as f:
            tail = f.read()[-3000:]
        raise RuntimeError(f"command failed ({proc.returncode}): {' '.join(cmd)}\n"
                           f"log: {log_path}\n{tail}")
    return time.time() - start


GENERATE_KEYS = ("type", "num", "size", "seed", "style", "workers", "disable", "enable",
                 "fit_style", "backgrounds", "ignore_from", "ignore_threshold")


def move_aside(path: str, tag: str) -> str:
    """Rename ``path`` to ``<path>.<tag>-<time>`` (never over an existing folder); returns the
    new name. The runner keeps what it replaces instead of deleting it."""
    aside = f"{path}.{tag}-{time.strftime('%Y%m%d_%H%M%S')}"
    kept, n = aside, 1
    while osp.exists(kept):  # two in the same second
        kept, n = f"{aside}-{n}", n + 1
    os.rename(path, kept)
    return kept


def generate_source(gen: dict, out_dir: str, target_root: Optional[str] = None) -> str:
    """Generate the source set once; reuse it while the arguments and the generator version
    are the same (a preset tuned in a later version regenerates the set).

    Target-aware keys (they read the target's unlabeled ``train.txt`` photos, never its
    labels or ``test.txt``): ``fit_style=True`` fits a style to the photos first
    (``python -m synthetic fit-style``, on the given ``style`` as base) and generates with it;
    ``backgrounds='target'`` renders the defects into the photos; ``ignore_from=[config,
    checkpoint]`` labels a trained model's detections in them 255 (resolved by the runner from
    ``dict(method=NAME)``: that method's final checkpoint of the same seed).
    """
    from synthetic.version import __version__ as generator_version

    unknown = sorted(set(gen) - set(GENERATE_KEYS))
    if unknown:
        raise SystemExit(f"generate: unknown key(s) {unknown}; known: {', '.join(GENERATE_KEYS)}")
    style = str(gen.get("style", "pavement"))
    pre: List[List[str]] = []
    if (gen.get("fit_style") or gen.get("backgrounds")) and not target_root:
        raise SystemExit("generate: fit_style / backgrounds need the target's photos")
    if gen.get("fit_style"):
        style_file = osp.join(out_dir, "fitted_style.json")
        pre.append(["fit-style", "--target", target_root, "--split", "train.txt",
                    "--base", style, "--out", style_file, "--overwrite"])
        style = style_file
    args = ["--type", str(gen.get("type", "crack")), "--num", str(gen["num"]),
            "--size", str(gen.get("size", 512)), "--seed", str(gen.get("seed", 0)),
            "--style", style, "--workers", str(gen.get("workers", 2)), "--quiet"]
    if gen.get("disable"):
        args += ["--disable", ",".join(gen["disable"])]
    if gen.get("enable"):
        args += ["--enable", ",".join(gen["enable"])]
    if gen.get("backgrounds"):
        if gen["backgrounds"] != "target":
            raise SystemExit(f"generate: backgrounds must be 'target', got {gen['backgrounds']!r}")
        args += ["--backgrounds", target_root, "--backgrounds-split", "train.txt"]
    if gen.get("ignore_from"):
        args += ["--ignore-from", *[str(v) for v in gen["ignore_from"]],
                 "--ignore-threshold", str(gen.get("ignore_threshold", 0.5))]
    record = dict(args=args, pre=pre, version=generator_version)
    if not gen.get("fit_style") and osp.isfile(style):
        # a style file: its content decides the images, not its path (an edited file is a
        # new source)
        with open(style, "rb") as f:
            record["style_sha256"] = hashlib.sha256(f.read()).hexdigest()
    stamp = osp.join(out_dir, ".generator_args.json")
    data_dir = osp.join(out_dir, "data") if pre else out_dir
    if osp.isfile(stamp):
        with open(stamp) as f:
            if json.load(f) == record:
                return data_dir
        why = "made with other arguments or another generator version"
    else:  # the stamp is written last
        why = "incomplete (interrupted?)"
    if osp.isdir(out_dir):  # our own cache (the runner names these folders): kept aside
        kept = move_aside(out_dir, "old")
        print(f"[benchmark] {out_dir} is {why}: generating it again (the old one moved to "
              f"{kept})", flush=True)
    os.makedirs(osp.dirname(out_dir) or ".", exist_ok=True)
    print(f"[benchmark] generating {osp.basename(out_dir)} -> {out_dir}", flush=True)
    if pre:  # the fitted style lives beside the images: generate into a sub-folder
        os.makedirs(out_dir, exist_ok=True)
    for step in pre:
        cmd = [sys.executable, "-m", "synthetic", *step]
        if subprocess.run(cmd, cwd=REPO).returncode != 0:
            raise SystemExit(f"source generation failed: {' '.join(cmd)}")
    cmd = [sys.executable, "-m", "synthetic", "generate", *args, "--out", data_dir]
    proc = subprocess.run(cmd, cwd=REPO)
    if proc.returncode != 0:
        raise SystemExit(f"source generation failed: {' '.join(cmd)}")
    with open(stamp, "w") as f:
        json.dump(record, f)
    return data_dir


def _ignore_model(ignore, specs: dict, work_dir: str, seed: int, budget: dict,
                  labeled_target: Optional[int] = None) -> List[str]:
    """``[config, checkpoint]`` of ``ignore_from``: a pair, or dict(method=NAME) — that
    method's final checkpoint of the same seed (it must run first and keep checkpoints;
    ``labeled_target``: ``--labeled-target``, which decides its run dir)."""
    if isinstance(ignore, dict):
        other = ignore.get("method")
        if other not in specs or set(ignore) != {"method"}:
            raise SystemExit(f"ignore_from must be [config, checkpoint] or dict(method=NAME) "
                             f"with NAME among {list(specs)}, got {ignore}")
        ckpt = osp.join(method_run_dir(work_dir, specs, other, seed, labeled_target),
                        f"iter_{budget['max_iters']}.pth")
        if not osp.isfile(ckpt):
            raise SystemExit(f"ignore_from: {other!r} seed {seed} has no checkpoint {ckpt!r}: "
                             f"list {other!r} first and keep checkpoints")
        return [specs[other]["config"], ckpt]
    if len(ignore) != 2:
        raise SystemExit(f"ignore_from must be [config, checkpoint], got {ignore}")
    return [str(v) for v in ignore]


# ----------------------------------------------------------------------------- pretraining
PRETRAIN_KEYS = ("config", "iters", "data", "cfg_options")
PRETRAIN_DATA = ("target", "target+source")


def pretrain_spec(pretrain) -> Optional[dict]:
    """Normalise the benchmark's ``pretrain=dict(config, iters, data, cfg_options)`` (None:
    no pretraining stage)."""
    if pretrain is None:
        return None
    if not isinstance(pretrain, dict) or "config" not in pretrain or \
            set(pretrain) - set(PRETRAIN_KEYS):
        raise SystemExit(f"pretrain must be dict(config=..., iters=N, data='target' | "
                         f"'target+source', cfg_options=[...]), got {pretrain}")
    if not osp.isfile(osp.join(REPO, pretrain["config"])):
        raise SystemExit(f"pretrain: config not found: {pretrain['config']!r}")
    data = pretrain.get("data", "target")
    if data not in PRETRAIN_DATA:
        raise SystemExit(f"pretrain.data must be one of {PRETRAIN_DATA}, got {data!r}")
    iters = pretrain.get("iters")
    if iters is not None and (not isinstance(iters, int) or iters < 1):
        raise SystemExit(f"pretrain.iters must be a positive integer, got {iters!r}")
    return dict(config=pretrain["config"], iters=iters, data=data,
                cfg_options=list(pretrain.get("cfg_options") or []))


def _folder_signature(root: str) -> str:
    """What pretraining reads of a folder: its train.txt and its images' names and contents
    (a regenerated source with other images is a new input; a copy of the same files, with
    new modification times, is not)."""
    digest = hashlib.sha256()
    split = osp.join(root, "train.txt")
    if osp.isfile(split):
        with open(split, "rb") as f:
            digest.update(f.read())
    images = osp.join(root, "images")
    for name in sorted(os.listdir(images)) if osp.isdir(images) else ():
        content = hashlib.sha256()
        with open(osp.join(images, name), "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                content.update(block)
        digest.update(f"{name}|{content.hexdigest()}\n".encode())
    return digest.hexdigest()


def pretrain_record(spec: dict, seed: int, target_root: str,
                    source_root: Optional[str]) -> dict:
    """The inputs of one pretraining run; the cached backbone is reused while they match."""
    from mmseg_uda.utils.data_config import config_chain

    digest = hashlib.sha256()
    for path in config_chain(osp.join(REPO, spec["config"])):
        with open(path, "rb") as f:
            digest.update(f.read())
    roots = [target_root] + ([source_root] if spec["data"] == "target+source" else [])
    return dict(config=spec["config"], config_sha256=digest.hexdigest(), iters=spec["iters"],
                data=spec["data"], cfg_options=spec["cfg_options"], seed=seed,
                roots=[dict(root=r, signature=_folder_signature(r)) for r in roots])


def pretrain_backbone(spec: dict, work_dir: str, seed: int, target_root: str,
                      source_root: Optional[str], env: dict) -> Tuple[str, float]:
    """Run ``tools/pretrain.py`` for ``seed`` once; reuse its backbone while the inputs
    (config files, iterations, data folders, options) are unchanged.

    One pretraining per seed: the seeds stay independent repetitions of the whole protocol
    (the spread over seeds includes the pretraining's), and invocations that run one seed
    each side by side never write the same folder.

    Returns:
        tuple: (path of ``backbone.pth``, minutes the pretraining took).
    """
    if spec["data"] == "target+source" and not source_root:
        raise SystemExit("pretrain.data='target+source' needs the benchmark's shared source "
                         "(source=dict(root=...) or dict(generate=...))")
    out_dir = osp.join(work_dir, "pretrain", f"seed{seed}")
    backbone = osp.join(out_dir, "backbone.pth")
    stamp = osp.join(out_dir, ".pretrain_inputs.json")
    record = pretrain_record(spec, seed, target_root, source_root)
    if osp.isfile(stamp) and osp.isfile(backbone):
        with open(stamp) as f:
            saved = json.load(f)
        if saved.get("inputs") == record:
            return backbone, saved["minutes"]
        why = "made from other inputs"
    else:  # the stamp is written last
        why = "incomplete (interrupted?)"
    if osp.isdir(out_dir):  # our own cache: kept aside, never deleted
        kept = move_aside(out_dir, "old")
        print(f"[benchmark] {out_dir} is {why}: pretraining again (the old one moved to "
              f"{kept})", flush=True)
    os.makedirs(out_dir)
    opts = [f"randomness.seed={seed}", *spec["cfg_options"]]
    if spec["iters"]:
        opts.append(f"train_cfg.max_iters={spec['iters']}")
    if spec["data"] == "target+source":
        opts.append(f"train_dataloader.dataset.extra_roots=[{source_root}]")
    iters = spec["iters"] or "the config's"
    print(f"[benchmark] pretraining seed {seed}: {spec['config']} on {spec['data']} "
          f"({iters} iterations)", flush=True)
    seconds = _run([sys.executable, "tools/pretrain.py", spec["config"], "--work-dir", out_dir,
                    "--cfg-options", *opts], dict(env, TARGET_ROOT=target_root),
                   osp.join(out_dir, "pretrain.log"))
    with open(stamp, "w") as f:
        json.dump(dict(inputs=record, minutes=seconds / 60), f, indent=2)
    return backbone, seconds / 60


def backbone_init_options(config: str, backbone: str) -> List[str]:
    """``--cfg-options`` that start the backbone of ``config`` from ``backbone``:
    ``model.segmentor.backbone`` for the UDA configs, ``model.backbone`` for segmentors."""
    from mmengine.config import Config

    model = Config.fromfile(osp.join(REPO, config)).get("model") or {}
    prefix = "model.segmentor.backbone" if "segmentor" in model else "model.backbone"
    return [f"{prefix}.init_cfg.type=MiTPretrained", f"{prefix}.init_cfg.checkpoint={backbone}"]


def pretrained_minutes(work_dir: str, seeds: Sequence[int]) -> Dict[int, float]:
    """Minutes of each seed's finished pretraining in ``work_dir`` (from its stamp)."""
    out: Dict[int, float] = {}
    for seed in seeds:
        stamp = osp.join(work_dir, "pretrain", f"seed{seed}", ".pretrain_inputs.json")
        if osp.isfile(stamp):
            with open(stamp) as f:
                out[seed] = json.load(f)["minutes"]
    return out


def pretrain_note(pretrain: Optional[dict], minutes: Dict[int, float]) -> str:
    """The sentence of results.md on the pretraining stage (empty without one)."""
    if pretrain is None:
        return ""
    took = ", ".join(f"seed {s}: {m:.1f} min" for s, m in sorted(minutes.items()))
    return (f" Pretraining (rows with SSL): `{pretrain['config']}`, "
            f"{pretrain['iters'] or 'the default'} iterations on the {pretrain['data']} "
            f"train photos, once per seed ({took or 'cached runs only'}; not in the rows' "
            f"minutes).")


def method_spec(name: str, spec) -> dict:
    """Normalise a method entry: a config path, or dict(config, source, cfg_options).

    ``source='target'`` trains on the target's labeled train split (the oracle); ``generate``
    overrides the benchmark's generator arguments for this method's own source set.
    """
    if isinstance(spec, str):
        spec = dict(config=spec)
    spec = dict(spec)
    unknown = set(spec) - {"config", "source", "generate", "cfg_options", "tent",
                           "labeled_target", "pretrain"}
    if unknown or "config" not in spec:
        raise SystemExit(f"method {name!r}: expected a config path or dict(config=..., "
                         f"source=..., generate=dict(...), cfg_options=[...], "
                         f"tent=dict(after=METHOD, args=[...]), labeled_target=N, "
                         f"pretrain=True), got {spec}")
    if not osp.isfile(osp.join(REPO, spec["config"])):
        raise SystemExit(f"method {name!r}: config not found: {spec['config']!r}")
    tent = spec.get("tent")
    if tent is not None and (not isinstance(tent, dict) or "after" not in tent
                             or set(tent) - {"after", "args"}):
        raise SystemExit(f"method {name!r}: tent must be dict(after=METHOD, args=[...]), "
                         f"got {tent}")
    return dict(config=spec["config"], source=spec.get("source"),
                generate=dict(spec.get("generate") or {}),
                cfg_options=list(spec.get("cfg_options", [])),
                tent=None if tent is None else dict(after=tent["after"],
                                                    args=list(tent.get("args", []))),
                labeled_target=labeled_target_spec(name, spec.get("labeled_target"),
                                                   tent is not None),
                pretrain=bool(spec.get("pretrain", False)))


# ----------------------------------------------------------------------------- labeled target
LABELED_SPLIT = "labeled_target.txt"  # the run dir's list of the labeled target images


def labeled_target_spec(name: str, value, tent: bool = False) -> Optional[dict]:
    """A method's ``labeled_target``: N, or dict(num=N, ratio=r); None or 0: none."""
    if value is None or value == 0:
        return None
    spec = dict(num=value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(spec, dict) or set(spec) - {"num", "ratio"} or \
            not isinstance(spec.get("num"), int) or spec["num"] < 1:
        raise SystemExit(f"method {name!r}: labeled_target must be N >= 1 or dict(num=N, "
                         f"ratio=r), got {value!r}")
    if tent:
        raise SystemExit(f"method {name!r}: a tent method trains nothing; give "
                         "labeled_target to the method it adapts")
    return dict(spec)


def method_labels(spec: dict, default: Optional[int]) -> Optional[dict]:
    """The labeled target of a method's runs: its own key, else ``--labeled-target`` (not
    for tent methods, which train nothing)."""
    if spec.get("labeled_target") or spec.get("tent") or not default:
        return spec.get("labeled_target")
    return labeled_target_spec("--labeled-target", default)


def run_dir_of(work_dir: str, method: str, seed: int, labels: Optional[dict]) -> str:
    """A run's folder: ``<method>/seed<S>``, ``<method>/seed<S>_labels<N>`` with N labeled
    target images (so runs with another N are never reused)."""
    suffix = f"_labels{labels['num']}" if labels else ""
    return osp.join(work_dir, method, f"seed{seed}{suffix}")


def method_run_dir(work_dir: str, specs: dict, method: str, seed: int,
                   labeled_target: Optional[int]) -> str:
    """The folder of ``method``'s run of ``seed`` (:func:`run_dir_of` with its labeled target:
    its own key, else ``--labeled-target``); a method not in ``specs`` has none."""
    labels = method_labels(specs[method], labeled_target) if method in specs else None
    return run_dir_of(work_dir, method, seed, labels)


def choose_target_labels(target_root: str, num: int, seed: int) -> List[str]:
    """``num`` images of the target's ``train.txt`` for a run of ``seed``: a seeded shuffle
    (:func:`mmseg_uda.datasets.uda_dataset.choose_labeled_target`; nested: the 5 of a seed are
    the first 5 of its 10). Names also listed in ``test.txt`` are never chosen."""
    from mmseg_uda.datasets.defect_dataset import DatasetError, _read_split
    from mmseg_uda.datasets.uda_dataset import choose_labeled_target

    train = osp.join(target_root, "train.txt")
    if not osp.isfile(train):
        raise SystemExit(f"labeled target: the target {target_root!r} has no train.txt to "
                         "choose the labeled images from")
    test = osp.join(target_root, "test.txt")
    held_out = set(_read_split(test)) if osp.isfile(test) else set()
    names = [n for n in _read_split(train) if n not in held_out]
    try:
        return choose_labeled_target(names, num, seed)
    except DatasetError as exc:
        raise SystemExit(f"labeled target: {exc} ({train!r}"
                         f"{', less those in test.txt' if held_out else ''})") from exc


def labeled_target_options(labels: Optional[dict], target_root: str, run_dir: str,
                           seed: int) -> Tuple[List[str], Optional[dict]]:
    """``--cfg-options`` of a run's labeled target images and their record for run.json.

    Writes the chosen names to ``<run_dir>/labeled_target.txt`` (the split the run reads).
    """
    if not labels:
        return [], None
    names = choose_target_labels(target_root, labels["num"], seed)
    split = osp.join(run_dir, LABELED_SPLIT)
    with open(split, "w") as f:
        f.write("\n".join(names) + "\n")
    key = "train_dataloader.dataset.labeled_target"
    opts = [f"{key}.split={split}", f"{key}.num={len(names)}"]
    if labels.get("ratio") is not None:
        opts.append(f"{key}.ratio={labels['ratio']}")
    return opts, dict(num=len(names), ratio=labels.get("ratio"), split=split, names=names)


def root_aliases(root_env: Optional[dict], env: dict) -> Dict[str, str]:
    """More environment variables for the data roots of the runs, for configs that read other
    names than ``SOURCE_ROOT`` / ``TARGET_ROOT`` (e.g. ``MT_SOURCE_ROOT`` of the magnetic-tile
    configs): ``root_env=dict(source=[names], target=[names])`` in the benchmark file; each
    name gets the run's source root or the target root."""
    out: Dict[str, str] = {}
    unknown = set(root_env or {}) - {"source", "target"}
    if unknown:
        raise SystemExit(f"root_env: unknown key(s) {sorted(unknown)}; expected source, target")
    for key, var in (("source", "SOURCE_ROOT"), ("target", "TARGET_ROOT")):
        names = (root_env or {}).get(key) or []
        for name in [names] if isinstance(names, str) else names:
            out[name] = env[var]
    return out


def defect_scores(report: dict, defect) -> Dict[str, Optional[float]]:
    """The table's numbers from a tools/test.py JSON report.

    ``defect``: one class name, or a list of them (a multi-class benchmark): then ``IoU``,
    ``F1``, ``precision``, ``recall`` and ``tolerant_F1`` are the means over those classes
    (``IoU`` = the mIoU over the defect classes, background left out) and ``IoU.<class>``
    holds each class's IoU.
    """
    if not isinstance(defect, str):
        per_class = [defect_scores(report, d) for d in defect]
        out: Dict[str, Optional[float]] = OrderedDict()
        for metric in ("IoU", "F1", "precision", "recall", "tolerant_F1"):
            vals = [s[metric] for s in per_class]
            out[metric] = None if any(v is None for v in vals) else sum(vals) / len(vals)
        out["mIoU"] = report["mIoU"]
        out["tile_false_alarm"] = per_class[0]["tile_false_alarm"]
        for d, s in zip(defect, per_class):
            out[f"IoU.{d}"] = s["IoU"]
        return out
    per = report["per_class"].get(defect)
    if per is None:
        raise KeyError(f"report has no class {defect!r} (classes: {report.get('classes')})")
    tolerant = per.get("tolerant") or {}
    tiles = report.get("tile_level") or {}  # absent in reports of older versions
    return OrderedDict(IoU=per["IoU"], F1=per["F1"], precision=per["precision"],
                       recall=per["recall"], tolerant_F1=tolerant.get("F1"),
                       mIoU=report["mIoU"], tile_false_alarm=tiles.get("false_alarm_rate"))


def tile_settings(report: dict) -> Optional[Tuple[int, int, float]]:
    """(tile side, minimum region area, tolerance) in pixels of a report's tile verdicts."""
    tiles = report.get("tile_level")
    if not tiles or "tile_px" not in tiles:
        return None
    return (int(tiles["tile_px"]), int(tiles.get("min_area_px", 0)),
            float(tiles.get("tolerance_px", 0)))


def false_alarm_note(settings: Sequence[Optional[Tuple[int, int, float]]]) -> str:
    """The table's footnote on the false-alarm column, with the settings the runs used."""
    used = sorted({s for s in settings if s is not None})
    if not used:
        return ""
    if len(used) > 1:
        listed = "; ".join(f"{t} px tiles, {a} px regions, {tol:g} px tolerance"
                           for t, a, tol in used)
        return ("false-alarm tiles: the runs were scored with different tile settings "
                f"({listed}), so this column does not compare across them")
    tile, area, tol = used[0]
    return (f"false-alarm tiles: share of the defect-free {tile}-pixel tiles of the test images "
            f"where the model draws a defect region of at least {area} pixels farther than "
            f"{tol:g} px from every true defect (DefectMetric `tile_level`)")


def mean_std(values: List[Optional[float]]):
    vals = [v for v in values if v is not None and not math.isnan(v)]
    if not vals:
        return None, None
    mean = sum(vals) / len(vals)
    std = (sum((v - mean) ** 2 for v in vals) / (len(vals) - 1)) ** 0.5 if len(vals) > 1 else 0.0
    return mean, std


def scalar_rows(work_dir: str):
    """The rows MMEngine logged to a run's ``*/vis_data/scalars.json``, oldest run first."""
    for path in sorted(glob.glob(osp.join(work_dir, "*", "vis_data", "scalars.json"))):
        with open(path) as f:
            for line in f:
                yield json.loads(line)


def val_curve(work_dir: str, key: str) -> Dict[int, float]:
    """{iteration: value} of a validation metric logged by MMEngine in a run's work dir."""
    return {int(row["step"]): float(row[key]) for row in scalar_rows(work_dir)
            if key in row and "step" in row and "lr" not in row}


def train_scalar_mean(work_dir: str, key: str) -> Optional[float]:
    """Mean of a training-time scalar over a run (MMEngine's ``scalars.json``), or None.

    Used for the self-training methods' ``pseudo.weight``: the share of the pseudo-label loss
    that is switched on. A mean near 0 means the teacher never reached the confidence threshold
    and the run was source-only plus ClassMix pastes (docs/benchmarks.md, "Five classes: the
    teacher never reaches tau").
    """
    # training rows carry the learning rate, validation rows do not
    values = [float(row[key]) for row in scalar_rows(work_dir) if key in row and "lr" in row]
    return sum(values) / len(values) if values else None


def summarize(results: Dict[str, List[dict]], baseline: str = "source_only",
              ceiling: str = "oracle") -> OrderedDict[str, dict]:
    """Mean ± std per method and metric; fraction of the baseline→ceiling IoU gap closed."""
    table: OrderedDict[str, dict] = OrderedDict()
    for method, runs in results.items():
        row = OrderedDict(runs=len(runs), seeds=[r["seed"] for r in runs])
        per_class = [k for k in (runs[0]["scores"] if runs else {}) if k.startswith("IoU.")]
        for metric in ("IoU", "F1", "tolerant_F1", "precision", "recall", "mIoU",
                       "tile_false_alarm", *per_class):
            row[metric] = mean_std([r["scores"].get(metric) for r in runs])
        row["minutes"] = mean_std([r["seconds"] / 60.0 for r in runs])
        row["pseudo_weight"] = mean_std([r.get("pseudo_weight") for r in runs])
        table[method] = row
    base = table.get(baseline, {}).get("IoU", (None, None))[0]
    top = table.get(ceiling, {}).get("IoU", (None, None))[0]
    gap_ok = gap_note(base, top, baseline, ceiling) is None
    for row in table.values():
        iou = row["IoU"][0]
        row["gap_closed"] = (iou - base) / (top - base) if gap_ok and iou is not None else None
    return table


def gap_note(base: Optional[float], top: Optional[float], baseline: str = "source_only",
             ceiling: str = "oracle") -> Optional[str]:
    """Why the "gap closed" column is not computed, or None when it is.

    The fraction of the baseline→ceiling gap a method closes means something only when the
    ceiling (the oracle, trained on target labels) is above the baseline (source-only); with
    an oracle at or below source-only the ratio of two differences has no meaning (an oracle
    at 0.0 and a method below source-only would read as a positive percentage).
    """
    if base is None or top is None:
        missing = " and ".join(n for n, v in ((baseline, base), (ceiling, top)) if v is None)
        return f"gap closed: not computed, no {missing} run"
    if top - base <= GAP_MIN_POINTS:
        return (f"gap closed: not computed, the {ceiling} ({top:.1f} IoU) is not above "
                f"{baseline} ({base:.1f}); the {ceiling} did not learn the target, so there "
                "is no gap to close (train it longer or check the target labels)")
    return None


def self_training_note(table: Dict[str, dict]) -> Optional[str]:
    """A footnote naming the self-training methods whose mean pseudo-label weight stayed below
    :data:`MIN_PSEUDO_WEIGHT` (their teacher never reached the threshold), or None."""
    off = [m for m, row in table.items()
           if row.get("pseudo_weight", (None, None))[0] is not None
           and row["pseudo_weight"][0] < MIN_PSEUDO_WEIGHT]
    if not off:
        return None
    return (f"pseudo-label weight below {MIN_PSEUDO_WEIGHT} for {', '.join(off)}: the teacher "
            "hardly ever reached the confidence threshold, so the target loss stayed off and "
            "the row is source-only plus ClassMix pastes (tools/pseudo_label_quality.py "
            "shows how good the teacher's labels are; model.pseudo_weight=class_balanced "
            "switches the loss on, which helps only when they are good)")


def markdown_table(table: Dict[str, dict], defect,
                   settings: Sequence[Optional[Tuple[int, int, float]]] = ()) -> str:
    """The Markdown table; ``settings``: each run's :func:`tile_settings` (the footnote).

    With a list of defect classes the first column is their mIoU (background left out), then
    one IoU column per class; F1 and tolerant F1 are means over the classes. "pseudo-label
    weight" is the mean logged ``pseudo.weight`` of a self-training method's runs (— for the
    others); a footnote names the methods whose pseudo-label loss stayed (nearly) off.
    """
    def cell(pair, digits=1):
        mean, std = pair
        if mean is None:
            return "n/a"
        return f"{mean:.{digits}f} ± {std:.{digits}f}"

    def weight_cell(pair):  # "—": no pseudo-labels (source-only, oracle, TENT)
        return "—" if pair[0] is None else cell(pair, 2)

    multi = not isinstance(defect, str)
    classes = list(defect) if multi else []
    head = (f"defect mIoU ({len(classes)} classes) | " + " | ".join(f"{c} IoU" for c in classes)
            if multi else f"{defect} IoU")
    lines = [f"| method | {head} | F1 | tolerant F1 | mIoU | false-alarm tiles % | "
             "pseudo-label weight | gap closed | runs | minutes/run |",
             "|---" * (10 + len(classes)) + "|"]
    for method, row in table.items():
        gap = "—" if row["gap_closed"] is None else f"{100 * row['gap_closed']:.0f} %"
        per = "".join(f" | {cell(row.get(f'IoU.{c}', (None, None)))}" for c in classes)
        lines.append(f"| {method} | {cell(row['IoU'])}{per} | {cell(row['F1'])} | "
                     f"{cell(row['tolerant_F1'])} | {cell(row['mIoU'])} | "
                     f"{cell(row.get('tile_false_alarm', (None, None)))} | "
                     f"{weight_cell(row.get('pseudo_weight', (None, None)))} | {gap} | "
                     f"{row['runs']} | {cell(row['minutes'])} |")
    notes = [false_alarm_note(settings)]
    if table:
        iou = {m: row["IoU"][0] for m, row in table.items()}
        notes.append(gap_note(iou.get("source_only"), iou.get("oracle")))
        notes.append(self_training_note(table))
    notes = [n for n in notes if n]
    return "\n".join(lines) + "".join(f"\n\n{n}" for n in notes)


def plot_curves(curves: Dict[str, List[Dict[int, float]]], path: str, ylabel: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for method, runs in curves.items():
        steps = sorted(set().union(*[set(r) for r in runs])) if runs else []
        if not steps:
            continue
        means = [sum(r[s] for r in runs if s in r) / max(1, sum(s in r for r in runs))
                 for s in steps]
        ax.plot(steps, means, marker="o", label=method)
        for r in runs:
            ax.plot(sorted(r), [r[s] for s in sorted(r)], alpha=0.2, color=ax.lines[-1].get_color())
    ax.set_xlabel("iteration")
    ax.set_ylabel(ylabel)
    ax.set_title("target-domain validation over training (mean over seeds; faint: each seed)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# ----------------------------------------------------------------------------- main
def run_benchmark(bench: dict, name: str, work_dir: str, out_dir: Optional[str] = None,
                  methods: Optional[List[str]] = None, seeds: Optional[List[int]] = None,
                  iters: Optional[int] = None, target: Optional[str] = None,
                  source: Optional[str] = None, rerun: bool = False,
                  cfg_options: Sequence[str] = (), table_title: Optional[str] = None,
                  only_finished: bool = False, labeled_target: Optional[int] = None) -> dict:
    """Run (or reuse) every method x seed of ``bench`` and write the table and the plot.

    Args:
        bench (dict): the benchmark description (keys of a benchmark file: ``methods``,
            ``seeds``, ``budget``, ``target``, ``source``, optional ``cfg_options``,
            ``defect_class``, ``delete_checkpoints``).
        name (str): the benchmark's name (titles).
        work_dir (str): folder of the runs and generated data.
        out_dir (str, optional): folder of results.json/.md and the plot. Default: work_dir.
        methods, seeds, iters, target, source: overrides of the file's values.
        rerun (bool): train finished runs again. Default: False.
        only_finished (bool): train nothing; tabulate the runs that have a report (a method
            without any is left out). Default: False.
        cfg_options (Sequence[str]): extra ``--cfg-options`` for every training run.
        labeled_target (int, optional): N labeled target images for every trained method
            without a ``labeled_target`` key of its own (``--labeled-target``).
        table_title (str, optional): first line of results.md. Default: ``name``.

    Returns:
        dict: the content of results.json.
    """
    work_dir = osp.abspath(work_dir)
    out_dir = osp.abspath(out_dir or work_dir)

    # Every method's spec, also those left out by --methods: ignore_from=dict(method=NAME) may
    # name one of them (its runs exist).
    every_spec = OrderedDict((m, method_spec(m, spec)) for m, spec in bench["methods"].items())
    specs = every_spec
    if methods:
        unknown = [m for m in methods if m not in every_spec]
        if unknown:
            raise SystemExit(f"unknown method(s) {unknown}; the benchmark has "
                             f"{list(every_spec)}")
        specs = OrderedDict((m, every_spec[m]) for m in methods)
    seeds = list(seeds) if seeds else list(bench["seeds"])
    pretrain = pretrain_spec(bench.get("pretrain"))
    uses_pretrain = [m for m, spec in specs.items() if spec["pretrain"]]
    if uses_pretrain and pretrain is None:
        raise SystemExit(f"method(s) {uses_pretrain} set pretrain=True but the benchmark has "
                         "no pretrain=dict(config=..., iters=..., data=...)")
    budget = dict(bench["budget"])
    if iters:
        budget["max_iters"] = iters
        budget["val_interval"] = min(budget.get("val_interval", iters), iters)

    bench_target = dict(bench["target"])
    if target or not bench_target.get("generate"):
        target_root = osp.abspath(target or bench_target["root"])
        if not osp.isdir(target_root):
            raise SystemExit(f"target dataset not found: {target_root!r}")
    else:  # a generated, labeled target (the built-in demo)
        target_root = generate_source(dict(bench_target["generate"]),
                                      osp.join(work_dir, "target_data"))
    bench_source = dict(bench.get("source") or {})
    base_generator = dict(bench_source.get("generate") or {})
    if source:
        source_root = osp.abspath(source)
        if not osp.isdir(source_root):
            raise SystemExit(f"source dataset not found: {source_root!r}")
    elif bench_source.get("root"):
        source_root = osp.abspath(bench_source["root"])
    elif only_finished:  # trains nothing: a stale or missing cache is not generated again
        cached = osp.join(work_dir, "source_data")  # (its data/ when a style was fitted)
        source_root = osp.join(cached, "data") if osp.isdir(osp.join(cached, "data")) else cached
    elif any(not spec["source"] and not spec["generate"] for spec in specs.values()):
        source_root = generate_source(base_generator, osp.join(work_dir, "source_data"),
                                      target_root)
    else:  # every method has its own source (the generator ablation): no shared set
        source_root = None
    # Only now, after the checks above: a wrong path leaves no empty work dir behind.
    os.makedirs(work_dir, exist_ok=True)
    os.makedirs(out_dir, exist_ok=True)

    defect = bench.get("defect_class", "crack")
    if not isinstance(defect, str):  # several defect classes: their mean IoU is the score
        defect = list(defect)
    # The validation curve of one defect class, or of the mIoU with several.
    curve_key, curve_label = ((f"IoU.{defect}", f"target {defect} IoU (%)")
                              if isinstance(defect, str) else ("mIoU", "target mIoU (%)"))
    env = dict(os.environ, TARGET_ROOT=target_root, DATA_ROOT=target_root,
               PYTHONWARNINGS="ignore")
    if source_root:
        env["SOURCE_ROOT"] = source_root
    results: Dict[str, List[dict]] = OrderedDict((m, []) for m in specs)
    settings: List[Optional[Tuple[int, int, float]]] = []  # each run's tile verdict settings
    curves: Dict[str, List[Dict[int, float]]] = OrderedDict((m, []) for m in specs)
    total = len(specs) * len(seeds)
    done = trained = 0
    bench_start = time.time()
    for method, spec in specs.items():
        cfg = spec["config"]
        run_env = dict(env)
        if spec["source"] == "target":  # the oracle: the target's own labeled train split
            run_env["SOURCE_ROOT"] = target_root
        elif spec["source"]:
            run_env["SOURCE_ROOT"] = osp.abspath(spec["source"])
        elif spec["generate"] and not spec["generate"].get("ignore_from") and not only_finished:
            # a method with its own generated source (generator ablation, target-aware source);
            # --only-finished trains nothing, so a stale cache is not generated again
            run_env["SOURCE_ROOT"] = generate_source(
                {**base_generator, **spec["generate"]}, osp.join(work_dir, "sources", method),
                target_root)
        for seed in seeds:
            ignore = spec["generate"].get("ignore_from")
            if ignore and not only_finished:  # another method's model of this seed
                run_env["SOURCE_ROOT"] = generate_source(
                    {**base_generator, **spec["generate"],
                     "ignore_from": _ignore_model(ignore, every_spec, work_dir, seed, budget,
                                                  labeled_target)},
                    osp.join(work_dir, "sources", method, f"seed{seed}"), target_root)
            run_env.update(root_aliases(bench.get("root_env"), run_env))
            labels = method_labels(spec, labeled_target)
            run_dir = run_dir_of(work_dir, method, seed, labels)
            report_path = osp.join(run_dir, "report.json")
            record_path = osp.join(run_dir, "run.json")
            if only_finished and not osp.isfile(report_path):
                print(f"[benchmark] {method} seed {seed}: no report, left out", flush=True)
                done += 1
                continue
            if rerun and osp.isdir(run_dir):
                shutil.rmtree(run_dir)
            if not osp.isfile(report_path):
                if osp.isdir(run_dir):  # an interrupted run: start it cleanly, keep its logs
                    kept = move_aside(run_dir, "interrupted")
                    print(f"[benchmark] {method} seed {seed}: {run_dir} has no report "
                          f"(interrupted?): starting again, the old folder moved to {kept}",
                          flush=True)
                os.makedirs(run_dir)
                label_opts, label_record = labeled_target_options(labels, target_root, run_dir,
                                                                  seed)
                opts = [f"randomness.seed={seed}", f"train_cfg.max_iters={budget['max_iters']}",
                        f"train_cfg.val_interval={budget['val_interval']}",
                        f"default_hooks.checkpoint.interval={budget['max_iters']}",
                        *bench.get("cfg_options", []), *spec["cfg_options"], *cfg_options,
                        *label_opts]
                if spec["pretrain"]:  # the backbone starts from this seed's pretraining
                    backbone, _ = pretrain_backbone(
                        pretrain, work_dir, seed, target_root, source_root, env)
                    opts += backbone_init_options(cfg, backbone)
                eta = ""
                if trained:
                    per_run = (time.time() - bench_start) / trained
                    eta = f", ETA {per_run * (total - done) / 60:.0f} min"
                print(f"[benchmark] {done + 1}/{total}: {method} seed {seed} "
                      f"({budget['max_iters']} iterations{eta})", flush=True)
                ckpt = osp.join(run_dir, f"iter_{budget['max_iters']}.pth")
                if spec["tent"]:  # test-time adaptation of another method's final checkpoint
                    after = spec["tent"]["after"]
                    base = osp.join(method_run_dir(work_dir, every_spec, after, seed,
                                                   labeled_target),
                                    f"iter_{budget['max_iters']}.pth")
                    if not osp.isfile(base):
                        raise SystemExit(f"method {method!r} adapts {after!r} seed {seed}, "
                                         f"whose checkpoint {base!r} does not exist: list "
                                         f"{after!r} before {method!r} (and keep checkpoints)")
                    seconds = _run([sys.executable, "tools/tent.py", cfg, base, "--target",
                                    target_root, "--split", "train.txt", "--out", ckpt,
                                    "--seed", str(seed), *spec["tent"]["args"],
                                    "--cfg-options", *opts], run_env,
                                   osp.join(run_dir, "tent.log"))
                else:
                    seconds = _run([sys.executable, "tools/train.py", cfg, "--work-dir", run_dir,
                                    "--cfg-options", *opts], run_env,
                                   osp.join(run_dir, "train.log"))
                # The same options: the model's shape and the evaluation split must match.
                _run([sys.executable, "tools/test.py", cfg, ckpt, "--work-dir",
                      osp.join(run_dir, "test"), "--out", report_path, "--cfg-options", *opts],
                     run_env, osp.join(run_dir, "test.log"))
                with open(record_path, "w") as f:
                    json.dump(dict(method=method, config=cfg, seed=seed, seconds=seconds,
                                   iterations=budget["max_iters"], options=opts,
                                   source=run_env["SOURCE_ROOT"],
                                   tent_after=(spec["tent"] or {}).get("after"),
                                   labeled_target=label_record), f, indent=2)
                if bench.get("delete_checkpoints", False):
                    os.remove(ckpt)
                trained += 1
            done += 1
            with open(report_path) as f:
                report = json.load(f)
            with open(record_path) as f:
                record = json.load(f)
            results[method].append(dict(seed=seed, seconds=record["seconds"],
                                        scores=defect_scores(report, defect),
                                        labeled_target=record.get("labeled_target"),
                                        pseudo_weight=train_scalar_mean(run_dir,
                                                                        "pseudo.weight")))
            settings.append(tile_settings(report))
            curves[method].append(val_curve(run_dir, curve_key))

    if only_finished:
        results = OrderedDict((m, r) for m, r in results.items() if r)
        curves = OrderedDict((m, curves[m]) for m in results)
        if not results:
            raise SystemExit(f"no finished run under {work_dir}")
    table = summarize(results)
    md = markdown_table(table, defect, settings)
    pretrain_minutes = pretrained_minutes(work_dir, seeds) if pretrain else {}
    payload = OrderedDict(
        benchmark=name, target=target_root, source=source_root, budget=budget, seeds=seeds,
        defect_class=defect, units="percent (scores), minutes (time)", methods=table,
        runs=dict(results), date=time.strftime("%Y-%m-%d %H:%M"),
        pretrain=None if pretrain is None else dict(pretrain, minutes=pretrain_minutes),
        machine=f"{os.cpu_count()} CPU cores" + ("" if not _cuda() else f", {_cuda()}"))
    with open(osp.join(out_dir, "results.json"), "w") as f:
        json.dump(payload, f, indent=2)
    with open(osp.join(out_dir, "results.md"), "w") as f:
        f.write(f"# {table_title or name}\n\nTarget: `{target_root}`; source: "
                f"`{source_root or 'one generated set per method'}`; "
                f"{budget['max_iters']} iterations, seeds {seeds}."
                f"{pretrain_note(pretrain, pretrain_minutes)}\n\n{md}\n")
    plot_curves(curves, osp.join(out_dir, "target_iou_curves.png"), curve_label)
    print("\n" + md)
    print(f"\n[benchmark] table: {osp.join(out_dir, 'results.md')}  plot: "
          f"{osp.join(out_dir, 'target_iou_curves.png')}", flush=True)
    return payload


def main(argv=None):
    args = parse_args(argv)
    bench = _load_benchmark(args.benchmark)
    name = osp.splitext(osp.basename(args.benchmark))[0]
    work_dir = args.work_dir or osp.join(REPO, "work_dirs", "benchmarks", name)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()] if args.methods else None
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else None
    return run_benchmark(bench.to_dict(), name, work_dir, args.out_dir, methods=methods,
                         seeds=seeds, iters=args.iters, target=args.target, source=args.source,
                         rerun=args.rerun, cfg_options=args.cfg_options,
                         only_finished=args.only_finished, labeled_target=args.labeled_target)


def _cuda() -> str:
    try:
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else ""
    except Exception:  # pragma: no cover
        return ""


if __name__ == "__main__":
    main()
