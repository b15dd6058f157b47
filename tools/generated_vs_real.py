"""Generated images beside real ones, per defect class: a contact sheet and/or region statistics.

    python tools/generated_vs_real.py --real ../shared/data/magnetic_tile-converted \
        --split train.txt --type blowhole,break,crack,fray,uneven --style magnetic_tile \
        --size 240x352 --out docs/images/magnetic_tile_generated_vs_real.jpg

    python tools/generated_vs_real.py --stats --real data/magnetic_tile --split train.txt \
        --type blowhole,break,crack,fray,uneven --style magnetic_tile --size 352x352 \
        --num 300 --stats-out work_dirs/mt_region_stats.json

Sheet (``--out``), row k: a generated image holding class k (image | its mask over it) and
``--per-class`` real images of the split whose mask holds class k, spread over the split
(image | mask over it).

Statistics (``--stats``; ``--stats-out`` also writes them as JSON and implies ``--stats``): per
class and domain, over the 8-connected components of the class's mask: images holding the
class, components per such image, component area (pixels: median, 10th, 90th percentile; share
of the image; equivalent diameter over the image's shorter side, as the real and generated
images may differ in size), the class's pixel share, elongation (major/minor axis from second
moments), mean grey inside and the contrast to a ring around the component (negative: darker);
see :mod:`synthetic.regions`. Printed as a Markdown table. The generated domain is ``--num``
images of ``synthetic.render_sample(--seed, index, --type, --size, --style)``, or an already
generated dataset folder (``--generated DIR``, its ``--generated-split``).

The real set is read in the project layout (``images/NAME.jpg|png``, ``masks/NAME.png`` with
class ids in the order of ``--type``, 255 = ignore); only the given split is read (use the
train split: the test split is the evaluation).
"""

from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import sys
from typing import List

import cv2
import numpy as np

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

import synthetic  # noqa: E402
from synthetic import regions  # noqa: E402
from synthetic.preview import overlay  # noqa: E402
from tools.dataset_converters import _layout  # noqa: E402


