"""Calibrate the OK / defect verdict thresholds of a model on a labeled set.

    python tools/calibrate.py CONFIG CHECKPOINT DATA_ROOT [--split test.txt]
                              [--target-recall 0.95] [--pixel-threshold f1|recall|P]
                              [--tile-size PX] [--out calibration.json] [--plot PR.png]
                              [--window PX [--stride PX]] [--overwrite] [--device cpu]

DATA_ROOT is a dataset in the project layout (``images/``, ``masks/``, split files). The tool
predicts every image of the split, then

1. picks the **pixel threshold** on the pixel precision–recall curve of the defect probability
   1 − p(background): best F1 (default), ``recall`` (the most precise threshold with pixel
   recall >= target) or a fixed number;
2. scores every image (or tile, ``--tile-size``) by the **area of its largest predicted defect
   region** at that threshold and picks the **minimum area**: among the areas that still find
   ``--target-recall`` of the defective images (missed defects cost more than false alarms),
   the one of the highest image precision (ties: the larger area).

Thresholds chosen on the images you then report on are optimistic: calibrate on a labeled
split apart from the test split (the tool warns when ``--split`` is the ``test.txt`` that the
configs evaluate on).

It writes ``calibration.json`` (default: beside the checkpoint, where tools/predict.py finds it)
and a PNG of the curves (default: ``calibration_pr.png`` beside it). See docs/tools.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from tools._cli import CfgOptionsAction, add_debug_flag, parse_early  # noqa: E402


def _pixel_rule(value: str):
    if value in ("f1", "recall"):
        return value
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected 'f1', 'recall' or a number in [0, 1], got {value!r}") from None
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"pixel threshold must be in [0, 1], got {number}")
    return number


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Calibrate the verdict thresholds on a "
                                     "labeled set (precision-recall curves)")
    parser.add_argument("config", help="config file of the model")
    parser.add_argument("checkpoint", help="checkpoint file")
    parser.add_argument("data_root", help="labeled dataset root (images/, masks/, split files)")
    parser.add_argument("--split", default="test.txt",
                        help="split file inside DATA_ROOT; '' for every image (default: "
                             "test.txt)")
    parser.add_argument("--target-recall", type=float, default=0.95,
                        help="share of defective images (tiles) that must be found (default: "
                             "0.95)")
    parser.add_argument("--pixel-threshold", type=_pixel_rule, default="f1",
                        help="'f1' (best pixel F1, default), 'recall' (pixel recall >= target) "
                             "or a fixed defect probability in [0, 1]")
    parser.add_argument("--tile-size", type=int, metavar="PX",
                        help="judge tiles of this side instead of whole images (for sets where "
                             "every image has a defect)")
    parser.add_argument("--out", help="calibration JSON (default: calibration.json beside the "
                        "checkpoint)")
    parser.add_argument("--plot", help="PNG of the curves (default: <out>_pr.png)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    parser.add_argument("--window", type=int, metavar="PX", help="sliding-window tile side in "
                        "pixels for inference (default: whole image)")
    parser.add_argument("--stride", type=int, metavar="PX", help="sliding-window step "
                        "(default: window / 2)")
    parser.add_argument("--bins", type=int, default=1000,
                        help="probability bins of the pixel curve (default: 1000)")
    parser.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--cfg-options", nargs="+", action=CfgOptionsAction,
                        help="override config settings, key=value")
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    if not 0.0 < args.target_recall <= 1.0:
        parser.error(f"--target-recall must be in (0, 1], got {args.target_recall}")
    if args.tile_size is not None and args.tile_size < 1:
        parser.error(f"--tile-size must be >= 1 pixel, got {args.tile_size}")
    if args.stride is not None and args.window is None:
        parser.error("--stride needs --window")
    return args


parse_early(__name__, parse_args)  # --help before the stack is imported


import mmseg_uda  # noqa: E402,F401  (stack fixes before mmseg)
from mmseg_uda.analysis.plots import plot_calibration  # noqa: E402
from mmseg_uda.apis import default_calibration_path, init_model  # noqa: E402
from mmseg_uda.apis.calibrate import calibrate_thresholds, collect_calibration_data  # noqa: E402
from mmseg_uda.datasets import DefectDataset  # noqa: E402
from mmseg_uda.datasets.defect_dataset import DatasetError  # noqa: E402
from mmseg_uda.utils import exit_tool, run_tool  # noqa: E402


def labeled_samples(data_root: str, split: str, classes) -> list:
    """``(image, mask)`` pairs of a split (files must exist; decoding is checked later)."""
    dataset = DefectDataset(data_root=data_root, split=split or None, pipeline=[],
                            metainfo=dict(classes=tuple(classes)), validate="none",
                            test_mode=True)
    return [(dataset.get_data_info(i)["img_path"], dataset.get_data_info(i)["seg_map_path"])
            for i in range(len(dataset))]


def main(argv=None) -> int:
    args = parse_args(argv)
    out = args.out or default_calibration_path(args.checkpoint)
    plot = args.plot or osp.splitext(out)[0] + "_pr.png"
    if not osp.isfile(args.checkpoint):
        raise SystemExit(f"[tools/calibrate.py] error: checkpoint file not found: "
                         f"{args.checkpoint!r}")
    if osp.exists(out) and not args.overwrite:
        raise SystemExit(f"[tools/calibrate.py] error: {out!r} exists; pass --overwrite to "
                         "replace it or --out to write elsewhere")
    model = init_model(args.config, args.checkpoint, device=args.device,
                       cfg_options=args.cfg_options)
    try:
        samples = labeled_samples(args.data_root, args.split, model.dataset_meta["classes"])
    except DatasetError as exc:
        raise SystemExit(f"[tools/calibrate.py] error: {exc}") from None
    print(f"[tools/calibrate.py] {len(samples)} labeled image(s) from {args.data_root!r} "
          f"(split {args.split or 'all'})")
    if osp.basename(args.split or "") == "test.txt":
        print("[tools/calibrate.py] warning: calibrating on test.txt, the split the configs "
              "evaluate on: the test report of these thresholds will be optimistic; calibrate "
              "on another labeled split (--split) to report honestly", file=sys.stderr)
    data = collect_calibration_data(model, samples, window=args.window, stride=args.stride,
                                    bins=args.bins, progress=not args.no_progress)
    for err in data.errors:
        print(f"[tools/calibrate.py] skipped {err['image']!r}: {err['error']}", file=sys.stderr)
    try:
        calibration, curves = calibrate_thresholds(data, args.target_recall,
                                                   args.pixel_threshold, args.tile_size)
    except ValueError as exc:
        raise SystemExit(f"[tools/calibrate.py] error: {exc}") from None
    calibration.update(
        config=osp.abspath(args.config), checkpoint=osp.abspath(args.checkpoint),
        data_root=osp.abspath(args.data_root), split=args.split,
        window=args.window, stride=args.stride, plot=osp.abspath(plot),
        date=datetime.datetime.now().isoformat(timespec="seconds"))
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        json.dump(calibration, f, indent=2)
    img = calibration["image_level"]
    pix = calibration["pixel_level"]
    data_name = osp.basename(osp.normpath(args.data_root))
    plot_calibration(curves["pixel"], pix, curves["item"], img, args.target_recall, plot,
                     item_unit=img["unit"],
                     title=f"{osp.basename(args.checkpoint)} on {data_name} "
                           f"({calibration['num_images']} images)")
    for warning in calibration["warnings"]:
        print(f"[tools/calibrate.py] warning: {warning}", file=sys.stderr)
    print(f"[tools/calibrate.py] pixel threshold {calibration['pixel_threshold']:.3f} "
          f"(pixel P {pix['precision']:.3f} R {pix['recall']:.3f}); min area "
          f"{calibration['min_area']} px -> {img['unit']} recall {img['recall']:.3f}, "
          f"precision {img['precision']:.3f} (TP {img['TP']} FP {img['FP']} FN {img['FN']} "
          f"TN {img['TN']}) -> {out}, {plot}")
    return 0


if __name__ == "__main__":
    exit_tool(run_tool(main, "tools/calibrate.py"))
