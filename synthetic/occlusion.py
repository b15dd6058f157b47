"""Partial occlusion: small objects lying on top of defects (pebbles, leaves, sand).

Occluders are placed on pixels of rendered defects, painted over the image with their
own shading, and returned as an opacity map. The compositor multiplies every defect's
coverage by ``1 - opacity`` before labelling, so a crack hidden under a pebble is
background in the mask, exactly as it is in the image.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from . import shapes
from .noise import smooth_noise, smoothstep
from .raster import Region, bounding_region, coverage

_KINDS = ("pebble", "leaf", "sand", "debris")


def draw_occluders(
    rng: np.random.Generator,
    img: np.ndarray,
    zoom: float,
    anchors: Sequence[tuple[Region, np.ndarray]],
    count: int,
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Paint ``count`` occluders over defect pixels.

    Args:
        rng: The image's generator for occlusion.
        img: Planar float32 BGR image (3, h, w), modified in place.
        zoom: Scale factor of occluder sizes.
        anchors: ``(region, coverage)`` of each rendered defect; occluders are centred
            on pixels with coverage >= 0.5.
        count: Number of occluders to draw.

    Returns:
        ``(opacity, params)``: float32 (h, w) opacity in [0, 1] (0 where nothing
        occludes) and the parameters of each occluder.
    """
    h, w = img.shape[1:]
    opacity = np.zeros((h, w), np.float32)
    params: list[dict[str, Any]] = []
    candidates = [(r, c) for r, c in anchors if (c >= 0.5).any()]
    if not candidates or count <= 0:
        return opacity, params
    for _ in range(count):
        region, cov = candidates[int(rng.integers(len(candidates)))]
        ys, xs = np.nonzero(cov >= 0.5)
        k = int(rng.integers(len(ys)))
        centre = (float(xs[k] + region.x0), float(ys[k] + region.y0))
        kind = _KINDS[int(rng.integers(len(_KINDS)))]
        if kind == "leaf":
            radius = rng.uniform(5.0, 16.0) * zoom
            outline = shapes.radial_blob(rng, centre, radius, rng.uniform(0.3, 0.5),
                                         rng.uniform(0, math.pi), 0.1, n=24, harmonics=2)
            # Mostly dry (brown) leaves, sometimes a dull green one (BGR).
            colour = np.array([45, 85, 115] if rng.random() < 0.75 else [60, 105, 85], np.float32)
            alpha_max = 1.0
        elif kind == "sand":
            radius = rng.uniform(6.0, 20.0) * zoom
            outline = shapes.radial_blob(rng, centre, radius, rng.uniform(0.5, 1.0),
                                         rng.uniform(0, math.pi), 0.4, n=24)
            colour = np.full(3, rng.uniform(120, 200), np.float32) * rng.uniform(0.92, 1.05, 3)
            alpha_max = rng.uniform(0.55, 0.95)
        else:  # pebble / debris
            radius = rng.uniform(2.0, 9.0) * zoom * (0.6 if kind == "debris" else 1.0)
            outline = shapes.radial_blob(rng, centre, radius, rng.uniform(0.5, 1.0),
                                         rng.uniform(0, math.pi), 0.3, n=20)
            colour = np.full(3, rng.uniform(60, 210), np.float32) * rng.uniform(0.9, 1.08, 3)
            alpha_max = 1.0
        reg = bounding_region([], [outline], (h, w), margin=3)
        if reg is None:
            continue
        a = coverage([], [outline], reg)
        rh, rw = reg.shape
        if kind == "sand":
            a = cv2.GaussianBlur(a, (0, 0), 0.3 * radius)
            a *= smoothstep(-1.0, 1.0, smooth_noise(rng, rh, rw, max(2.0, 0.4 * radius)))
        a *= np.float32(alpha_max)
        # Own shading: a light gradient across the object and a little texture.
        yy, xx = np.mgrid[reg.y0:reg.y1, reg.x0:reg.x1].astype(np.float32)
        la = rng.uniform(0, 2 * math.pi)
        shade = np.float32(1.0) + np.float32(0.25) * (
            ((xx - np.float32(centre[0])) * np.float32(math.cos(la))
             + (yy - np.float32(centre[1])) * np.float32(math.sin(la))) / np.float32(radius)
        )
        shade += np.float32(0.06) * smooth_noise(rng, rh, rw, 2.0 * zoom)
        view = img[reg.planes]
        view *= (np.float32(1.0) - a)[None]
        view += (a * shade)[None] * colour.reshape(3, 1, 1)
        # Opacity of stacked layers: 1 - prod(1 - a_i).
        sub = opacity[reg.slices]
        sub += a * (np.float32(1.0) - sub)
        params.append({"kind": kind, "centre": list(centre), "radius": float(radius)})
    return opacity, params
