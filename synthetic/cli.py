"""Command line: ``python -m synthetic {generate,merge,list,sheet}``.

Examples::

    python -m synthetic generate --type crack --num 1000 --size 512 --seed 0 \\
        --out data/synth_pavement --workers 2 --preview
    python -m synthetic generate --type crack,spot --style metal_line --num 200 \\
        --size 640x480 --seed 1 --out data/synth_metal
    python -m synthetic generate --type crack --style lab --disable distractors,noise \\
        --num 100 --size 256 --seed 0 --out /tmp/ablation
    # a style fitted to the user's unlabeled photos, then defects rendered into those photos
    python -m synthetic fit-style --target data/my_photos --split train.txt --out style.json
    python -m synthetic generate --style style.json --num 600 --out data/synth_fitted
    python -m synthetic generate --style style.json --backgrounds data/my_photos \
        --backgrounds-split train.txt --num 600 --size 480x320 --out data/synth_in_photos
    python -m synthetic generate --type crack --num 2000 --seed 0 --shard 0/2 --out part0
    python -m synthetic merge part0 part1 --out data/synthetic_cracks   # see synthetic/shard.py
    python -m synthetic list
    python -m synthetic sheet --out docs/images/styles.png
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from .compose import check_disable, check_style, check_types, parse_size
from .defects import defect_names, get_defect
from .shard import merge_shards, parse_shard
from .styles import DEFAULT_STYLE, FEATURES, STYLES
from .version import __version__
from .writer import IMAGE_FORMATS, generate_dataset


def _positive_int(name: str):
    def conv(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be an integer, got {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{name} must be > 0, got {value}")
        return value
    return conv


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"seed must be an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"seed must be >= 0, got {value}")
    return value


def _wrap(check):
    """argparse type from a validator that raises ValueError with a clear message."""
    def conv(text: str):
        try:
            check(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return text
    return conv


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"val-fraction must be a number, got {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"val-fraction must be in [0, 1), got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="python -m synthetic",
        description="Synthetic defect images with exact pixel masks.",
    )
    parser.add_argument("--version", action="version", version=f"synthetic {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="write a dataset folder",
                       description="Write DIR/images, DIR/masks, train.txt, val.txt, meta.json.")
    g.add_argument("--type", dest="types", default="crack", type=_wrap(check_types),
                   help=f"defect types in class order, comma-separated (class ids 1, 2, ...); "
                        f"available: {', '.join(defect_names())} (default: crack)")
    g.add_argument("--num", type=_positive_int("num"), required=True, help="number of images")
    g.add_argument("--size", default=None, type=_wrap(parse_size),
                   help="image size S (square) or WxH in pixels (default: with a style file "
                        "from fit-style the median size of its photos, else 512)")
    g.add_argument("--seed", type=_non_negative_int, default=0, help="run seed (default: 0)")
    g.add_argument("--out", required=True, help="output folder (must be empty or new)")
    g.add_argument("--style", default=DEFAULT_STYLE, type=_wrap(check_style),
                   help=f"style preset ({', '.join(STYLES)}) or a style file written by "
                        f"fit-style (default: {DEFAULT_STYLE})")
    g.add_argument("--workers", type=_positive_int("workers"), default=1,
                   help="worker processes (default: 1)")
    g.add_argument("--overwrite", action="store_true",
                   help="replace the dataset in a non-empty output folder")
    g.add_argument("--preview", action="store_true", help="also write DIR/preview.png")
    g.add_argument("--val-fraction", type=_fraction, default=0.1,
                   help="share of images listed in val.txt (default: 0.1)")
    g.add_argument("--format", dest="image_format", choices=IMAGE_FORMATS, default="png",
                   help="image file format; masks are always PNG (default: png)")
    g.add_argument("--disable", default="", type=_wrap(check_disable),
                   help="realism features to switch off, comma-separated "
                        "(see `python -m synthetic list`)")
    g.add_argument("--enable", default="", type=_wrap(lambda v: check_disable(v, "enable")),
                   help="features the style leaves off to switch back on, comma-separated "
                        "(e.g. --style pavement --enable branching,jagged,rims,spalls,dust,"
                        "fading,empty_images: pavement as of generator 1.0.0)")
    g.add_argument("--backgrounds", metavar="DIR",
                   help="render the defects into crops of these real photos (a folder or a "
                        "dataset root with images/) instead of procedural surfaces")
    g.add_argument("--backgrounds-split", metavar="FILE",
                   help="split file naming the photos to use, e.g. train.txt (default: all)")
    g.add_argument("--ignore-masks", metavar="DIR",
                   help="masks (<photo name>.png, non-zero = defect) of defects already in the "
                        "photos: labeled 255 (ignore). Without them or --ignore-from, a photo's "
                        "own defects are labeled background")
    g.add_argument("--ignore-from", nargs=2, metavar=("CONFIG", "CKPT"),
                   help="a trained model whose detections in the photos are labeled 255 "
                        "(ignore); the masks are written to OUT/ignore_masks")
    g.add_argument("--ignore-threshold", type=float, default=0.5,
                   help="defect probability threshold of --ignore-from (default: 0.5)")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    g.add_argument("--shard", type=_wrap(parse_shard), metavar="I/N",
                   help="render only images k with k %% N == I (0 <= I < N), for N machines; "
                        "put the folders together with 'merge'")
    m = sub.add_parser("merge", help="merge the folders of 'generate --shard I/N' into one "
                                     "dataset (byte-identical to an unsharded run)")
    m.add_argument("shards", nargs="+", help="the shard folders (each I of N once)")
    m.add_argument("--out", required=True, help="output folder (must be empty or new)")
    m.add_argument("--overwrite", action="store_true", help="replace a dataset in --out")

    f = sub.add_parser("fit-style", help="fit a style file to unlabeled target photos",
                       description="Measure brightness, contrast, colour balance, illumination "
                                   "gradient, noise, sharpness, JPEG quality, texture scale and "
                                   "roughness of the photos and write a style file that "
                                   "`generate --style FILE` accepts. Labels are never read.")
    f.add_argument("--target", required=True,
                   help="folder of photos, or a dataset root with images/")
    f.add_argument("--split", help="split file naming the photos to measure, e.g. train.txt "
                                   "(never the test split: that is the evaluation)")
    f.add_argument("--out", required=True, help="style file to write (.json)")
    f.add_argument("--base", default=DEFAULT_STYLE, type=_wrap(check_style),
                   help="preset whose defects, distractors and scene effects are kept "
                        f"(default: {DEFAULT_STYLE})")
    f.add_argument("--name", help="name of the fitted style (default: fitted-<folder>)")
    f.add_argument("--max-images", type=_positive_int("max-images"), default=200,
                   help="measure at most this many photos (default: 200)")
    f.add_argument("--overwrite", action="store_true", help="replace an existing style file")

    sub.add_parser("list", help="list defect types, styles and switchable features")

    s = sub.add_parser("sheet", help="write a contact sheet of styles (for the docs)")
    s.add_argument("--out", required=True, help="output PNG path")
    s.add_argument("--styles", default=",".join(STYLES),
                   help="comma-separated styles (default: all)")
    s.add_argument("--per-style", type=_positive_int("per-style"), default=4)
    s.add_argument("--size", default="256", type=_wrap(parse_size))
    s.add_argument("--tile", type=_positive_int("tile"), default=200)
    s.add_argument("--seed", type=_non_negative_int, default=0)
    s.add_argument("--type", dest="types", default="crack", type=_wrap(check_types))
    return parser


def _list() -> None:
    print("defect types (--type):")
    for name in defect_names():
        print(f"  {name:16s} {get_defect(name).description}")
    print("\nstyles (--style):")
    for name, style in STYLES.items():
        mark = " (default)" if name == DEFAULT_STYLE else ""
        print(f"  {name}{mark}\n      {style.description}")
        if style.off:
            print(f"      leaves off: {', '.join(sorted(style.off))}")
    print("\nfeatures (--disable):")
    for name, text in FEATURES.items():
        print(f"  {name:16s} {text}")


def _fit_style(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from .fit import fit_style

    if os.path.exists(args.out) and not args.overwrite:
        parser.error(f"style file {args.out!r} exists; pass --overwrite to replace it")
    if args.base not in STYLES:
        parser.error(f"argument --base: a preset name is required, got {args.base!r}")
    try:
        style = fit_style(args.target, args.split, base=args.base, name=args.name,
                          max_images=args.max_images)
    except (FileNotFoundError, ValueError, KeyError) as exc:
        parser.error(exc.args[0] if exc.args else str(exc))
    tmp = f"{args.out}.tmp"
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(style, fh, indent=1)
        fh.write("\n")
    os.replace(tmp, args.out)
    w, h = style["fit"]["median_size"]
    print(f"wrote {args.out}; generate with: python -m synthetic generate --style {args.out} "
          f"--num N --out DIR  (images of {w}x{h}, the photos' median size, unless --size)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "list":
        _list()
        return 0
    if args.command == "sheet":
        from .preview import style_grid, write_image

        styles: list[str] = [x.strip() for x in args.styles.split(",") if x.strip()]
        for st in styles:
            try:
                check_style(st)
            except ValueError as exc:
                parser.error(f"argument --styles: {exc}")
        h, w = parse_size(args.size)
        grid = style_grid(styles, args.per_style, (w, h), args.seed, check_types(args.types),
                          tile=args.tile)
        write_image(args.out, grid)
        print(f"wrote {args.out} ({grid.shape[1]}x{grid.shape[0]})")
        return 0
    if args.command == "fit-style":
        return _fit_style(parser, args)
    if args.command == "merge":
        try:
            meta = merge_shards(args.shards, args.out, overwrite=args.overwrite)
        except (FileExistsError, NotADirectoryError, ValueError) as exc:
            parser.error(str(exc))
        print(f"merged {len(args.shards)} shards: {len(meta['images'])} images -> {args.out}")
        return 0
    try:
        meta = generate_dataset(
            args.out,
            types=args.types,
            num=args.num,
            size=args.size,
            seed=args.seed,
            style=args.style,
            workers=args.workers,
            overwrite=args.overwrite,
            preview=args.preview,
            val_fraction=args.val_fraction,
            image_format=args.image_format,
            disable=args.disable,
            enable=args.enable,
            progress=not args.quiet,
            backgrounds=args.backgrounds,
            backgrounds_split=args.backgrounds_split,
            ignore_masks=args.ignore_masks,
            ignore_from=args.ignore_from,
            ignore_threshold=args.ignore_threshold,
            shard=parse_shard(args.shard) if args.shard else None,
        )
    except (FileExistsError, FileNotFoundError, NotADirectoryError, ValueError,
            KeyError) as exc:
        parser.error(str(exc))
    except KeyboardInterrupt:
        print(f"\ninterrupted; partial image/mask pairs removed from {args.out}",
              file=sys.stderr)
        return 130
    n = len(meta["images"])
    rate = n / max(meta["_elapsed_s"], 1e-9)
    print(f"wrote {n} images to {args.out} ({meta['splits']['train']} train, "
          f"{meta['splits']['val']} val) in {meta['_elapsed_s']:.1f} s ({rate:.1f} images/s)")
    return 0
