"""Convert the magnetic-tile defect set (binary masks, class in the file name) into the
project layout with class-id masks.

    python tools/dataset_converters/magnetic_tile.py SRC DST

SRC is the prepared set (``images/<Class>_<id>.jpg``, ``masks/<Class>_<id>.png`` with values
0/1, ``labels.csv`` with columns ``name, defect_class, width, height, defect_frac``,
``train.txt``/``test.txt``). DST gets ``images/`` (copied unchanged), ``masks/`` (uint8 class
ids), ``train.txt``/``test.txt`` (the split of SRC, unchanged) and ``classes.txt``.

Class ids (the order of ``metainfo`` in ``configs/hrda_magnetic_tile.py``)::

    0 background   1 Blowhole   2 Break   3 Crack   4 Fray   5 Uneven

``--classes Crack`` (or several, e.g. ``--classes Blowhole,Crack``) keeps only the images of
those classes, with ids 1, 2, ... in the order given: ``--classes Blowhole`` is a binary
blowhole set (masks 0/1, ``classes.txt`` ``0 background / 1 Blowhole``), the layout of the
per-class benchmark (``configs/benchmarks/magnetic_tile_class_cpu.py``).

DST must not exist or be empty: nothing is overwritten. Every mask is checked (binary,
single-channel, same size as its image) before anything is written.
"""

from __future__ import annotations

import argparse
import csv
import os
import os.path as osp
import shutil
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

CLASSES = ("background", "Blowhole", "Break", "Crack", "Fray", "Uneven")
CLASS_IDS = {name: i for i, name in enumerate(CLASSES) if i > 0}
SPLITS = ("train.txt", "test.txt")


class ConversionError(ValueError):
    """A problem with the source files; the message names the file."""


def read_labels(path: str) -> Dict[str, str]:
    """``{image name: defect class}`` from ``labels.csv``."""
    if not osp.isfile(path):
        raise ConversionError(f"labels file not found: {path!r}")
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = {"name", "defect_class"} - set(reader.fieldnames or [])
        if missing:
            raise ConversionError(f"{path!r} lacks the column(s) {sorted(missing)} "
                                  f"(has {reader.fieldnames})")
        labels = {}
        for line, row in enumerate(reader, start=2):
            cls = row["defect_class"]
            if cls not in CLASS_IDS:
                raise ConversionError(f"{path!r} line {line}: unknown class {cls!r}; expected "
                                      f"one of {sorted(CLASS_IDS)}")
            if not row["name"].startswith(cls + "_"):
                raise ConversionError(f"{path!r} line {line}: name {row['name']!r} does not "
                                      f"start with its class {cls!r}")
            labels[row["name"]] = cls
    return labels


def read_split(path: str, labels: Dict[str, str]) -> List[str]:
    if not osp.isfile(path):
        raise ConversionError(f"split file not found: {path!r}")
    with open(path, encoding="utf-8") as f:
        names = [line.strip() for line in f if line.strip()]
    unknown = [n for n in names if n not in labels]
    if unknown:
        raise ConversionError(f"{path!r} lists {len(unknown)} name(s) absent from labels.csv, "
                              f"e.g. {unknown[:3]}")
    return names


