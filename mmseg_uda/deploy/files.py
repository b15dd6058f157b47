"""File handling of the inference tools: image lists, image reading, output folders.

numpy and OpenCV only (part of :mod:`mmseg_uda.deploy`, importable without torch).
"""

from __future__ import annotations

import glob
import os
import os.path as osp
from typing import Dict, List, Sequence

import cv2
import numpy as np

# The image extensions of the dataset layout (``DefectDataset`` accepts the same; a test checks).
IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")


class ImageReadError(OSError):
    """An image file that cannot be read or decoded; the message names the file."""


def is_image_file(path: str) -> bool:
    """Whether ``path`` has one of the accepted image extensions (case-insensitive)."""
    return osp.splitext(path)[1].lower() in IMG_EXTENSIONS


def list_images(source: str, recursive: bool = False) -> List[str]:
    """The image files named by ``source``: one file, a folder, or a glob pattern.

    A single file is returned as given (it is reported later if it cannot be decoded); from a
    folder or a glob only files with an image extension (``.jpg .jpeg .png .bmp .tif .tiff``)
    are taken, sorted by path.

    Args:
        source (str): an image file, a folder, or a glob pattern (``'line/*.png'``,
            ``'line/**/*.jpg'``).
        recursive (bool): also list the sub-folders of a folder. Default: False.

    Returns:
        list[str]: image paths.

    Raises:
        FileNotFoundError: when ``source`` does not exist or names no image (the message names
            it and lists the accepted extensions).
    """
    if osp.isfile(source):
        return [source]
    if osp.isdir(source):
        if recursive:
            paths = [osp.join(d, f) for d, _, files in os.walk(source) for f in files]
        else:
            paths = [osp.join(source, f) for f in os.listdir(source)]
        what = f"folder {source!r}"
    elif glob.has_magic(source):
        paths = glob.glob(source, recursive=True)
        what = f"glob pattern {source!r}"
    else:
        raise FileNotFoundError(f"input not found: {source!r} (expected an image file, a folder "
                                "or a glob pattern)")
    images = sorted(p for p in paths if osp.isfile(p) and is_image_file(p))
    if not images:
        raise FileNotFoundError(f"no images in {what} (accepted extensions: "
                                f"{', '.join(IMG_EXTENSIONS)})")
    return images


def load_image(path: str) -> np.ndarray:
    """Read an image as 8-bit BGR (grey images get three equal channels).

    Args:
        path (str): image file.

    Returns:
        np.ndarray: (H, W, 3) uint8 BGR image.

    Raises:
        ImageReadError: when the file is missing, empty or cannot be decoded.
    """
    if not osp.isfile(path):
        raise ImageReadError(f"image file not found: {path!r}")
    if osp.getsize(path) == 0:
        raise ImageReadError(f"image file is empty: {path!r}")
    data = np.fromfile(path, dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if img is None:
        raise ImageReadError(f"cannot decode image file {path!r} (not an image, truncated or an "
                             "unsupported format)")
    return img


def prepare_output_dir(out_dir: str, overwrite: bool = False) -> str:
    """Create ``out_dir``; refuse a non-empty one unless ``overwrite``.

    Args:
        out_dir (str): output folder.
        overwrite (bool): allow writing into a folder that already holds files (files with
            the same names are replaced). Default: False.

    Returns:
        str: ``out_dir``.

    Raises:
        FileExistsError: when ``out_dir`` is a file, or a non-empty folder without
            ``overwrite``.
    """
    if osp.exists(out_dir) and not osp.isdir(out_dir):
        raise FileExistsError(f"output path {out_dir!r} is a file, not a folder")
    if osp.isdir(out_dir) and os.listdir(out_dir) and not overwrite:
        raise FileExistsError(f"output folder {out_dir!r} is not empty; pass --overwrite to "
                              "write into it anyway, or choose another --out")
    os.makedirs(out_dir, exist_ok=True)
    return out_dir


def unique_stems(paths: Sequence[str]) -> Dict[str, str]:
    """An output name per input path: the file stem, made unique with ``_2``, ``_3``...

    Args:
        paths (Sequence[str]): input paths (two folders may hold ``a.png`` each).

    Returns:
        dict[str, str]: ``{path: name}``.
    """
    names: Dict[str, str] = {}
    taken = set()
    for path in paths:
        stem = osp.splitext(osp.basename(path))[0] or "image"
        name, i = stem, 1
        while name in taken:
            i += 1
            name = f"{stem}_{i}"
        taken.add(name)
        names[path] = name
    return names
