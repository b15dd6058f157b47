"""Predict defects with an exported ONNX model: numpy, OpenCV and onnxruntime only.

    python -m mmseg_uda.deploy.predict MODEL.onnx INPUT --out DIR [--overwrite]
                                       [--pixel-threshold P] [--min-area PX] [--panels]
                                       [--no-images] [--recursive] [--threads N]

Writes what ``tools/predict.py`` writes (``masks/``, ``overlays/``, ``heatmaps/``,
``attention/``, ``predictions.json``, ``verdicts.csv``; see :mod:`mmseg_uda.deploy.outputs`)
with the thresholds stored in the model (``--pixel-threshold`` / ``--min-area`` win). Unreadable
files, and images of another size than a fixed-size model's, are listed under ``errors`` and
skipped. Exit status 1 if no image could be predicted. See docs/deploy.md.
"""

from __future__ import annotations

import argparse
import os.path as osp
import sys
import time

from .files import list_images, prepare_output_dir
from .outputs import predict_to_folder
from .runtime import OnnxModelError, OnnxSegmentor

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
    parser.add_argument("--no-images", action="store_true",
                        help="write predictions.json / verdicts.csv only (no PNGs)")
    parser.add_argument("--recursive", action="store_true", help="search sub-folders of INPUT")
    parser.add_argument("--threads", type=int, metavar="N",
                        help="ONNX Runtime intra-op threads (default: one per core)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        paths = list_images(args.input, recursive=args.recursive)
        model = OnnxSegmentor(args.model, num_threads=args.threads)
        thresholds = model.thresholds(args.pixel_threshold, args.min_area)
        prepare_output_dir(args.out, args.overwrite)
    except (OSError, ValueError, OnnxModelError) as exc:
        raise SystemExit(f"[{PROG}] error: {exc}") from None
    print(f"[{PROG}] {len(paths)} image(s); thresholds: pixel {thresholds.pixel_threshold:g}, "
          f"min area {thresholds.min_area} px ({thresholds.source})")
    start = time.perf_counter()
    size = model.input_size
    result = predict_to_folder(
        lambda img: model.predict(img, thresholds), paths, args.out, model.classes,
        model.palette, thresholds,
        inference=dict(window=None, stride=None, mode="onnxruntime, whole image",
                       input_size=None if size is None else list(size)),
        save_images=not args.no_images, save_panels=args.panels,
        progress=not args.no_progress,
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
