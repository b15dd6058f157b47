"""Uneven: grinding unevenness of a part's surface (magnetic tiles).

A band across the whole width from the top or bottom end of the part, whose boundary
is a gently wavy line (where the grinding wheel stopped or changed depth). Inside, the
brightness changes by only a few per cent, plus slow surface waves across the band:
the low-contrast defect of the set. Coverage is computed directly from the boundary at
4 x 4 sub-pixel samples (the labeling rule of every type).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..noise import noise_1d
from ..raster import SUPERSAMPLE, Region
from ..sampling import chance, sub_seed, uniform
from .base import DefectRender, DefectType, register_defect


@register_defect
class Uneven(DefectType):
    """Band of uneven (differently ground) surface across the part."""

    name = "uneven"
    class_name = "uneven"
    description = "uneven: low-contrast band of differently ground surface, wavy boundary"
    default_options: dict[str, Any] = {
        "count": (1, 1),
        "depth": (0.15, 0.55),  # band height relative to the image height
        "wave": (0.0, 0.04),  # boundary waviness relative to the image height
        "wavelength": (0.15, 0.5),  # of the boundary, relative to the width
        "darkness": (0.04, 0.15),  # brightness change inside (either sign)
        "light_prob": 0.4,  # chance the band is lighter
        "waves": (0.0, 0.5),  # amplitude of the surface waves relative to the change
        "wave_period": (8.0, 40.0),  # px at zoom 1
    }

    def sample_params(
        self,
        rng: np.random.Generator,
        size: tuple[int, int],
        zoom: float,
        options: Mapping[str, Any],
        disable: frozenset[str],
    ) -> dict[str, Any]:
        """Draw one band's parameters."""
        h, w = size
        shift = uniform(rng, options["darkness"])
        if chance(rng, options["light_prob"]):
            shift = -shift
        return {
            "seed": sub_seed(rng),
            "top": chance(rng, 0.5),
            "depth": uniform(rng, options["depth"]) * h,
            "wave": uniform(rng, options["wave"]) * h,
            "wavelength": uniform(rng, options["wavelength"]) * w,
            "tilt": float(rng.normal(0.0, 0.03)) * h,
            "darkness": shift,
            "waves": uniform(rng, options["waves"]),
            "wave_period": uniform(rng, options["wave_period"]) * zoom,
            "wave_angle": float(rng.uniform(-0.4, 0.4)),
        }

    def render(
        self, params: Mapping[str, Any], size: tuple[int, int], disable: frozenset[str]
    ) -> DefectRender | None:
        """Render coverage and shading of one band."""
        rng = np.random.default_rng(params["seed"])
        h, w = size
        ss = SUPERSAMPLE
        xs = (np.arange(w * ss) + 0.5) / ss  # sub-pixel centres along x
        depth = params["depth"] + params["tilt"] * (xs / max(w, 1) - 0.5)
        if "jagged" not in disable:
            depth = depth + params["wave"] * noise_1d(rng, xs, params["wavelength"])
        # Rows 0 .. y1 hold the band (measured from its end of the image).
        y1 = int(min(h, math.ceil(float(depth.max()) + 1)))
        if y1 <= 0:
            return None
        ys = (np.arange(y1 * ss) + 0.5) / ss
        inside = ys[:, None] < depth[None, :]
        cov = inside.reshape(y1, ss, w, ss).sum(axis=(1, 3), dtype=np.int32)
        cov = cov.astype(np.float32) * np.float32(1.0 / (ss * ss))
        if not cov.any():
            return None
        yy, xx = np.mgrid[0:y1, 0:w].astype(np.float32)
        shade = np.full((y1, w), params["darkness"], np.float32)
        if "texture" not in disable and params["waves"] > 0:
            a = params["wave_angle"]
            phase = (yy * math.cos(a) + xx * math.sin(a)) * np.float32(
                2.0 * math.pi / params["wave_period"])
            # Relative to the change, so the band never returns to the surface's brightness.
            shade *= np.float32(1.0) + np.float32(params["waves"]) * np.sin(
                phase + np.float32(rng.uniform(0, 6.3)))
        dark = shade * cov
        if not params["top"]:  # the band hangs from the bottom end: flip rows
            cov, dark = cov[::-1].copy(), dark[::-1].copy()
            region = Region(h - y1, 0, h, w)
        else:
            region = Region(0, 0, y1, w)
        return DefectRender(region=region, coverage=cov, darkness=dark)
