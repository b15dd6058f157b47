"""Contact sheets: rows of image | mask | overlay, and a grid of styles for the docs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

#: BGR colours of class ids 1.. in masks and overlays (0 stays black).
PALETTE = np.array(
    [[0, 0, 0], [40, 40, 255], [60, 220, 60], [255, 120, 30], [0, 220, 255], [220, 60, 220],
     [255, 255, 0], [128, 128, 255], [160, 255, 160]], np.uint8)


def colorize(mask: np.ndarray) -> np.ndarray:
    """uint8 class-id mask -> BGR image using :data:`PALETTE` (ids wrap around)."""
    ids = mask.astype(np.int64)
    ids = np.where(ids == 0, 0, (ids - 1) % (len(PALETTE) - 1) + 1)
    out = PALETTE[ids]
    out[mask == 255] = (255, 255, 255)
    return out


def overlay(image: np.ndarray, mask: np.ndarray, alpha: float = 0.6) -> np.ndarray:
    """Image with defect pixels tinted by their class colour."""
    col = colorize(mask)
    out = image.copy()
    sel = mask > 0
    out[sel] = (image[sel] * (1 - alpha) + col[sel] * alpha).astype(np.uint8)
    return out


def _fit(img: np.ndarray, width: int) -> np.ndarray:
    h, w = img.shape[:2]
    if w == width:
        return img
    interp = cv2.INTER_AREA if w > width else cv2.INTER_NEAREST
    return cv2.resize(img, (width, max(1, round(h * width / w))), interpolation=interp)


def contact_sheet(
    pairs: Sequence[tuple[np.ndarray, np.ndarray]],
    tile_width: int = 256,
    gap: int = 4,
    labels: Sequence[str] | None = None,
) -> np.ndarray:
    """Stack rows of ``image | mask | overlay``.

    Args:
        pairs: ``(image BGR uint8, mask uint8)`` per row.
        tile_width: Width in pixels of each tile (images are resized, masks with
            nearest neighbour when enlarged).
        gap: White gap between tiles in pixels.
        labels: Optional text drawn on the first tile of each row.

    Returns:
        BGR uint8 sheet.
    """
    rows: list[np.ndarray] = []
    for i, (img, mask) in enumerate(pairs):
        tiles = [_fit(img, tile_width), _fit(colorize(mask), tile_width),
                 _fit(overlay(img, mask), tile_width)]
        if labels is not None:
            t = tiles[0]
            cv2.putText(t, labels[i], (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 3,
                        cv2.LINE_AA)
            cv2.putText(t, labels[i], (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255),
                        1, cv2.LINE_AA)
        h = tiles[0].shape[0]
        sep = np.full((h, gap, 3), 255, np.uint8)
        rows.append(np.hstack([tiles[0], sep, tiles[1], sep, tiles[2]]))
    width = max(r.shape[1] for r in rows)
    out = []
    for k, r in enumerate(rows):
        if r.shape[1] < width:
            r = np.hstack([r, np.full((r.shape[0], width - r.shape[1], 3), 255, np.uint8)])
        out.append(r)
        if k + 1 < len(rows):
            out.append(np.full((gap, width, 3), 255, np.uint8))
    return np.vstack(out)


def style_grid(
    styles: Sequence[str],
    per_style: int = 4,
    size: int | tuple[int, int] = 256,
    seed: int = 0,
    types: Sequence[str] = ("crack",),
    tile: int = 200,
    gap: int = 4,
) -> np.ndarray:
    """Grid of samples: one row per style (image tiles, then their overlays below).

    Args:
        styles: Style names, one row pair each.
        per_style: Samples per style.
        size: Render size (S or (width, height)).
        seed: Run seed; sample k of a style is index k of that run.
        types: Defect types.
        tile: Tile width in pixels.
        gap: Gap in pixels.

    Returns:
        BGR uint8 image.
    """
    from .compose import render_sample

    blocks = []
    for name in styles:
        imgs, ovs = [], []
        for k in range(per_style):
            img, mask, _ = render_sample(seed, k, types, size, name)
            imgs.append(_fit(img, tile))
            ovs.append(_fit(overlay(img, mask), tile))
        h = imgs[0].shape[0]
        sep = np.full((h, gap, 3), 255, np.uint8)
        row_i = np.hstack([x for im in imgs for x in (im, sep)][:-1])
        row_o = np.hstack([x for im in ovs for x in (im, sep)][:-1])
        label = np.full((26, row_i.shape[1], 3), 255, np.uint8)
        cv2.putText(label, f"{name}   (top: image, bottom: mask overlay)", (4, 19),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
        blocks += [label, row_i, np.full((gap, row_i.shape[1], 3), 255, np.uint8), row_o,
                   np.full((3 * gap, row_i.shape[1], 3), 255, np.uint8)]
    return np.vstack(blocks[:-1])


def write_image(path: str | Path, image: np.ndarray) -> None:
    """Write an image with OpenCV, raising OSError if it fails."""
    if not cv2.imwrite(str(path), image):
        raise OSError(f"could not write {path}")
