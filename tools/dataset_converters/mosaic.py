"""Tile the photos of a labeled set into large mosaics: a high-resolution version of a
small-image set, for measuring what multi-resolution training (HRDA) is for.

    python tools/dataset_converters/mosaic.py SRC DST --grid 3x3

SRC has the project layout (``images/<name>.<ext>``, ``masks/<name>.png`` of class ids,
255 = ignore, and split files such as ``train.txt`` / ``test.txt``). For each split, its
photos are taken in the split's order, ``cols x rows`` at a time, and pasted side by side
at their native resolution into one image; the masks the same way. A split never mixes with
another, so the mosaics of ``test.txt`` hold only test photos. The last group of a split
may be smaller: its mosaic has fewer rows (or, with fewer photos than ``cols``, fewer
columns). Photos of different sizes are placed top-left in cells of the group's largest
photo; the rest of a cell is black in the image and 255 (ignore) in the mask, so no loss and
no metric counts it.

DST gets ``images/<split>_<i>.png``, ``masks/<split>_<i>.png``, one split file per SRC split
listing its mosaics, a copy of ``classes.txt`` / ``meta.json`` when SRC has them, and
``mosaics.json`` (which photo lies where in each mosaic). DST must not exist or be empty:
nothing is overwritten. Every photo and mask is read and checked (readable, mask single-
channel and of its photo's size) before anything is written.

CFD's 480x320 photos with ``--grid 3x3`` give 1440x960 mosaics (8 from the 72 train photos;
5 + one single photo from the 46 test photos), the large-image protocol of
``configs/benchmarks/cracks_cpu_large.py``; its generated source is tiled the same way
(``--splits train.txt val.txt`` for a set written by ``python -m synthetic generate``; the
copied ``meta.json`` keeps the classes the datasets check, its per-image records name the
photos, which ``mosaics.json`` places). The seams between photos are edges a real large
photo does not have; the docs of that benchmark say so.
"""

from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import sys
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from tools.dataset_converters._layout import (  # noqa: E402
    IGNORE,
    LayoutError,
    check_destination,
    copy_class_files,
    load_pair,
    read_split,
)


class MosaicError(LayoutError):
    """A problem with the arguments or the source files; the message names the file."""


def parse_grid(text: str) -> Tuple[int, int]:
    """``'3x2'`` -> ``(cols, rows)`` = (3, 2)."""
    try:
        cols, rows = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise MosaicError(f"--grid must be COLSxROWS, e.g. 3x3; got {text!r}") from None
    if cols < 1 or rows < 1 or cols * rows < 2:
        raise MosaicError(f"--grid {text!r} must hold at least 2 photos (cols, rows >= 1)")
    return cols, rows


def layout(count: int, cols: int) -> Tuple[int, int]:
    """(cols, rows) of a mosaic of ``count`` photos with at most ``cols`` per row."""
    used_cols = min(count, cols)
    return used_cols, -(-count // used_cols)


def compose(pairs: Sequence[Tuple[np.ndarray, np.ndarray]], cols: int
            ) -> Tuple[np.ndarray, np.ndarray, List[List[int]]]:
    """Paste photos row-major into one image / mask; returns them and each photo's
    ``[x, y, w, h]`` in the mosaic."""
    used_cols, rows = layout(len(pairs), cols)
    cell_h = max(img.shape[0] for img, _ in pairs)
    cell_w = max(img.shape[1] for img, _ in pairs)
    image = np.zeros((rows * cell_h, used_cols * cell_w, 3), np.uint8)
    mask = np.full((rows * cell_h, used_cols * cell_w), IGNORE, np.uint8)
    boxes = []
    for k, (img, msk) in enumerate(pairs):
        y, x = (k // used_cols) * cell_h, (k % used_cols) * cell_w
        h, w = msk.shape
        image[y:y + h, x:x + w] = img
        mask[y:y + h, x:x + w] = msk
        boxes.append([x, y, w, h])
    return image, mask, boxes


def convert(src: str, dst: str, grid: Tuple[int, int],
            splits: Sequence[str] = ("train.txt", "test.txt")) -> Dict[str, int]:
    """Write the mosaics of every split of SRC into DST; returns mosaics per split."""
    cols, rows = grid
    check_destination(src, dst)
    per_split = {split: read_split(osp.join(src, split)) for split in splits}
    groups: Dict[str, List[List[str]]] = {}
    data = {}
    for split, names in per_split.items():
        for name in names:
            if name not in data:
                data[name] = load_pair(src, name)[:2]  # everything checked before the first write
        step = cols * rows
        groups[split] = [names[i:i + step] for i in range(0, len(names), step)]
    os.makedirs(osp.join(dst, "images"), exist_ok=True)
    os.makedirs(osp.join(dst, "masks"), exist_ok=True)
    index = {}
    counts = {}
    for split, split_groups in groups.items():
        stem = osp.splitext(osp.basename(split))[0]
        listed = []
        for i, group in enumerate(split_groups):
            image, mask, boxes = compose([data[n] for n in group], cols)
            name = f"{stem}_{i:03d}"
            for folder, array in (("images", image), ("masks", mask)):
                path = osp.join(dst, folder, name + ".png")
                if not cv2.imwrite(path, array):
                    raise MosaicError(f"could not write {path!r}")
            index[name] = dict(split=split, size=[image.shape[1], image.shape[0]],
                               photos=[dict(name=n, box=b) for n, b in zip(group, boxes)])
            listed.append(name)
        with open(osp.join(dst, osp.basename(split)), "w", encoding="utf-8") as f:
            f.write("\n".join(listed) + "\n")
        counts[split] = len(listed)
    copy_class_files(src, dst)
    with open(osp.join(dst, "mosaics.json"), "w", encoding="utf-8") as f:
        json.dump(dict(source=osp.abspath(src), grid=[cols, rows], mosaics=index), f, indent=1)
    return counts


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Tile the photos of a labeled set (images/, masks/, split files) into "
                    "large mosaics, split by split.")
    parser.add_argument("src", help="the labeled set in the project layout")
    parser.add_argument("dst", help="output folder (must not exist or be empty)")
    parser.add_argument("--grid", default="3x3", help="COLSxROWS photos per mosaic (default 3x3)")
    parser.add_argument("--splits", nargs="+", default=["train.txt", "test.txt"],
                        help="split files of SRC to tile (default: train.txt test.txt)")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    try:
        counts = convert(args.src, args.dst, parse_grid(args.grid), args.splits)
    except LayoutError as exc:
        raise SystemExit(f"error: {exc}") from None
    summary = ", ".join(f"{split}: {n}" for split, n in counts.items())
    print(f"wrote mosaics of {args.grid} photos to {args.dst} ({summary})")


if __name__ == "__main__":
    main()
