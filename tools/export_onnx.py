"""Export a trained model to ONNX, check it against PyTorch on real images, write it.

    python tools/export_onnx.py CONFIG CHECKPOINT --out model.onnx
                                (--input-size H W | --dynamic)
                                [--images IMAGES] [--num-images 4]
                                [--calibration calibration.json]
                                [--max-prob-diff 1e-3] [--min-mask-agreement 0.999]
                                [--overwrite] [--cfg-options k=v ...]

The graph holds the model's whole test-time inference (for HRDA: context pass, sliding detail
windows, scale attention, outer window) and the softmax; the metadata holds the preprocessing
constants, class names, palette and thresholds (``--calibration``, else ``calibration.json``
beside the checkpoint, else the defaults). ``--input-size`` fixes the graph's size (the runner
tiles larger images with it); ``--dynamic`` leaves batch, height and width free (traced at the
size of the first parity image). HRDA and ``test_cfg.mode='slide'`` models are refused
``--dynamic`` with the reason and the size to export them at instead (docs/deploy.md).

Parity: the exported model runs in ONNX Runtime on ``--images`` (default: the first
``--num-images`` of the config's test split) and is compared with PyTorch; the figures are
printed and stored in the metadata; a ``--dynamic`` model is also checked on the images resized
to a second, odd size. Above the tolerances the tool exits with status 1 and
writes nothing. Run it with the model's runner: ``python -m mmseg_uda.deploy.predict``.
See docs/deploy.md.
"""

from __future__ import annotations

import argparse
import json
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

# Only argparse before main(): --help answers without importing torch / MMEngine / MMSeg.
from tools._cli import add_cfg_options  # noqa: E402

# The parity tolerances of mmseg_uda.deploy.export (DEFAULT_MAX_PROB_DIFF,
# DEFAULT_MIN_MASK_AGREEMENT), written out for --help; a test keeps them equal.
MAX_PROB_DIFF = 1e-3
MIN_MASK_AGREEMENT = 0.999

PREFIX = "[tools/export_onnx.py]"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Export a model to ONNX with a parity check against PyTorch")
    parser.add_argument("config", help="config file of the model")
    parser.add_argument("checkpoint", help="checkpoint file")
    parser.add_argument("--out", required=True, help="the .onnx file to write")
    size = parser.add_mutually_exclusive_group(required=True)
    size.add_argument("--input-size", type=int, nargs=2, metavar=("H", "W"),
                      help="fixed input size in pixels (e.g. 320 480 for CFD)")
    size.add_argument("--dynamic", action="store_true",
                      help="any batch / height / width (SegFormer-type models in whole-image "
                           "test mode; HRDA and slide models are refused with the reason)")
    parser.add_argument("--images", help="parity images: a file, folder or quoted glob "
                        "(default: the config's test split)")
    parser.add_argument("--num-images", type=int, default=4, metavar="N",
                        help="number of parity images (default: 4)")
    parser.add_argument("--calibration", help="calibration JSON from tools/calibrate.py "
                        "(default: calibration.json beside the checkpoint, if present)")
    parser.add_argument("--max-prob-diff", type=float, default=MAX_PROB_DIFF,
                        help="parity tolerance: largest |probability difference| "
                             f"(default: {MAX_PROB_DIFF:g})")
    parser.add_argument("--min-mask-agreement", type=float, default=MIN_MASK_AGREEMENT,
                        help="parity tolerance: smallest fraction of pixels with the same "
                             f"thresholded class (default: {MIN_MASK_AGREEMENT:g})")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    add_cfg_options(parser, help="override config settings, key=value")
    args = parser.parse_args(argv)
    if args.num_images < 1:
        parser.error(f"--num-images must be >= 1, got {args.num_images}")
    if args.input_size is not None and min(args.input_size) < 32:
        # mmseg_uda.deploy.export.check_input_size's rule, without importing the stack
        parser.error(f"--input-size {args.input_size[0]} {args.input_size[1]}: both sides "
                     "must be >= 32 pixels (the MiT encoder downsamples by 32)")
    return args


