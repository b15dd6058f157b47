"""The picture of docs/benchmarks.md "Target-aware source data (CFD)".

Columns: CFD train photo | pavement | fitted style | cracks rendered into a photo | that image's
label (rendered crack red, ignored pixels white). Run after
``configs/benchmarks/cracks_cpu_target_aware.py`` (it reads the generated sources):

    python scripts/target_aware_sheet.py [--seed-dir seed1]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from synthetic import render_sample  # noqa: E402
from synthetic.preview import overlay  # noqa: E402

WIDTH = 320
TITLES = ("CFD train photo", "pavement (preset)", "fitted style", "in the photos",
          "label: crack red, ignore white")


def _fit(img: np.ndarray) -> np.ndarray:
    h = int(img.shape[0] * WIDTH / img.shape[1])
    return cv2.resize(img, (WIDTH, h), interpolation=cv2.INTER_AREA)


def _title(img: np.ndarray, text: str) -> np.ndarray:
    img = img.copy()
    for colour, thick in (((0, 0, 0), 3), ((255, 255, 255), 1)):
        cv2.putText(img, text, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, thick,
                    cv2.LINE_AA)
    return img


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work-dir", default="work_dirs/benchmarks/cracks_cpu_target_aware")
    parser.add_argument("--cfd", default="../shared/data/cfd")
    parser.add_argument("--seed-dir", default="seed1", help="which ignore source to show")
    parser.add_argument("--out", default="docs/images/target_aware_sources.jpg")
    args = parser.parse_args()
    sources = Path(args.work_dir) / "sources"
    fitted = sources / "source_only_fitted" / "data"
    photos = sources / "source_only_photos_ignore" / args.seed_dir / "data"
    cfd = Path(args.cfd)
    train = (cfd / "train.txt").read_text().split()
    rows = []
    for k, idx in enumerate((3, 11, 27)):
        name = f"{idx:06d}"
        real = cv2.imread(str(cfd / "images" / f"{train[idx * 2]}.jpg"))
        pavement, _, _ = render_sample(0, idx, ("crack",), (480, 320), "pavement")
        fit_img = cv2.imread(str(fitted / "images" / f"{name}.png"))
        photo = cv2.imread(str(photos / "images" / f"{name}.png"))
        label = cv2.imread(str(photos / "masks" / f"{name}.png"), cv2.IMREAD_UNCHANGED)
        tiles = [_fit(t) for t in (real, pavement, fit_img, photo, overlay(photo, label))]
        if k == 0:
            tiles = [_title(t, s) for t, s in zip(tiles, TITLES)]
        gap = np.full((tiles[0].shape[0], 4, 3), 255, np.uint8)
        row = tiles[0]
        for t in tiles[1:]:
            row = np.hstack([row, gap, t])
        rows += [row, np.full((4, row.shape[1], 3), 255, np.uint8)]
    cv2.imwrite(args.out, np.vstack(rows[:-1]), [cv2.IMWRITE_JPEG_QUALITY, 88])
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
