"""Hold out part of a labeled set's *training* photos as a development split, so settings
are chosen without looking at the test split.

    python tools/dataset_converters/dev_split.py SRC DST --fraction 0.25 --seed 0

SRC has the project layout (``images/<name>.<ext>``, ``masks/<name>.png`` of class ids,
255 = ignore, ``train.txt``). DST gets a dataset of the same layout that holds **only the
photos of SRC's train split**: ``train.txt`` (the photos kept for training) and ``test.txt``
(the held-out development photos), so any config or benchmark file runs on it unchanged
(``--target DST``, ``MT_ROOT=DST`` ...) and "test" there means the dev split. SRC's own
test photos are not linked into DST at all.

The hold-out is stratified: each photo is put in a group by its *dominant class* (the
non-background class with the most pixels in its mask; ``background`` when it has none),
and ``round(fraction x group size)`` photos of every group with two or more photos are held
out, chosen by a shuffle seeded with ``--seed``. So every class of a multi-class set is in
both halves, and a binary set keeps its share of defect-free photos.

Images and masks are symbolic links to SRC's files (``--copy`` copies them instead).
``classes.txt`` / ``meta.json`` are copied when SRC has them; ``dev_split.json`` records
SRC, the fraction, the seed, each group's size and which photos went where. DST must not
exist or be empty: nothing is overwritten. Every mask of the train split is read and checked
(readable, single-channel, the size of its image) before anything is written.
"""

from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import random
import shutil
import sys
from collections import Counter
from typing import Dict, List, Optional, Sequence, Tuple

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


class DevSplitError(LayoutError):
    """A problem with the arguments or the source files; the message names the file."""


def read_unique_split(path: str) -> List[str]:
    names = read_split(path)
    duplicated = sorted(n for n, k in Counter(names).items() if k > 1)
    if duplicated:
        raise DevSplitError(f"split file {path!r} lists {duplicated[:3]} more than once")
    return names


def dominant_class(src: str, name: str) -> Tuple[int, str, str]:
    """(dominant non-background class id or 0, image path, mask path) of one photo, checked."""
    _, mask, image_path, mask_path = load_pair(src, name, cv2.IMREAD_UNCHANGED)
    counts = np.bincount(mask[mask != IGNORE].ravel(), minlength=2)
    counts[0] = 0
    return (int(counts.argmax()) if counts.any() else 0), image_path, mask_path


def class_names(src: str) -> Optional[Dict[int, str]]:
    """Class names from ``classes.txt`` (``<id> <name>`` per line) or ``meta.json``."""
    path = osp.join(src, "classes.txt")
    if osp.isfile(path):
        names = {}
        with open(path, encoding="utf-8") as f:
            for line in f:
                parts = line.split(maxsplit=1)
                if len(parts) == 2 and parts[0].isdigit():
                    names[int(parts[0])] = parts[1].strip()
        return names or None
    path = osp.join(src, "meta.json")
    if osp.isfile(path):
        with open(path, encoding="utf-8") as f:
            classes = json.load(f).get("classes")
        if isinstance(classes, list):
            return dict(enumerate(str(c) for c in classes))
    return None


def choose(groups: Dict[int, List[str]], fraction: float, seed: int) -> Dict[int, List[str]]:
    """The held-out photos of each group: ``round(fraction * n)`` of a group of ``n >= 2``
    (at least 1, at most ``n - 1``), by a shuffle seeded per group."""
    held = {}
    for cls in sorted(groups):
        names = sorted(groups[cls])
        if len(names) < 2:
            held[cls] = []
            continue
        k = min(max(int(round(fraction * len(names))), 1), len(names) - 1)
        rng = random.Random(f"{seed}:{cls}")
        held[cls] = sorted(rng.sample(names, k))
    return held


def place(source: str, target: str, copy: bool) -> None:
    if copy:
        shutil.copyfile(source, target)
    else:
        os.symlink(osp.abspath(source), target)


def convert(src: str, dst: str, fraction: float = 0.25, seed: int = 0,
            split: str = "train.txt", copy: bool = False) -> dict:
    """Write the dev-split dataset into DST; returns what ``dev_split.json`` records."""
    if not 0.0 < fraction < 1.0:
        raise DevSplitError(f"--fraction must be between 0 and 1 (exclusive); got {fraction}")
    check_destination(src, dst)
    names = read_unique_split(osp.join(src, split))
    if len(names) < 2:
        raise DevSplitError(f"{osp.join(src, split)!r} lists {len(names)} photo: nothing to split")
    files = {}
    groups: Dict[int, List[str]] = {}
    for name in names:  # every photo checked before the first write
        cls, image_path, mask_path = dominant_class(src, name)
        files[name] = (image_path, mask_path)
        groups.setdefault(cls, []).append(name)
    held = choose(groups, fraction, seed)
    held_set = {n for group in held.values() for n in group}
    if not held_set:
        raise DevSplitError(f"no group of {split!r} has 2 photos or more: nothing can be held out")
    kept = [n for n in names if n not in held_set]
    dev = [n for n in names if n in held_set]
    os.makedirs(osp.join(dst, "images"), exist_ok=True)
    os.makedirs(osp.join(dst, "masks"), exist_ok=True)
    for name in names:
        image_path, mask_path = files[name]
        place(image_path, osp.join(dst, "images", osp.basename(image_path)), copy)
        place(mask_path, osp.join(dst, "masks", name + ".png"), copy)
    for fname, listed in (("train.txt", kept), ("test.txt", dev)):
        with open(osp.join(dst, fname), "w", encoding="utf-8") as f:
            f.write("\n".join(listed) + "\n")
    copy_class_files(src, dst)
    labels = class_names(src) or {}
    record = dict(
        source=osp.abspath(src), split=split, fraction=fraction, seed=seed,
        linked=not copy, train=len(kept), test=len(dev),
        groups={labels.get(cls, f"class {cls}") if cls else "background": dict(
            photos=len(groups[cls]), held_out=len(held[cls])) for cls in sorted(groups)},
        held_out=dev)
    with open(osp.join(dst, "dev_split.json"), "w", encoding="utf-8") as f:
        json.dump(record, f, indent=1)
    return record


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Hold out a stratified part of a labeled set's train photos as a "
                    "development split (DST/train.txt + DST/test.txt, SRC's test photos left out).")
    parser.add_argument("src", help="the labeled set in the project layout")
    parser.add_argument("dst", help="output folder (must not exist or be empty)")
    parser.add_argument("--fraction", type=float, default=0.25,
                        help="share of each dominant-class group held out (default 0.25)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the hold-out (default 0)")
    parser.add_argument("--split", default="train.txt",
                        help="the split of SRC to divide (default train.txt)")
    parser.add_argument("--copy", action="store_true",
                        help="copy images and masks instead of linking them")
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    try:
        record = convert(args.src, args.dst, args.fraction, args.seed, args.split, args.copy)
    except LayoutError as exc:
        raise SystemExit(f"error: {exc}") from None
    groups = ", ".join(f"{name} {g['held_out']}/{g['photos']}"
                       for name, g in record["groups"].items())
    print(f"wrote {args.dst}: train.txt {record['train']}, test.txt {record['test']} "
          f"(held out of {args.split} by dominant class: {groups})")


if __name__ == "__main__":
    main()
