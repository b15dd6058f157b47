"""Evaluate a checkpoint and write the report (MMSeg's tools/test.py conventions).

    python tools/test.py CONFIG CHECKPOINT [--out report.json] [--md report.md]
                         [--per-image-csv per_image.csv] [--tolerance-px 2]
                         [--tolerances 0 1 2 3 5] [--verdict-min-area 16] [--tile-size 64]
                         [--show-dir DIR]
                         [--work-dir DIR] [--cfg-options k=v ...] [--launcher ...]
                         [--tta [SCALE ...]]

``--out`` writes the metrics as JSON (percent): ``mIoU``, ``aAcc``, ``mF1``, ``mDice``,
``mTolerantF1``, ``per_class.<name>`` with ``IoU``, ``precision``, ``recall``, ``F1``, ``Dice``,
pixel counts and (defect classes) ``tolerant`` / ``tolerant_by_px`` scores, ``image_level``
and ``tile_level`` verdict counts (false alarms on defect-free tiles), the confusion matrix
(raw and row-normalised) and provenance; and the same as Markdown tables beside it
(``report.json`` -> ``report.md``) unless ``--md`` names another file.
``--per-image-csv`` adds one row per image. See ``docs/tools.md``.

The checkpoint must fit the config's model (strict loading; ``--non-strict`` loads what fits
and records the mismatch in the report). User errors end in one line and exit status 1
(``--debug``: traceback). See docs/reliability.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

# Only argparse before main(): --help answers without importing torch / MMEngine / MMSeg.
from tools._cli import add_cfg_options, add_debug_flag, run_main  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Test (and evaluate) a segmentation model")
    parser.add_argument("config", help="config file path")
    parser.add_argument("checkpoint", help="checkpoint file")
    parser.add_argument("--work-dir", help="folder for the test logs")
    parser.add_argument("--out", help="write the metric report to this JSON file (and "
                        "Markdown tables beside it, same name with .md)")
    parser.add_argument("--md", help="write the report as Markdown tables to this file "
                        "(default with --out: beside the JSON)")
    parser.add_argument("--per-image-csv", metavar="PATH", help="write one CSV row per image: "
                        "per-class IoU/F1/tolerant F1, defect pixel counts, verdict vs truth")
    parser.add_argument("--tolerance-px", type=float, help="distance tolerance in pixels of "
                        "the headline tolerant precision/recall/F1 (default: the config's, 2)")
    parser.add_argument("--tolerances", type=float, nargs="+", metavar="K",
                        help="all tolerances reported in the sweep (default: 0 1 2 3 5)")
    parser.add_argument("--verdict-min-area", type=int, metavar="PX",
                        help="smallest predicted defect region (pixels) that makes an image "
                             "'defect' in the image-level verdict (default: 16)")
    parser.add_argument("--tile-size", type=int, metavar="PX",
                        help="side of the tiles of the tile-level verdict, which counts false "
                             "alarms on defect-free tiles (default: 64; 0: none)")
    parser.add_argument("--show-dir", metavar="DIR", help="write one picture per test image "
                        "into DIR: image | truth | prediction, titled")
    parser.add_argument("--show", action="store_true", help="show prediction results")
    parser.add_argument("--wait-time", type=float, default=2, help="interval of --show (s)")
    add_cfg_options(parser, help="override config settings (e.g. "
                                 "test_dataloader.dataset.split=val.txt); misspelt keys are "
                                 "refused")
    parser.add_argument("--launcher", choices=["none", "pytorch", "slurm", "mpi"],
                        default="none", help="job launcher")
    parser.add_argument("--tta", nargs="*", type=float, metavar="SCALE",
                        help="test-time augmentation: the image and its horizontal flip at "
                             "each SCALE (default: 1), probabilities averaged; a config's own "
                             "tta_model / tta_pipeline win")
    parser.add_argument("--non-strict", action="store_true",
                        help="load a checkpoint that does not fit the config's model (missing "
                             "or unexpected keys); the report records what did not load")
    parser.add_argument("--local_rank", "--local-rank", type=int, default=0)
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    if "LOCAL_RANK" not in os.environ:  # as mmseg_uda.utils.set_local_rank
        os.environ["LOCAL_RANK"] = str(args.local_rank)
    return args


def _evaluators(cfg_evaluator):
    return cfg_evaluator if isinstance(cfg_evaluator, (list, tuple)) else [cfg_evaluator]


def report_paths(args) -> dict:
    """The report files asked for on the command line: ``{metric argument: path}``."""
    paths = {}
    if args.out:
        if osp.isdir(args.out):
            raise SystemExit(f"--out is a folder: {args.out!r}; give a .json file path")
        paths["report_file"] = args.out
        paths["markdown_file"] = args.md or osp.splitext(args.out)[0] + ".md"
    elif args.md:
        paths["markdown_file"] = args.md
    if args.per_image_csv:
        if osp.isdir(args.per_image_csv):
            raise SystemExit(f"--per-image-csv is a folder: {args.per_image_csv!r}; give a "
                             ".csv file path")
        paths["per_image_csv"] = args.per_image_csv
    for key, path in paths.items():
        if key != "report_file" and osp.abspath(path) == osp.abspath(args.out or ""):
            raise SystemExit(f"{path!r} would overwrite the JSON report (--out)")
    return paths


def configure_report(cfg, args) -> None:
    """Point the config's DefectMetric(s) at the report files and options of the CLI."""
    from mmseg_uda.utils import data_provenance

    paths = report_paths(args)
    options = {k: v for k, v in (("tolerance_px", args.tolerance_px),
                                 ("tolerances", args.tolerances),
                                 ("verdict_min_area", args.verdict_min_area),
                                 ("tile_size", args.tile_size)) if v is not None}
    if not paths and not options:
        return
    defect_metrics = [e for e in _evaluators(cfg.test_evaluator)
                      if e.get("type") == "DefectMetric"]
    if not defect_metrics:
        flags = ", ".join(f"--{k.replace('_', '-')}" for k in (*paths, *options))
        raise SystemExit(f"{flags} need a DefectMetric in test_evaluator "
                         f"(got {cfg.test_evaluator})")
    meta = dict(config=osp.abspath(args.config), checkpoint=osp.abspath(args.checkpoint),
                date=datetime.datetime.now().isoformat(timespec="seconds"),
                data=data_provenance(cfg))
    for evaluator in defect_metrics:
        evaluator.update(paths)
        evaluator.update(options)
        evaluator.report_meta = {**evaluator.get("report_meta", {}), **meta}


