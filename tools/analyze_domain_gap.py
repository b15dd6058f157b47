"""Diagnose the domain gap between two image sets in a model's backbone feature space.

    python tools/analyze_domain_gap.py CONFIG --source DIR --target DIR --out OUT
                                       [--checkpoint BEFORE.pth] [--checkpoint-after AFTER.pth]
                                       [--config-after CONFIG_AFTER]
                                       [--stages -1 | --all-stages] [--max-images 200]
                                       [--max-side 512] [--folds 5] [--permutations 500]
                                       [--seed 0] [--overwrite] [--device cpu]

Each image is embedded by global-average pooling the backbone's last stage (``--stages`` picks
others, concatenated). For every checkpoint (``--checkpoint``, and ``--checkpoint-after`` for
before/after adaptation, ``--config-after`` when the two were trained with different configs,
e.g. source-only and DACS; none = the config's initial weights) the tool reports

* a cross-validated **domain classifier** (logistic regression, stratified k-fold): accuracy
  near 50 % (balanced) means the domains are indistinguishable, near 100 % a clear gap;
* **MMD²** (RBF kernel, median-heuristic bandwidth, unbiased; permutation p-value) and the
  **CORAL** distance;

and draws a **t-SNE** map of both sets (``tsne.png``; also ``umap.png`` when umap-learn is
installed). All numbers go to ``OUT/domain_gap.json``, embeddings to ``OUT/embeddings.npz``.
``--source``/``--target`` take a folder of images, a dataset root with ``images/``, or a glob.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from tools._cli import CfgOptionsAction, add_cfg_options, add_debug_flag, parse_early  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Domain-gap diagnosis: t-SNE, domain "
                                     "classifier, MMD and CORAL of backbone embeddings")
    parser.add_argument("config", help="config file of the model")
    parser.add_argument("--source", required=True, help="source images: folder, dataset root "
                        "with images/, or glob")
    parser.add_argument("--target", required=True, help="target images (same forms)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--checkpoint", help="checkpoint (before adaptation); default: the "
                        "config's initial weights")
    parser.add_argument("--checkpoint-after", help="second checkpoint (after adaptation)")
    parser.add_argument("--config-after", metavar="CONFIG",
                        help="config of --checkpoint-after when it was trained with another "
                             "one (e.g. CONFIG source-only, this one DACS); default: CONFIG")
    parser.add_argument("--labels", nargs=2, metavar=("BEFORE", "AFTER"),
                        default=("before", "after"), help="names of the two checkpoints")
    parser.add_argument("--source-name", default="source", help="legend name of --source")
    parser.add_argument("--target-name", default="target", help="legend name of --target")
    parser.add_argument("--stages", type=int, nargs="+", default=[-1],
                        help="backbone stages pooled and concatenated (default: -1, the last)")
    parser.add_argument("--all-stages", action="store_true",
                        help="pool and concatenate every backbone stage")
    parser.add_argument("--max-images", type=int, default=200,
                        help="random subset per domain (default: 200; 0 = all)")
    parser.add_argument("--max-side", type=int, default=512,
                        help="shrink images whose longer side exceeds this (pixels, default "
                             "512; 0 = native size)")
    parser.add_argument("--folds", type=int, default=5, help="classifier CV folds (default 5)")
    parser.add_argument("--permutations", type=int, default=500,
                        help="MMD permutation-test draws (default 500; 0 = no p-value)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--overwrite", action="store_true", help="write into a non-empty --out")
    parser.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_cfg_options(parser, help="override settings of CONFIG (and of --config-after when "
                                 "that is not given)")
    parser.add_argument("--cfg-options-after", nargs="+", metavar="KEY=VALUE",
                        action=CfgOptionsAction,
                        help="override settings of --config-after")
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    if args.checkpoint_after and not args.checkpoint:
        parser.error("--checkpoint-after needs --checkpoint (the 'before' model)")
    if (args.config_after or args.cfg_options_after) and not args.checkpoint_after:
        parser.error("--config-after / --cfg-options-after need --checkpoint-after")
    return args


parse_early(__name__, parse_args)  # --help before the stack is imported

import numpy as np  # noqa: E402

import mmseg_uda  # noqa: E402,F401  (stack fixes before mmseg)
from mmseg_uda.analysis import domain_gap_statistics, embed_2d, umap_available  # noqa: E402
from mmseg_uda.analysis.plots import plot_embeddings  # noqa: E402
from mmseg_uda.apis import (  # noqa: E402
    extract_embeddings,
    init_model,
    list_images,
    prepare_output_dir,
)
from mmseg_uda.utils import CheckpointError, exit_tool, run_tool  # noqa: E402


def image_set(source: str) -> list:
    """Images of a dataset root's ``images/`` folder (when it has one), a folder, or a glob."""
    inner = osp.join(source, "images")
    if osp.isdir(source) and osp.isdir(inner):
        return list_images(inner)  # a dataset root (preview.png etc. beside images/ ignored)
    return list_images(source)


