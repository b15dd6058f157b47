"""Contact sheet of generated images beside real ones, one row per defect class.

    python tools/generated_vs_real.py --real ../shared/data/magnetic_tile-converted \
        --split train.txt --type blowhole,break,crack,fray,uneven --style magnetic_tile \
        --size 240x352 --out docs/images/magnetic_tile_generated_vs_real.jpg

Row k: a generated image holding class k (image | its mask over it) and ``--per-class`` real
images of the split whose mask holds class k, spread over the split (image | mask over it).
The real set is read in the project layout (``images/``, ``masks/`` with class ids in the
order of ``--type``); only the given split is read (use the train split: the test split is
the evaluation).
"""

from __future__ import annotations

import argparse
import os.path as osp
import sys
from typing import List

import cv2
import numpy as np

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

import synthetic  # noqa: E402
from synthetic.preview import overlay  # noqa: E402


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
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    types = [t.strip() for t in args.types.split(",") if t.strip()]
    split = osp.join(args.real, args.split)
    if not osp.isfile(split):
        raise SystemExit(f"split file not found: {split!r}")
    with open(split) as f:
        names = [line.strip() for line in f if line.strip()]
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
