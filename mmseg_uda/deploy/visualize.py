"""Pictures for inspectors: mask overlay with boxes and verdict, heat maps, a side-by-side panel.

All functions take and return uint8 BGR images (OpenCV order) and draw nothing in place.
"""

from __future__ import annotations

from typing import Optional, Sequence

import cv2
import numpy as np

from .postprocess import DEFECT

_OK_COLOUR = (60, 180, 60)       # BGR green
_DEFECT_COLOUR = (40, 40, 230)   # BGR red


def _font_scale(img: np.ndarray) -> float:
    return max(0.35, min(img.shape[:2]) / 700.0)


def _label(img: np.ndarray, text: str, org, colour, scale: float) -> None:
    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    # keep the label inside the image (a box at the right or top border)
    x = int(min(max(org[0], 0), max(img.shape[1] - w - 3, 0)))
    y = int(max(org[1], h + base))
    cv2.rectangle(img, (x, y - h - base), (x + w + 2, y + 1), colour, -1)
    cv2.putText(img, text, (x + 1, y - base // 2), cv2.FONT_HERSHEY_SIMPLEX, scale,
                (255, 255, 255), 1, cv2.LINE_AA)


def overlay(img: np.ndarray, mask: np.ndarray, palette: Sequence[Sequence[int]],
            regions: Optional[Sequence[dict]] = None, verdict: Optional[str] = None,
            alpha: float = 0.55) -> np.ndarray:
    """The image with defect pixels tinted in their class colour, boxes and the verdict.

    Args:
        img (np.ndarray): (H, W, 3) uint8 BGR image.
        mask (np.ndarray): (H, W) class ids (0 = background, left untinted).
        palette (Sequence[Sequence[int]]): RGB colour per class id.
        regions (Sequence[dict], optional): regions from ``defect_regions`` to box and label
            with class and mean confidence. Default: None.
        verdict (str, optional): ``'defect'`` or ``'OK'``, written in the top-left corner.
            Default: None.
        alpha (float): opacity of the tint, in [0, 1]. Default: 0.55.

    Returns:
        np.ndarray: (H, W, 3) uint8 BGR image.
    """
    out = img.copy()
    colours = np.array([[c[2], c[1], c[0]] for c in palette], dtype=np.float32)  # RGB -> BGR
    defect = mask > 0
    if defect.any():
        tint = colours[np.clip(mask, 0, len(colours) - 1)]
        out[defect] = ((1 - alpha) * out[defect] + alpha * tint[defect]).astype(np.uint8)
    scale = _font_scale(img)
    for r in regions or ():
        x, y, w, h = r["bbox"]
        colour = tuple(int(v) for v in colours[r["class_id"] % len(colours)])
        cv2.rectangle(out, (x, y), (x + w - 1, y + h - 1), colour, max(1, int(2 * scale)))
        text = r["class"] + (f" {r['mean_confidence']:.2f}" if "mean_confidence" in r else "")
        _label(out, text, (x, y - 2), colour, scale * 0.8)
    if verdict is not None:
        colour = _DEFECT_COLOUR if verdict == DEFECT else _OK_COLOUR
        _label(out, verdict.upper(), (4, 4), colour, scale * 1.3)
    return out


def colorize(values: np.ndarray, colormap: int = cv2.COLORMAP_JET, vmin: float = 0.0,
             vmax: float = 1.0) -> np.ndarray:
    """A colour-mapped (H, W, 3) uint8 BGR image of an (H, W) float map.

    Args:
        values (np.ndarray): (H, W) values.
        colormap (int): an OpenCV colour map (``cv2.COLORMAP_*``). Default: JET.
        vmin (float): value drawn with the first colour. Default: 0.
        vmax (float): value drawn with the last colour. Default: 1.
    """
    scaled = np.clip((np.asarray(values, np.float32) - vmin) / max(vmax - vmin, 1e-12), 0, 1)
    return cv2.applyColorMap((scaled * 255).round().astype(np.uint8), colormap)


def heatmap(img: np.ndarray, values: np.ndarray, alpha: float = 0.6,
            colormap: int = cv2.COLORMAP_JET) -> np.ndarray:
    """A [0, 1] map (defect probability, attention) colour-mapped over the grey image.

    Args:
        img (np.ndarray): (H, W, 3) uint8 BGR image.
        values (np.ndarray): (H, W) values in [0, 1].
        alpha (float): weight of the colour map against the image. Default: 0.6.
        colormap (int): OpenCV colour map. Default: JET (blue 0 -> red 1).

    Returns:
        np.ndarray: (H, W, 3) uint8 BGR image.
    """
    grey = cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    return cv2.addWeighted(colorize(values, colormap), alpha, grey, 1 - alpha, 0)


def panel(images: Sequence[np.ndarray], titles: Sequence[str], gap: int = 4) -> np.ndarray:
    """Images of the same height side by side with a title strip above each.

    Args:
        images (Sequence[np.ndarray]): (H, W_i, 3) uint8 BGR images.
        titles (Sequence[str]): one title per image.
        gap (int): white space between images, in pixels. Default: 4.
    """
    height = images[0].shape[0]
    scale = _font_scale(images[0]) * 1.1
    strip = int(30 * scale) + 8
    cols = []
    for img, title in zip(images, titles):
        if img.shape[0] != height:
            raise ValueError(f"panel images must share a height, got {img.shape[0]} and "
                             f"{height}")
        top = np.full((strip, img.shape[1], 3), 255, np.uint8)
        cv2.putText(top, title, (4, strip - 8), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1,
                    cv2.LINE_AA)
        cols += [np.vstack([top, img]), np.full((height + strip, gap, 3), 255, np.uint8)]
    return np.hstack(cols[:-1])
