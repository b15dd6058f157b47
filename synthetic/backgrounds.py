"""Real photos as the surface: checked inputs, deterministic crops, local compositing.

With ``generate --backgrounds DIR`` the surface of each image is a crop (with a random
down-scale and flips) of one of the user's photos instead of a procedural material. Defects are
rendered into it the same way as into a procedural surface (their darkness multiplies the local
surface), then made consistent with the photo: the defect layer gets the style's blur and the
crop is JPEG-compressed at the style's quality, but only in the 16-pixel blocks that the defect
layer touches — every other pixel keeps the photo's own bytes. So the mask marks exactly the
rendered defects, and what the photo already shows (including its own, unlabeled defects) is
unchanged; pixels a model or a mask folder flags as defect are labeled 255 (ignore).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .measure import list_images, read_image
from .sampling import log_uniform

#: Side of the blocks a local JPEG pass may change (a 4:2:0 JPEG's MCU).
JPEG_BLOCK = 16


def halo_px(blur_sigma: float) -> int:
    """Distance (px) beyond which a rendered defect leaves the photo's bytes unchanged."""
    return int(math.ceil(4.0 * max(blur_sigma, 0.0))) + JPEG_BLOCK


@lru_cache(maxsize=64)
def _photo(path: str) -> np.ndarray:
    return read_image(path)


@lru_cache(maxsize=64)
def _ignore(path: str) -> np.ndarray:
    m = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if m is None:
        raise ValueError(f"cannot decode ignore mask {path!r}")
    if m.ndim == 3:
        m = m.max(axis=2)
    return (m > 0).astype(np.uint8)


def check_backgrounds(
    folder: str | Path,
    size: tuple[int, int],
    split: str | None = None,
    ignore_masks: str | Path | None = None,
) -> list[dict[str, Any]]:
    """Decode and check every background photo before anything is written.

    Args:
        folder: Photo folder or dataset root (``root/images``).
        size: Output ``(height, width)``; every photo must be at least this large.
        split: Split file naming the photos to use (``train.txt``). Default: all.
        ignore_masks: Folder of ``<name>.png`` masks (non-zero = a defect already in the photo,
            labeled 255 wherever no rendered defect lies). Every photo needs one, of its size.

    Returns:
        One ``dict(path, name, size=[w, h], ignore=path or None)`` per photo, sorted by name.

    Raises:
        FileNotFoundError / ValueError: Missing folder, split or mask, empty folder, unreadable
            photo, a photo smaller than ``size``, a mask of another size (each names the file).
    """
    h, w = size
    photos = list_images(folder, split)
    ignore_dir = Path(ignore_masks) if ignore_masks else None
    if ignore_dir is not None and not ignore_dir.is_dir():
        raise FileNotFoundError(f"ignore-mask folder not found: {str(ignore_dir)!r}")
    out = []
    for p in photos:
        img = read_image(p)
        ph, pw = img.shape[:2]
        if ph < h or pw < w:
            raise ValueError(f"background photo {str(p)!r} is {pw}x{ph}, smaller than the "
                             f"output size {w}x{h}: pass a smaller --size")
        ignore = None
        if ignore_dir is not None:
            mp = ignore_dir / f"{p.stem}.png"
            if not mp.is_file():
                raise FileNotFoundError(f"no ignore mask for background {p.name!r}: "
                                        f"expected {str(mp)!r}")
            m = cv2.imread(str(mp), cv2.IMREAD_UNCHANGED)
            if m is None:
                raise ValueError(f"cannot decode ignore mask {str(mp)!r}")
            if m.shape[:2] != (ph, pw):
                raise ValueError(f"ignore mask {str(mp)!r} is {m.shape[1]}x{m.shape[0]}, "
                                 f"its photo {pw}x{ph}")
            ignore = str(mp)
        out.append({"path": str(p), "name": p.stem, "size": [pw, ph], "ignore": ignore})
    return out


def sample_crop(rng: np.random.Generator, photo_size: tuple[int, int],
                size: tuple[int, int]) -> dict[str, Any]:
    """A random down-scale (never up), crop position and flips of a photo.

    The scale is log-uniform between "the photo just covers the output" and
    ``min(1, 2 x that)``: large photos give crops at native resolution down to the whole photo.

    Args:
        rng: The image's generator for the background.
        photo_size: Photo ``(height, width)``.
        size: Output ``(height, width)``.
    """
    ph, pw = photo_size
    h, w = size
    cover = max(h / ph, w / pw)
    scale = log_uniform(rng, (cover, max(cover, min(1.0, 2.0 * cover))))
    rh, rw = max(h, int(round(ph * scale))), max(w, int(round(pw * scale)))
    y0 = int(rng.integers(0, rh - h + 1))
    x0 = int(rng.integers(0, rw - w + 1))
    return {"scale": scale, "resized": [rw, rh], "x0": x0, "y0": y0,
            "flip_h": bool(rng.random() < 0.5), "flip_v": bool(rng.random() < 0.5)}


