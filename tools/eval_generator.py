"""How well does a model trained only on generated images segment real defects?

    python tools/eval_generator.py --target ../shared/data/cfd            # full generator only
    python tools/eval_generator.py --target ../shared/data/cfd --ablate   # + each feature off
    python tools/eval_generator.py --ablate no_rims,no_rims+no_jagged      # a subset, a combination

For each variant of the generator (the full one, then — with ``--ablate`` — one realism feature
family switched off at a time), the tool generates a source set with the same seed, trains the
source-only CPU configuration on it (no target images are used for training) and evaluates on
the target's labeled test split. It writes a table (defect IoU, F1, tolerant F1, the share of
defect-free 64-px tiles with a false alarm, and the change of IoU and false alarms against the
full generator) as JSON and Markdown. All runs go through
``tools/benchmark_adaptation.py``'s runner, so an interrupted evaluation continues where it
stopped.
"""

from __future__ import annotations

import argparse
import json
import os.path as osp
import sys
from collections import OrderedDict

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, osp.join(REPO, "tools"))

from benchmark_adaptation import run_benchmark  # noqa: E402

# Feature families switched off together (names of `python -m synthetic list`).
ABLATIONS = OrderedDict([
    ("no_texture", ["texture", "color_variation", "stains"]),
    ("no_distractors", ["distractors"]),
    ("no_occlusion", ["occlusion"]),
    ("no_empty_images", ["empty_images"]),
    ("no_branching", ["branching"]),
    ("no_width_variation", ["width_variation", "taper"]),
    ("no_jagged", ["jagged"]),
    ("no_rims", ["rims"]),
    ("no_spalls_dust_fading", ["spalls", "dust", "fading"]),
    ("no_imaging", ["imaging"]),
])
DEFAULT_CONFIG = "configs/source_only_cracks_cpu.py"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default=osp.join(REPO, "..", "shared", "data", "cfd"),
                        help="labeled real set (images/, masks/, test.txt); default: "
                             "../shared/data/cfd")
    parser.add_argument("--config", default=DEFAULT_CONFIG,
                        help=f"source-only training config (default: {DEFAULT_CONFIG})")
    parser.add_argument("--num", type=int, default=400, help="generated images per variant")
    parser.add_argument("--size", default="320", help="generated image size, S or WxH")
    parser.add_argument("--style", default="pavement", help="generator style")
    parser.add_argument("--gen-seed", type=int, default=0, help="generator seed")
    parser.add_argument("--enable", default="",
                        help="features the style leaves off to switch back on for every "
                             "variant, comma-separated (e.g. pavement as of generator 1.0.0: "
                             "branching,jagged,rims,spalls,dust,fading,empty_images)")
    parser.add_argument("--iters", type=int, default=400, help="training iterations per run")
    parser.add_argument("--seeds", default="0", help="training seeds, comma-separated")
    parser.add_argument("--ablate", nargs="?", const="all", default=None,
                        help="also run ablations: 'all' or comma-separated names of "
                             f"{list(ABLATIONS)}; 'a+b' switches several off together")
    parser.add_argument("--work-dir", default=osp.join(REPO, "work_dirs", "eval_generator"))
    parser.add_argument("--out-dir", help="where results go (default: the work dir)")
    parser.add_argument("--rerun", action="store_true")
    parser.add_argument("--cfg-options", nargs="+", default=[],
                        help="extra --cfg-options of every training/test run, e.g. "
                             "val_dataloader.dataset.split=val.txt for a target without "
                             "test.txt")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.num <= 0 or args.iters <= 0:
        raise SystemExit("--num and --iters must be positive")
    from synthetic import get_style
    from synthetic.compose import check_disable
    try:
        enable = sorted(check_disable(args.enable, "enable"))
        style_off = get_style(args.style).off - set(enable)
    except KeyError as err:
        raise SystemExit(str(err.args[0])) from None
    except ValueError as err:
        raise SystemExit(str(err)) from None
    variants = OrderedDict([("full", [])])
    if args.ablate:
        names = list(ABLATIONS) if args.ablate == "all" else \
            [n.strip() for n in args.ablate.split(",") if n.strip()]
        unknown = [p for n in names for p in n.split("+") if p not in ABLATIONS]
        if unknown:
            raise SystemExit(f"unknown ablation(s) {unknown}; choose from {list(ABLATIONS)} "
                             "(combine with '+')")
        for name in names:  # a combination switches off the union of its families
            families = [f for part in name.split("+") for f in ABLATIONS[part]]
            if set(families) <= style_off:  # would train the full generator again
                print(f"[eval_generator] {name}: {', '.join(families)} already off in style "
                      f"{args.style!r}, skipped", flush=True)
                continue
            variants[name] = families
    bench = dict(
        methods=OrderedDict((name, dict(config=args.config, generate=dict(disable=disable)))
                            for name, disable in variants.items()),
        seeds=[int(s) for s in args.seeds.split(",")],
        budget=dict(max_iters=args.iters, val_interval=max(1, args.iters // 4)),
        target=dict(root=args.target),
        source=dict(generate=dict(type="crack", num=args.num, size=args.size,
                                  style=args.style, seed=args.gen_seed, enable=enable)),
        delete_checkpoints=True,
    )
    payload = run_benchmark(bench, "eval_generator", args.work_dir, args.out_dir,
                            rerun=args.rerun, cfg_options=args.cfg_options,
                            table_title="Generator evaluation (source-only on generated images)")
    full = payload["methods"]["full"]["IoU"][0]
    full_fa = payload["methods"]["full"].get("tile_false_alarm", (None, None))[0]
    lines = ["| variant | features off | crack IoU | F1 | tolerant F1 | false-alarm tiles % | "
             "Δ IoU vs full | Δ false alarms vs full |", "|---|---|---|---|---|---|---|---|"]

    def fmt(pair):
        return "n/a" if pair[0] is None else f"{pair[0]:.1f} ± {pair[1]:.1f}"

    def delta(value, reference):
        return "n/a" if value is None or reference is None else f"{value - reference:+.1f}"

    for name, row in payload["methods"].items():
        fa = row.get("tile_false_alarm", (None, None))
        d_iou = "—" if name == "full" else delta(row["IoU"][0], full)
        d_fa = "—" if name == "full" else delta(fa[0], full_fa)
        lines.append(f"| {name} | {', '.join(variants[name]) or '—'} | {fmt(row['IoU'])} | "
                     f"{fmt(row['F1'])} | {fmt(row['tolerant_F1'])} | {fmt(fa)} | {d_iou} | "
                     f"{d_fa} |")
    table = "\n".join(lines)
    out_dir = args.out_dir or args.work_dir
    with open(osp.join(out_dir, "ablation.md"), "w") as f:
        f.write(table + "\n")
    with open(osp.join(out_dir, "ablation.json"), "w") as f:
        json.dump(dict(variants=variants, results=payload), f, indent=2)
    print("\n" + table)


if __name__ == "__main__":
    main()