def _tile(image: np.ndarray, mask: np.ndarray, height: int) -> np.ndarray:
    """image | image with the mask over it, both scaled to ``height``."""
    h, w = mask.shape
    width = max(1, round(w * height / h))
    img = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    lab = cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST)
    gap = np.full((height, 2, 3), 255, np.uint8)
    return np.hstack([img, gap, overlay(img, lab)])


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    for colour, thick in (((0, 0, 0), 3), ((255, 255, 255), 1)):
        cv2.putText(tile, text, (5, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, thick,
                    cv2.LINE_AA)
    return tile


#: What each column of the statistics means (written into the JSON).
DEFINITIONS = {
    "components": "8-connected components of the class's mask (cv2.connectedComponentsWithStats)",
    "components_per_image": "median number of components over the images holding the class",
    "area_px": "component area in pixels: median, 10th and 90th percentile over components",
    "area_fraction": "median component area over the image's pixels",
    "eq_diameter_rel": "median diameter of the disc of the component's area over the image's "
                       "shorter side (the domains' image sizes may differ)",
    "pixel_share": "class pixels over all non-ignored pixels of the domain's images",
    "elongation": "median major/minor axis ratio from the second central moments of the "
                  "component's pixels (unit squares: a 1-px line of L pixels gives L)",
    "grey_in": "median of the component's mean luminance (BT.601, grey levels)",
    "contrast": "median of grey_in minus the mean luminance of a ring around the component "
                "(dilated by max(3, 0.25 * equivalent diameter) px, at most 15, less every "
                "labelled pixel); negative = darker than the surround",
}


def _read_split(root: str, split: str) -> List[str]:
    try:
        return _layout.read_split(osp.join(root, split))
    except _layout.LayoutError as e:
        raise SystemExit(str(e)) from None


def _read_pair(root: str, name: str):
    """(image BGR, mask, image path, mask path) of ``name`` in the project layout, checked."""
    try:
        return _layout.load_pair(root, name)
    except _layout.LayoutError as e:
        raise SystemExit(str(e)) from None


def _record(image, mask, num_classes: int, where: str) -> dict:
    try:
        return regions.image_record(image, mask, num_classes)
    except ValueError as e:
        raise SystemExit(f"{where}: {e}") from None


def _folder_records(root: str, names: List[str], num_classes: int) -> List[dict]:
    records = []
    for name in names:
        image, mask, _, mask_path = _read_pair(root, name)  # sizes checked there
        records.append(_record(image, mask, num_classes, mask_path))
    return records


def _generated_records(args, types: List[str]):
    """Records of the generated domain and its description for the report."""
    if args.generated:
        meta_path = osp.join(args.generated, "meta.json")
        if osp.isfile(meta_path):
            with open(meta_path) as f:
                meta_types = json.load(f).get("args", {}).get("types")
            if meta_types is not None and list(meta_types) != types:
                raise SystemExit(f"{meta_path}: generated with types {meta_types}, "
                                 f"not --type {types}")
        names = _read_split(args.generated, args.generated_split)
        if args.num is not None:
            names = names[:args.num]
        desc = {"source": "folder", "root": args.generated, "split": args.generated_split}
        return _folder_records(args.generated, names, len(types)), desc
    num = 200 if args.num is None else args.num
    if num < 1:
        raise SystemExit(f"--num must be positive, got {num}")
    records = []
    for index in range(num):
        img, mask, _ = synthetic.render_sample(args.seed, index, types, args.size, args.style)
        records.append(_record(img, mask, len(types), f"generated image {index}"))
    desc = {"source": "render_sample", "seed": args.seed, "style": args.style,
            "size": args.size, "version": synthetic.__version__}
    return records, desc


def region_report(args, types: List[str]) -> dict:
    """Per class x domain statistics (the JSON of ``--stats-out``)."""
    real = _folder_records(args.real, _read_split(args.real, args.split), len(types))
    generated, gen_desc = _generated_records(args, types)
    domains = {"generated": (generated, gen_desc),
               "real": (real, {"source": "folder", "root": args.real, "split": args.split})}
    rows = []
    for k, t in enumerate(types, start=1):
        for domain, (records, _) in domains.items():
            rows.append({"class_id": k, "class": t, "domain": domain,
                         **regions.summarise(records, k)})
    return {
        "classes": types,
        "ignore_index": 255,
        "domains": {d: {**desc, "num_images": len(rec), "image_size": regions.size_summary(rec)}
                    for d, (rec, desc) in domains.items()},
        "definitions": DEFINITIONS,
        "rows": rows,
    }


def _num(value, spec: str, scale: float = 1.0) -> str:
    return "–" if value is None else format(scale * value, spec)


def format_table(report: dict) -> str:
    """The report as a Markdown table, one row per class x domain, and a note on sizes."""
    head = ["class", "domain", "images with class", "comp. / image",
            "area px: median [p10, p90]", "area % of image", "eq. diam. / short side",
            "pixel share %", "elongation", "contrast", "grey inside"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in report["rows"]:
        a = r["area_px"]
        area = ("–" if a["median"] is None
                else f"{a['median']:.0f} [{a['p10']:.0f}, {a['p90']:.0f}]")
        cells = [r["class"], r["domain"], f"{r['images_with_class']} / {r['images']}",
                 _num(r["components_per_image"], "g"), area,
                 _num(r["area_fraction"], ".3g", 100.0), _num(r["eq_diameter_rel"], ".3f"),
                 _num(r["pixel_share"], ".3g", 100.0), _num(r["elongation"], ".2f"),
                 _num(r["contrast"], "+.1f"), _num(r["grey_in"], ".1f")]
        lines.append("| " + " | ".join(cells) + " |")
    notes = []
    for d, info in report["domains"].items():
        s = info["image_size"]
        if s["distinct"] == 0:
            continue
        size = (f"all {s['median_width']:.0f}x{s['median_height']:.0f}" if s["distinct"] == 1
                else f"{s['distinct']} sizes, median {s['median_width']:.0f}x"
                     f"{s['median_height']:.0f}, shorter side {s['short_side']['min']}-"
                     f"{s['short_side']['max']}")
        notes.append(f"{d}: {info['num_images']} images, {size}")
    lines += ["", "Image sizes (WxH) — " + "; ".join(notes) + ". Medians over components; "
              "contrast = mean grey inside minus a ring around it (negative: darker); "
              "elongation from second moments."]
    return "\n".join(lines)


def _sheet(args, types: List[str], names: List[str]) -> None:
    real_masks = {}
    for name in names:
        m = cv2.imread(osp.join(args.real, "masks", name + ".png"), cv2.IMREAD_UNCHANGED)
        if m is None:
            raise SystemExit(f"missing or unreadable mask of {name!r} in {args.real!r}/masks")
        real_masks[name] = m
    rows: List[np.ndarray] = []
    index = 0
    for k, t in enumerate(types, start=1):
        while True:  # the next generated image that labels class k
            img, mask, _ = synthetic.render_sample(args.seed, index, types, args.size, args.style)
            index += 1
            if (mask == k).any():
                break
            if index > 10000:
                raise SystemExit(f"no generated image with class {t!r} in 10000 samples")
        tiles = [_label(_tile(img, mask, args.height), f"generated: {t}")]
        having = [n for n in names if (real_masks[n] == k).any()]
        # Spread over the split (its files are grouped by acquisition run).
        spread = np.linspace(0, len(having) - 1, args.per_class + 2)[1:-1] if having else []
        picked = [having[int(round(i))] for i in spread]
        for n in picked:
            real = cv2.imread(osp.join(args.real, "images", n + ".jpg"))
            if real is None:
                real = cv2.imread(osp.join(args.real, "images", n + ".png"))
            tiles.append(_label(_tile(real, real_masks[n], args.height), f"real: {n}"))
        sep = np.full((args.height, 8, 3), 255, np.uint8)
        row = tiles[0]
        for tile in tiles[1:]:
            row = np.hstack([row, sep, tile])
        rows.append(row)
    width = max(r.shape[1] for r in rows)
    rows = [np.hstack([r, np.full((r.shape[0], width - r.shape[1], 3), 255, np.uint8)])
            for r in rows]
    sheet = np.vstack([np.vstack([r, np.full((6, width, 3), 255, np.uint8)]) for r in rows])
    cv2.imwrite(args.out, sheet, [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(f"wrote {args.out} ({sheet.shape[1]}x{sheet.shape[0]})")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--real", required=True, help="labeled real set (images/, masks/)")
    parser.add_argument("--split", default="train.txt", help="split file of the real set")
    parser.add_argument("--type", dest="types", required=True, help="defect types, class order")
    parser.add_argument("--style", default="magnetic_tile")
    parser.add_argument("--size", default="240x352", help="generated size WxH")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-class", type=int, default=2, help="real images per class")
    parser.add_argument("--height", type=int, default=200, help="tile height in pixels")
    parser.add_argument("--out", help="contact sheet (JPEG) to write")
    parser.add_argument("--stats", action="store_true",
                        help="print per-class region statistics, generated vs real")
    parser.add_argument("--stats-out", help="also write the statistics as JSON (implies --stats)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --stats-out")
    parser.add_argument("--num", type=int, default=None,
                        help="generated images for --stats (default 200; with --generated: "
                             "the first NUM of its split, default all)")
    parser.add_argument("--generated", metavar="DIR",
                        help="for --stats: an already generated dataset folder (images/, "
                             "masks/, split file) instead of rendering")
    parser.add_argument("--generated-split", default="train.txt",
                        help="split file of --generated (default train.txt)")
    args = parser.parse_args(argv)
    stats = args.stats or bool(args.stats_out)
    if not args.out and not stats:
        parser.error("nothing to do: give --out (contact sheet) and/or --stats")
    if args.stats_out and osp.exists(args.stats_out) and not args.overwrite:
        raise SystemExit(f"{args.stats_out!r} exists; pass --overwrite to replace it")
    types = [t.strip() for t in args.types.split(",") if t.strip()]
    if not types:
        raise SystemExit("--type names no defect type")
    names = _read_split(args.real, args.split)
    if args.out:
        _sheet(args, types, names)
    if stats:
        report = region_report(args, types)
        print(format_table(report))
        if args.stats_out:
            parent = osp.dirname(osp.abspath(args.stats_out))
            os.makedirs(parent, exist_ok=True)
            with open(args.stats_out, "w") as f:
                json.dump(report, f, indent=1)
                f.write("\n")
            print(f"wrote {args.stats_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