def subsample(paths: list, max_images: int, seed: int) -> list:
    if not max_images or len(paths) <= max_images:
        return paths
    rng = np.random.default_rng(seed)
    return sorted(rng.choice(paths, size=max_images, replace=False).tolist())


def model_specs(args) -> list:
    """``label``, ``checkpoint``, ``config``, ``cfg_options``, ``flag`` of each model compared."""
    specs = [dict(label=args.labels[0] if args.checkpoint_after else "model",
                  checkpoint=args.checkpoint, config=args.config, cfg_options=args.cfg_options,
                  flag="--checkpoint", config_flag="CONFIG")]
    if args.checkpoint_after:
        specs.append(dict(
            label=args.labels[1], checkpoint=args.checkpoint_after,
            config=args.config_after or args.config,
            cfg_options=(args.cfg_options_after if args.config_after or args.cfg_options_after
                         else args.cfg_options),
            flag="--checkpoint-after", config_flag="--config-after" if args.config_after
            else "CONFIG"))
    return specs


def load_model(spec: dict, device: str):
    """The model of one spec; a checkpoint that does not fit its config is a one-line error
    naming the option, the config and the first differing keys."""
    try:
        return init_model(spec["config"], spec["checkpoint"], device=device,
                          cfg_options=spec["cfg_options"])
    except CheckpointError as exc:
        detail = str(exc).split(". Pass --non-strict")[0]
        hint = (" (trained with another config? give it with --config-after)"
                if spec["flag"] == "--checkpoint-after" and spec["config_flag"] == "CONFIG"
                else "")
        raise ValueError(f"{spec['flag']} does not fit {spec['config_flag']} "
                         f"{spec['config']!r}{hint}: {detail}") from None


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        source = subsample(image_set(args.source), args.max_images, args.seed)
        target = subsample(image_set(args.target), args.max_images, args.seed + 1)
        for name, paths in (("--source", source), ("--target", target)):
            if len(paths) < 2:
                raise ValueError(f"{name} {getattr(args, name[2:])!r} has {len(paths)} image(s); "
                                 "the statistics need at least 2 per domain")
        checkpoints = model_specs(args)
        for spec in checkpoints:
            if spec["checkpoint"] and not osp.isfile(spec["checkpoint"]):
                raise FileNotFoundError(f"checkpoint file not found: {spec['checkpoint']!r}")
            if not osp.isfile(spec["config"]):
                raise FileNotFoundError(f"config file not found: {spec['config']!r}")
        # Every checkpoint must fit its config before anything is embedded.
        models = [load_model(spec, args.device) for spec in checkpoints]
        prepare_output_dir(args.out, args.overwrite)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"[tools/analyze_domain_gap.py] error: {exc}") from None
    if not args.checkpoint:
        print("[tools/analyze_domain_gap.py] no --checkpoint: using the config's initial "
              "weights", file=sys.stderr)
    print(f"[tools/analyze_domain_gap.py] {len(source)} source and {len(target)} target images")
    report = dict(
        config=osp.abspath(args.config), date=datetime.datetime.now().isoformat(timespec="seconds"),
        source=dict(input=args.source, name=args.source_name, num_images=len(source)),
        target=dict(input=args.target, name=args.target_name, num_images=len(target)),
        embedding=dict(stages="all" if args.all_stages else args.stages,
                       pooling="global average", max_side=args.max_side or None),
        settings=dict(folds=args.folds, permutations=args.permutations, seed=args.seed),
        results=[], figures={})
    panels = {"tsne": []}
    methods = [("tsne", "t-SNE")] + ([("umap", "UMAP")] if umap_available() else [])
    arrays = {}
    for spec, model in zip(checkpoints, models):
        label, ckpt = spec["label"], spec["checkpoint"]
        stages = None if args.all_stages else args.stages
        x, x_used, x_err = extract_embeddings(model, source, stages, args.max_side or None,
                                              not args.no_progress, f"{label}: source")
        y, y_used, y_err = extract_embeddings(model, target, stages, args.max_side or None,
                                              not args.no_progress, f"{label}: target")
        for err in x_err + y_err:
            print(f"[tools/analyze_domain_gap.py] skipped {err['image']!r}: {err['error']}",
                  file=sys.stderr)
        if len(x) < 2 or len(y) < 2:
            raise SystemExit(f"[tools/analyze_domain_gap.py] error: need >= 2 readable images "
                             f"per domain, got {len(x)} source and {len(y)} target")
        stats = domain_gap_statistics(x, y, args.folds, args.seed, args.permutations)
        z = np.concatenate([x, y])
        domain = np.concatenate([np.zeros(len(x), int), np.ones(len(y), int)])
        clf, mmd = stats["domain_classifier"], stats["mmd"]
        title = (f"{label}: domain classifier {100 * clf['balanced_accuracy']:.0f} % "
                 f"(chance 50 %)\nMMD² {mmd['mmd2']:.3f}, CORAL {stats['coral']:.2e}")
        for key, _ in methods:
            if len(z) >= 4:
                panels.setdefault(key, []).append(
                    dict(coords=embed_2d(z, key, args.seed), domain=domain, title=title))
        report["results"].append(dict(
            label=label, checkpoint=osp.abspath(ckpt) if ckpt else None,
            config=osp.abspath(spec["config"]),
            stages="all" if stages is None else stages,
            embedding_dim=int(x.shape[1]), num_source=len(x), num_target=len(y), **stats,
            errors=x_err + y_err))
        arrays[f"{label}_source"], arrays[f"{label}_target"] = x, y
        arrays[f"{label}_source_paths"] = np.array(x_used)
        arrays[f"{label}_target_paths"] = np.array(y_used)
        print(f"[tools/analyze_domain_gap.py] {label}: classifier accuracy "
              f"{100 * clf['accuracy']:.1f} % (balanced {100 * clf['balanced_accuracy']:.1f} %, "
              f"chance {100 * clf['chance']:.1f} %), MMD² {mmd['mmd2']:.4f} (p = "
              f"{mmd['p_value']}), CORAL {stats['coral']:.3e}")
    for key, name in methods:
        if panels.get(key):
            path = osp.join(args.out, f"{key}.png")
            plot_embeddings(panels[key], path, args.source_name, args.target_name, name)
            report["figures"][key] = f"{key}.png"
    if not umap_available():
        report["figures"]["umap"] = None
        report["notes"] = ["umap-learn is not installed: t-SNE only"]
    np.savez_compressed(osp.join(args.out, "embeddings.npz"), **arrays)
    with open(osp.join(args.out, "domain_gap.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
    print(f"[tools/analyze_domain_gap.py] -> {osp.join(args.out, 'domain_gap.json')}")
    return 0


if __name__ == "__main__":
    exit_tool(run_tool(main, "tools/analyze_domain_gap.py"))