def main(argv=None):
    args = parse_args(argv)
    from mmengine.runner import Runner

    import mmseg_uda  # noqa: F401  (the stack fixes, before anything of mmseg is imported)
    from mmseg_uda.apis.tta import tta_config
    from mmseg_uda.compat.checkpoint import check_loadable, load_checkpoint_checked
    from mmseg_uda.utils import (
        check_data,
        default_work_dir,
        finish_distributed,
        load_config,
        setup_cpu_distributed,
    )

    check_loadable(args.checkpoint)  # missing, empty or truncated: one line, before the Runner
    cfg = load_config(args.config, args.cfg_options)
    cfg.launcher = args.launcher
    cfg.work_dir = default_work_dir(cfg, args.config, args.work_dir)
    cfg.load_from = None  # loaded below, strictly (the Runner would accept any checkpoint)
    cfg.resume = False

    if args.show:
        hooks = cfg.default_hooks
        if "visualization" not in hooks:
            raise SystemExit("--show needs default_hooks.visualization "
                             "(dict(type='SegVisualizationHook'))")
        hooks.visualization.draw = True
        hooks.visualization.show = True
        hooks.visualization.wait_time = args.wait_time
    if args.show_dir:
        if osp.isfile(args.show_dir):
            raise SystemExit(f"--show-dir is a file: {args.show_dir!r}; give a folder")
        cfg.custom_hooks = [*cfg.get("custom_hooks", []),
                            dict(type="ShowDirHook", out_dir=args.show_dir)]
    if args.tta is not None:
        try:
            tta_config(cfg, args.tta)
        except ValueError as exc:
            raise SystemExit(str(exc)) from None

    configure_report(cfg, args)
    # The test set's folder, masks and classes, before the Runner (and its config dump).
    for note in check_data(cfg, "test"):
        print(f"[tools/test.py] {note}", file=sys.stderr)
    setup_cpu_distributed(cfg, args.launcher)

    runner = Runner.from_cfg(cfg)
    loaded = load_checkpoint_checked(runner.model, args.checkpoint, strict=not args.non_strict)
    if args.non_strict and (loaded["missing"] or loaded["unexpected"]):
        print(f"[tools/test.py] warning: --non-strict: {len(loaded['missing'])} model key(s) "
              f"not in the checkpoint, {len(loaded['unexpected'])} checkpoint key(s) unused",
              file=sys.stderr)
    metrics = runner.test()
    if runner.rank == 0:
        record_loading(args, loaded)
        summary = ", ".join(f"{k}: {v:.2f}" for k, v in metrics.items()
                            if isinstance(v, float) and "." not in k)
        print(f"[tools/test.py] {summary}" + (f" -> {args.out}" if args.out else ""))
    finish_distributed()


def record_loading(args, loaded: dict) -> None:
    """Add how the checkpoint was loaded to the JSON report (``checkpoint_loading``)."""
    if not args.out or not osp.isfile(args.out):
        return
    with open(args.out, encoding="utf-8") as f:
        report = json.load(f)
    report["checkpoint_loading"] = dict(
        strict=loaded["strict"], missing_keys=loaded["missing"],
        unexpected_keys=loaded["unexpected"], ignored_teacher_keys=len(loaded["ignored"]))
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)


if __name__ == "__main__":
    run_main(main, parse_args, "tools/test.py")
