"""The project's dataset layout as the converters read it: split files, image lookup and a
checked image / mask pair (``images/<name>.<ext>``, ``masks/<name>.png`` of class ids,
255 = ignore). The errors name the file."""

from __future__ import annotations

import os
import os.path as osp
import shutil
from typing import List, Tuple

import cv2
import numpy as np

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
IGNORE = 255


class LayoutError(ValueError):
    """A problem with the arguments or the source files; the message names the file."""


def read_split(path: str) -> List[str]:
    """The image names of a split file, read as ``DefectDataset`` reads it: blank lines and
    ``#`` comment lines skipped, an image extension on a line dropped."""
    if not osp.isfile(path):
        raise LayoutError(f"split file not found: {path!r}")
    names = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            name = line.strip()
            if name and not name.startswith("#"):
                stem, ext = osp.splitext(name)
                names.append(stem if ext.lower() in IMG_EXTENSIONS else name)
    if not names:
        raise LayoutError(f"split file {path!r} lists no image")
    return names


def find_image(src: str, name: str) -> str:
    for ext in IMG_EXTENSIONS:
        path = osp.join(src, "images", name + ext)
        if osp.isfile(path):
            return path
    raise LayoutError(f"no image for {name!r} in {osp.join(src, 'images')!r} "
                      f"(looked for {', '.join(IMG_EXTENSIONS)})")


def load_pair(src: str, name: str, flags: int = cv2.IMREAD_COLOR
              ) -> Tuple[np.ndarray, np.ndarray, str, str]:
    """(image, class-id mask, image path, mask path) of one photo, checked: both readable,
    the mask single-channel uint8 and of its image's size."""
    image_path = find_image(src, name)
    image = cv2.imread(image_path, flags)
    if image is None:
        raise LayoutError(f"unreadable image {image_path!r}")
    mask_path = osp.join(src, "masks", name + ".png")
    if not osp.isfile(mask_path):
        raise LayoutError(f"no mask for {name!r}: {mask_path!r} is missing")
    mask = cv2.imread(mask_path, cv2.IMREAD_UNCHANGED)
    if mask is None:
        raise LayoutError(f"unreadable mask {mask_path!r}")
    if mask.ndim != 2 or mask.dtype != np.uint8:
        raise LayoutError(f"mask {mask_path!r} is {mask.dtype} with shape {mask.shape}; expected "
                          "a single-channel uint8 mask of class ids")
    if mask.shape != image.shape[:2]:
        raise LayoutError(f"mask {mask_path!r} is {mask.shape[1]}x{mask.shape[0]} but image "
                          f"{image_path!r} is {image.shape[1]}x{image.shape[0]}")
    return image, mask, image_path, mask_path


def check_destination(src: str, dst: str) -> None:
    """Refuse DST when it is SRC or an existing folder with files in it (nothing is
    overwritten)."""
    if osp.abspath(src) == osp.abspath(dst):
        raise LayoutError("SRC and DST must differ")
    if osp.exists(dst) and (not osp.isdir(dst) or os.listdir(dst)):
        raise LayoutError(f"refusing to write into {dst!r}: it exists and is not an empty folder")


def copy_class_files(src: str, dst: str) -> None:
    """Copy SRC's ``classes.txt`` / ``meta.json`` (the class names) into DST when present."""
    for extra in ("classes.txt", "meta.json"):
        if osp.isfile(osp.join(src, extra)):
            shutil.copyfile(osp.join(src, extra), osp.join(dst, extra))