def class_mask(mask_path: str, image_path: str, class_id: int) -> np.ndarray:
    """The binary mask of ``mask_path`` with its defect pixels set to ``class_id``."""
    mask = cv2.imread(mask_path, cv2.IMREAD_UNCHANGED)
    if mask is None:
        raise ConversionError(f"unreadable or missing mask {mask_path!r}")
    if mask.ndim != 2:
        raise ConversionError(f"mask {mask_path!r} has {mask.shape[2]} channels; expected one")
    values = set(np.unique(mask).tolist())
    if not values <= {0, 1}:
        raise ConversionError(f"mask {mask_path!r} has values {sorted(values)}; expected a "
                              "binary 0/1 mask")
    image = cv2.imread(image_path, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ConversionError(f"unreadable or missing image {image_path!r}")
    if image.shape[:2] != mask.shape:
        raise ConversionError(f"mask {mask_path!r} is {mask.shape} but image {image_path!r} is "
                              f"{image.shape[:2]}")
    return (mask.astype(np.uint8) * class_id).astype(np.uint8)


def class_subset(classes: Optional[Sequence[str]]) -> Tuple[str, ...]:
    """The class names written (background first): all five, or ``classes`` in that order."""
    if not classes:
        return CLASSES
    known = {c.lower(): c for c in CLASS_IDS}
    picked = []
    for name in classes:
        if name.lower() not in known:
            raise ConversionError(f"unknown class {name!r}; expected some of "
                                  f"{', '.join(CLASS_IDS)}")
        if known[name.lower()] in picked:
            raise ConversionError(f"class {name!r} given twice")
        picked.append(known[name.lower()])
    return ("background", *picked)


def convert(src: str, dst: str, classes: Optional[Sequence[str]] = None
            ) -> Tuple[int, Dict[str, int]]:
    """Convert SRC into DST; returns (number of images, images per class in id order).

    ``classes`` (names of the set's classes, any case) keeps only their images, with ids
    1, 2, ... in that order; None keeps all five with the ids of ``CLASSES``.
    """
    if osp.exists(dst) and (not osp.isdir(dst) or os.listdir(dst)):
        raise ConversionError(f"refusing to write into {dst!r}: it exists and is not an empty "
                              "folder")
    written = class_subset(classes)
    ids = {name: i for i, name in enumerate(written) if i > 0}
    labels = read_labels(osp.join(src, "labels.csv"))
    splits = {name: [n for n in read_split(osp.join(src, name), labels) if labels[n] in ids]
              for name in SPLITS}
    empty = [c for c in ids if not any(labels[n] == c for split in splits.values() for n in split)]
    if empty:
        raise ConversionError(f"no image of class(es) {empty} in {', '.join(SPLITS)} of {src!r}")
    names = sorted({n for split in splits.values() for n in split})
    images = {}
    for name in names:
        found = [f for f in (f"{name}{ext}" for ext in (".jpg", ".png", ".bmp"))
                 if osp.isfile(osp.join(src, "images", f))]
        if not found:
            raise ConversionError(f"no image for {name!r} in {osp.join(src, 'images')!r}")
        images[name] = found[0]
    masks = {name: class_mask(osp.join(src, "masks", name + ".png"),
                              osp.join(src, "images", images[name]), ids[labels[name]])
             for name in names}  # everything is checked before the first write
    os.makedirs(osp.join(dst, "images"))
    os.makedirs(osp.join(dst, "masks"))
    counts = dict.fromkeys(ids, 0)
    for name in names:
        shutil.copyfile(osp.join(src, "images", images[name]),
                        osp.join(dst, "images", images[name]))
        if not cv2.imwrite(osp.join(dst, "masks", name + ".png"), masks[name]):
            raise ConversionError(f"could not write {osp.join(dst, 'masks', name + '.png')!r}")
        counts[labels[name]] += 1
    for split, split_names in splits.items():
        with open(osp.join(dst, split), "w", encoding="utf-8") as f:
            f.write("\n".join(split_names) + "\n")
    with open(osp.join(dst, "classes.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(f"{i} {name}" for i, name in enumerate(written)) + "\n")
    return len(names), counts


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="magnetic-tile set -> class-id masks")
    parser.add_argument("src", help="prepared magnetic-tile folder (images/, masks/, "
                        "labels.csv, train.txt, test.txt)")
    parser.add_argument("dst", help="output folder (must not exist or be empty)")
    parser.add_argument("--classes", help="comma-separated subset of the classes, ids 1, 2, ... "
                        "in this order (e.g. Crack: a binary crack set); default all five")
    args = parser.parse_args(argv)
    classes = [c.strip() for c in args.classes.split(",")] if args.classes else None
    try:
        total, counts = convert(args.src, args.dst, classes)
    except ConversionError as exc:
        raise SystemExit(f"magnetic_tile: {exc}") from exc
    # counts is in class-id order (1, 2, ...)
    per_class = ", ".join(f"{i} {c}: {n}" for i, (c, n) in enumerate(counts.items(), start=1))
    print(f"wrote {total} images with class-id masks to {args.dst} ({per_class})")


if __name__ == "__main__":
    main()
