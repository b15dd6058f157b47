"""Predict defects on an image, a folder or a glob: masks, overlays, heat maps, boxes, verdicts.

    python tools/predict.py CONFIG CHECKPOINT INPUT --out DIR [--overwrite]
                            [--calibration calibration.json] [--pixel-threshold P]
                            [--min-area PX] [--window PX [--stride PX]] [--panels]
                            [--mask-format palette|ids] [--no-images] [--recursive]
                            [--device cpu|cuda:0]
                            [--tta [SCALE ...]] [--launcher none|pytorch]
                            [--cfg-options k=v ...]

INPUT is an image file, a folder (its images; ``--recursive`` for sub-folders) or a quoted glob
(``'line/**/*.png'``). Per image the tool writes ``masks/``, ``overlays/``, ``heatmaps/`` and,
for models with a scale attention (HRDA), ``attention/`` PNGs, and for the whole run
``predictions.json`` (verdict, score, regions with bounding box, area and confidence, errors).
Masks are palette PNGs (class ids as pixel values, shown in colour; ``--mask-format ids`` for
grey ids). Overlays box and label only the regions large enough to read (the largest eight of
at least 4x ``--min-area`` and 1/2000 of the image) and say the verdict and region count; heat
and attention maps carry a colour bar.

Thresholds: ``--pixel-threshold`` / ``--min-area`` > ``--calibration FILE`` >
``calibration.json`` beside the checkpoint (written by tools/calibrate.py) > defaults (0.5, 16 px).
Unreadable files are listed under ``errors`` and skipped. Exit status 1 if no image could be
predicted. See docs/tools.md.

``--tta`` averages the probabilities of the image and its horizontal flip (at each ``SCALE``,
default 1). ``torchrun --nproc_per_node=N tools/predict.py ... --launcher pytorch`` splits the
images over N processes (GPUs with ``--device cuda``, else CPU) and writes one summary
(docs/deploy.md).
"""

from __future__ import annotations

import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from tools._cli import CfgOptionsAction, add_debug_flag, parse_early  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Predict defect masks, regions and OK/defect verdicts on images")
    parser.add_argument("config", help="config file of the model")
    parser.add_argument("checkpoint", help="checkpoint file")
    parser.add_argument("input", help="an image, a folder of images, or a quoted glob pattern")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--overwrite", action="store_true",
                        help="write into a non-empty --out (files of the same name are replaced)")
    parser.add_argument("--calibration", help="calibration JSON from tools/calibrate.py "
                        "(default: calibration.json beside the checkpoint, if present)")
    parser.add_argument("--pixel-threshold", type=float, metavar="P",
                        help="defect probability (1 - p(background)) from which a pixel is a "
                             "defect, in [0, 1] (overrides the calibration; default 0.5)")
    parser.add_argument("--min-area", type=int, metavar="PX",
                        help="smallest defect region in pixels that is reported and makes the "
                             "image 'defect' (overrides the calibration; default 16)")
    parser.add_argument("--window", type=int, metavar="PX",
                        help="tile large images with a sliding window of this side (pixels); "
                             "default: the whole image at once (the config's test mode)")
    parser.add_argument("--stride", type=int, metavar="PX",
                        help="step of the sliding window in pixels (default: window / 2)")
    parser.add_argument("--panels", action="store_true",
                        help="also write image | overlay | heat map [| attention] panels")
    parser.add_argument("--mask-format", choices=["palette", "ids"], default="palette",
                        help="masks/<name>.png: 'palette' (default: class ids as pixel values "
                             "shown in the class colours; read ids with PIL or MMSeg) or "
                             "'ids' (grey class ids); the ONNX runner has the same option")
    parser.add_argument("--no-images", action="store_true",
                        help="write predictions.json only (no PNGs)")
    parser.add_argument("--recursive", action="store_true", help="search sub-folders of INPUT")
    parser.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--tta", nargs="*", type=float, metavar="SCALE",
                        help="test-time augmentation: average the probabilities of the image "
                             "and its horizontal flip at each SCALE (default: 1)")
    parser.add_argument("--launcher", choices=["none", "pytorch"], default="none",
                        help="split the images over the processes of torchrun")
    parser.add_argument("--cfg-options", nargs="+", action=CfgOptionsAction,
                        help="override config settings, key=value")
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    if args.stride is not None and args.window is None:
        parser.error("--stride needs --window")
    if args.window is not None and args.window < 1:
        parser.error(f"--window must be >= 1 pixel, got {args.window}")
    if args.stride is not None and not 1 <= args.stride <= args.window:
        parser.error(f"--stride must be in [1, --window], got {args.stride}")
    return args


parse_early(__name__, parse_args)  # --help before the stack is imported


import mmseg_uda  # noqa: E402,F401  (stack fixes before mmseg)
from mmseg_uda.apis import init_model, list_images, resolve_thresholds  # noqa: E402
from mmseg_uda.apis.distributed import (  # noqa: E402
    init_predict_distributed,
    predict_files_distributed,
    prepare_output_dir_distributed,
)
from mmseg_uda.apis.tta import tta_settings  # noqa: E402
from mmseg_uda.utils import exit_tool, finish_distributed, run_tool  # noqa: E402


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        tta = None if args.tta is None else tta_settings(args.tta)
        _, _, args.device = init_predict_distributed(args.launcher, args.device)
        paths = list_images(args.input, recursive=args.recursive)
        thresholds = resolve_thresholds(args.checkpoint, args.calibration,
                                        args.pixel_threshold, args.min_area)
        if not osp.isfile(args.checkpoint):
            raise FileNotFoundError(f"checkpoint file not found: {args.checkpoint!r}")
        prepare_output_dir_distributed(args.out, args.overwrite)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"[tools/predict.py] error: {exc}") from None
    print(f"[tools/predict.py] {len(paths)} image(s); thresholds: pixel "
          f"{thresholds.pixel_threshold:g}, min area {thresholds.min_area} px "
          f"({thresholds.source})")
    model = init_model(args.config, args.checkpoint, device=args.device,
                       cfg_options=args.cfg_options)
    result = predict_files_distributed(
        model, paths, args.out, thresholds, window=args.window, stride=args.stride,
        save_images=not args.no_images, save_panels=args.panels,
        mask_palette=args.mask_format == "palette",
        progress=not args.no_progress, tta=tta,
        meta=dict(config=osp.abspath(args.config), checkpoint=osp.abspath(args.checkpoint),
                  input=args.input),
        log=lambda msg: print(f"[tools/predict.py] {msg}", file=sys.stderr))
    s = result["summary"]
    print(f"[tools/predict.py] {s['num_images']} predicted: {s['num_defect']} defect, "
          f"{s['num_ok']} OK; {s['num_errors']} skipped -> "
          f"{osp.join(args.out, 'predictions.json')}")
    finish_distributed()
    return 0 if s["num_images"] else 1


if __name__ == "__main__":
    exit_tool(run_tool(main, "tools/predict.py"))
