"""Predict defects with an exported ONNX model: numpy, OpenCV and onnxruntime only.

    python -m mmseg_uda.deploy.predict MODEL.onnx INPUT --out DIR [--overwrite]
                                       [--pixel-threshold P] [--min-area PX] [--panels]
                                       [--mask-format palette|ids] [--no-images]
                                       [--recursive] [--threads N]
                                       [--tta [SCALE ...]] [--window PX] [--stride PX [PX]]

Writes what ``tools/predict.py`` writes (``masks/``, ``overlays/``, ``heatmaps/``,
``attention/``, ``predictions.json``, ``verdicts.csv``; see :mod:`mmseg_uda.deploy.outputs`)
with the thresholds stored in the model (``--pixel-threshold`` / ``--min-area`` win), drawn
by the same code: palette masks by default (``--mask-format ids`` for grey class ids), overlays
labelled on the regions large enough to read, heat maps with a colour bar.

A model exported with ``--dynamic`` takes images of any size (``--window`` tiles them as
``tools/predict.py --window`` does); a fixed-size model takes its input size, and larger images
in windows of that size (step ``--stride``, default the model's slide stride or half the
window), overlaps averaged. ``--tta`` averages the probabilities of the image and its
horizontal flip at each ``SCALE`` as ``tools/predict.py --tta`` (scales other than 1 need a
dynamic model). Unreadable files, and images smaller than a fixed-size model's input, are
listed under ``errors`` and skipped. Exit status 1 if no image could be predicted. See
docs/deploy.md.
"""

from __future__ import annotations

import argparse
import os.path as osp
import sys
import time

from .files import list_images, prepare_output_dir
from .outputs import predict_to_folder
from .runtime import OnnxModelError, OnnxSegmentor
from .views import tta_settings

PROG = "python -m mmseg_uda.deploy.predict"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog=PROG, description="Predict defect masks, regions and OK/defect verdicts with an "
        "ONNX model exported by tools/export_onnx.py (no torch needed)")
    parser.add_argument("model", help="the .onnx file")
    parser.add_argument("input", help="an image, a folder of images, or a quoted glob pattern")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--overwrite", action="store_true",
                        help="write into a non-empty --out (files of the same name are replaced)")
    parser.add_argument("--pixel-threshold", type=float, metavar="P",
                        help="defect probability from which a pixel is a defect, in [0, 1] "
                             "(default: the model's, from its calibration or 0.5)")
    parser.add_argument("--min-area", type=int, metavar="PX",
                        help="smallest defect region in pixels that makes the image 'defect' "
                             "(default: the model's, from its calibration or 16)")
    parser.add_argument("--panels", action="store_true",
                        help="also write image | overlay | heat map [| attention] panels")
    parser.add_argument("--mask-format", choices=["palette", "ids"], default="palette",
                        help="masks/ as palette PNGs (pixel values = class ids, shown in the "
                             "class colours; read ids with PIL or MMSeg) or as grey class-id "
                             "PNGs (default: palette, as tools/predict.py)")
    parser.add_argument("--no-images", action="store_true",
                        help="write predictions.json / verdicts.csv only (no PNGs)")
    parser.add_argument("--recursive", action="store_true", help="search sub-folders of INPUT")
    parser.add_argument("--threads", type=int, metavar="N",
                        help="ONNX Runtime intra-op threads (default: one per core)")
    parser.add_argument("--tta", nargs="*", type=float, metavar="SCALE",
                        help="test-time augmentation: average the probabilities of the image "
                             "and its horizontal flip at each SCALE (default: 1; other scales "
                             "need a model exported with --dynamic)")
    parser.add_argument("--window", type=int, metavar="PX",
                        help="tile images with square windows of this side (models exported "
                             "with --dynamic; a fixed-size model is tiled with its input size)")
    parser.add_argument("--stride", type=int, nargs="+", metavar="PX",
                        help="step between tiles in pixels, one value or H W (default: half "
                             "the window, or the model's own slide stride)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.window is not None and args.window < 1:
        parser.error(f"--window must be >= 1 pixel, got {args.window}")
    if args.stride is not None:
        if len(args.stride) > 2 or min(args.stride) < 1:
            parser.error(f"--stride takes 1 or 2 values >= 1 (H W), got {args.stride}")
        if args.window is not None and max(args.stride) > args.window:
            parser.error(f"--stride must be in [1, --window], got {args.stride}")
    return args


def inference_settings(model: OnnxSegmentor, args) -> dict:
    """How the runner predicts, as recorded in ``predictions.json`` (with ``tta`` settings
    when asked); checks the options against the model once, before any image (a ValueError
    names what does not fit)."""
    size = model.input_size
    tta = None if args.tta is None else tta_settings(args.tta)
    if size is None:
        tiles = model.tiling((1, 1), args.window, args.stride, tta)
        mode = "onnxruntime, any size (dynamic), " + ("tiled" if tiles else "whole image")
    else:  # the windows of an image larger than the model's input
        tiles = model.tiling((size[0] + 1, size[1] + 1), args.window, args.stride, tta)
        mode = f"onnxruntime, {size[0]}x{size[1]} whole, larger images tiled"
    inference = dict(window=tiles and list(tiles[0]), stride=tiles and list(tiles[1]),
                     mode=mode, input_size=size and list(size))
    if tta:
        inference["tta"] = {k: list(v) for k, v in tta.items()}
    return dict(inference, options=dict(tta=tta, window=args.window, stride=args.stride))


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        paths = list_images(args.input, recursive=args.recursive)
        model = OnnxSegmentor(args.model, num_threads=args.threads)
        thresholds = model.thresholds(args.pixel_threshold, args.min_area)
        inference = inference_settings(model, args)
        prepare_output_dir(args.out, args.overwrite)
    except (OSError, ValueError, OnnxModelError) as exc:
        raise SystemExit(f"[{PROG}] error: {exc}") from None
    print(f"[{PROG}] {len(paths)} image(s); thresholds: pixel {thresholds.pixel_threshold:g}, "
          f"min area {thresholds.min_area} px ({thresholds.source})")
    start = time.perf_counter()
    options = inference.pop("options")
    result = predict_to_folder(
        lambda img: model.predict(img, thresholds, **options), paths, args.out, model.classes,
        model.palette, thresholds, inference=inference,
        save_images=not args.no_images, save_panels=args.panels,
        mask_palette=args.mask_format == "palette", progress=not args.no_progress,
        meta=dict(model=osp.abspath(args.model), input=args.input),
        log=lambda msg: print(f"[{PROG}] {msg}", file=sys.stderr))
    s = result["summary"]
    seconds = time.perf_counter() - start
    print(f"[{PROG}] {s['num_images']} predicted in {seconds:.1f} s: {s['num_defect']} defect, "
          f"{s['num_ok']} OK; {s['num_errors']} skipped -> "
          f"{osp.join(args.out, 'predictions.json')}")
    return 0 if s["num_images"] else 1


if __name__ == "__main__":
    sys.exit(main())