def apply_crop(img: np.ndarray, crop: Mapping[str, Any], size: tuple[int, int],
               nearest: bool = False) -> np.ndarray:
    """Apply :func:`sample_crop`'s transform to a photo (or, ``nearest``, to its mask)."""
    h, w = size
    rw, rh = crop["resized"]
    if (rw, rh) != (img.shape[1], img.shape[0]):
        interp = cv2.INTER_NEAREST if nearest else cv2.INTER_AREA
        img = cv2.resize(img, (rw, rh), interpolation=interp)
    out = img[crop["y0"]:crop["y0"] + h, crop["x0"]:crop["x0"] + w]
    if crop["flip_h"]:
        out = out[:, ::-1]
    if crop["flip_v"]:
        out = out[::-1]
    return np.ascontiguousarray(out)


def load_background(rng: np.random.Generator, backgrounds: Sequence[Mapping[str, Any]],
                    size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray | None, dict]:
    """Pick a photo and crop it: ``(uint8 BGR (h, w, 3), ignore (h, w) or None, params)``."""
    k = int(rng.integers(len(backgrounds)))
    bg = backgrounds[k]
    photo = _photo(bg["path"])
    crop = sample_crop(rng, photo.shape[:2], size)
    img = apply_crop(photo, crop, size)
    ignore = None
    if bg.get("ignore"):
        ignore = apply_crop(_ignore(bg["ignore"]), crop, size, nearest=True)
    return img, ignore, {"name": bg["name"], **crop}


def composite_layer(base: np.ndarray, layered: np.ndarray, imaging: Mapping[str, Any]
                    ) -> tuple[np.ndarray, dict[str, Any]]:
    """Blend the defect layer into the photo with the photo's blur and JPEG, locally.

    Args:
        base: The photo crop, interleaved uint8 BGR (h, w, 3).
        layered: The same crop with the defects rendered, interleaved float32.
        imaging: ``sample_imaging`` output; its ``blur`` (defocus sigma of the defect layer)
            and ``jpeg`` (quality) are used, nothing else (the photo has its own lighting,
            colour and noise).

    Returns:
        ``(image uint8 (h, w, 3), applied params)``. Pixels outside the 16-px blocks within
        ``4 sigma`` of the defect layer are exactly ``base``.
    """
    delta = layered - base.astype(np.float32)
    drawn = np.abs(delta).max(axis=2) >= 0.5  # pixels the defects change (before the blur)
    applied: dict[str, Any] = {}
    sigma = float(imaging.get("blur", {}).get("sigma", 0.0))
    if sigma >= 0.25:
        delta = cv2.GaussianBlur(delta, (0, 0), sigma)
        applied["blur"] = {"sigma": sigma}
    out_f = base.astype(np.float32) + delta
    np.clip(out_f, 0.0, 255.0, out=out_f)
    out = (out_f + np.float32(0.5)).astype(np.uint8)
    touched = np.abs(delta).max(axis=2) >= 0.5
    if "jpeg" in imaging and touched.any():
        q = int(imaging["jpeg"]["quality"])
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, q])
        if ok:
            jpeg = cv2.imdecode(buf, cv2.IMREAD_COLOR)
            h, w = touched.shape
            b = JPEG_BLOCK
            hb, wb = -(-h // b), -(-w // b)
            pad = np.zeros((hb * b, wb * b), bool)
            pad[:h, :w] = touched
            blocks = pad.reshape(hb, b, wb, b).any(axis=(1, 3))
            region = np.repeat(np.repeat(blocks, b, axis=0), b, axis=1)[:h, :w]
            out[region] = jpeg[region]
            applied["jpeg"] = {"quality": q}
    far = ~_near(drawn, sigma)
    out[far] = base[far]
    return out, applied


def _near(drawn: np.ndarray, sigma: float) -> np.ndarray:
    """Pixels within :func:`halo_px` of a drawn pixel (the only ones allowed to change)."""
    r = halo_px(sigma)
    k = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * r + 1, 2 * r + 1))
    return cv2.dilate(drawn.astype(np.uint8), k) > 0