def test_split_images(cfg) -> list:
    """Image files of the config's test split (``data_root/images`` + the split file)."""
    from mmseg_uda.apis import list_images

    ds = cfg.test_dataloader.dataset
    root = ds.get("data_root")
    if not root or not osp.isdir(osp.join(root, "images")):
        raise FileNotFoundError(f"no images folder under the test dataset's data_root {root!r}; "
                                "give --images")
    paths = list_images(osp.join(root, "images"))
    split = ds.get("split")
    if split:
        split_file = split if osp.isabs(split) else osp.join(root, split)
        if osp.isfile(split_file):
            with open(split_file, encoding="utf-8") as f:
                names = {line.strip() for line in f if line.strip()}
            paths = [p for p in paths if osp.splitext(osp.basename(p))[0] in names]
    if not paths:
        raise FileNotFoundError(f"no test images under {root!r}; give --images")
    return paths


def main(argv=None) -> int:
    args = parse_args(argv)
    import cv2

    import mmseg_uda  # noqa: F401  (stack fixes before mmseg)
    from mmseg_uda.apis import init_model, list_images, load_image, resolve_thresholds
    from mmseg_uda.deploy.export import ExportError, export_with_parity

    try:
        if osp.exists(args.out) and not args.overwrite:
            raise FileExistsError(f"{args.out!r} exists; pass --overwrite to replace it")
        if not osp.isfile(args.checkpoint):
            raise FileNotFoundError(f"checkpoint file not found: {args.checkpoint!r}")
        thresholds = resolve_thresholds(args.checkpoint, args.calibration)
        model = init_model(args.config, args.checkpoint, device="cpu",
                           cfg_options=args.cfg_options)
        paths = (list_images(args.images) if args.images
                 else test_split_images(model.cfg))[:args.num_images]
        images = [load_image(p) for p in paths]
    except (OSError, ValueError, RuntimeError) as exc:
        raise SystemExit(f"{PREFIX} error: {exc}") from None
    size = tuple(args.input_size) if args.input_size else images[0].shape[:2]
    if args.dynamic and min(size) < 32:
        raise SystemExit(f"{PREFIX} error: --dynamic traces at the size of the first parity "
                         f"image, {size[0]}x{size[1]} ({paths[0]}): both sides must be >= 32 "
                         "pixels")
    resized = [p for p, img in zip(paths, images) if img.shape[:2] != tuple(size)]
    if resized and args.input_size:
        print(f"{PREFIX} {len(resized)} parity image(s) resized to the export size "
              f"{size[0]}x{size[1]}", file=sys.stderr)
        images = [img if img.shape[:2] == tuple(size) else
                  cv2.resize(img, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
                  for img in images]
    start = time.perf_counter()
    try:
        figures = export_with_parity(
            model, args.out, size, images, dynamic=args.dynamic, thresholds=thresholds,
            extra_meta=dict(config=osp.abspath(args.config),
                            checkpoint=osp.abspath(args.checkpoint),
                            parity_images=[osp.abspath(p) for p in paths]),
            max_prob_diff=args.max_prob_diff, min_mask_agreement=args.min_mask_agreement)
    except ExportError as exc:
        raise SystemExit(f"{PREFIX} error: {exc}") from None
    print(f"{PREFIX} parity on {figures['num_images']} image(s) "
          f"({'dynamic' if args.dynamic else 'fixed'} size, traced at {size[0]}x{size[1]}; "
          f"sizes {', '.join(figures['sizes'])}): "
          f"max |Δprob| {figures['max_abs_prob_diff']:.2e} "
          f"(tolerance {args.max_prob_diff:g}), mean |Δprob| "
          f"{figures['mean_abs_prob_diff']:.2e}, mask agreement "
          f"{figures['mask_agreement']:.6f} (tolerance {args.min_mask_agreement:g}), "
          f"max |Δinput| {figures['max_abs_input_diff']:.2e}"
          + (f", max |Δattention| {figures['max_abs_attention_diff']:.2e}"
             if figures["max_abs_attention_diff"] else ""))
    print(json.dumps({k: v for k, v in figures.items() if k != "tolerances"}))
    if figures["failures"]:
        print(f"{PREFIX} PARITY FAILED: {'; '.join(figures['failures'])}; {args.out!r} not "
              "written", file=sys.stderr)
        return 1
    print(f"{PREFIX} wrote {args.out} in {time.perf_counter() - start:.1f} s "
          f"(thresholds: pixel {thresholds.pixel_threshold:g}, min area {thresholds.min_area} "
          f"px, {thresholds.source})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
