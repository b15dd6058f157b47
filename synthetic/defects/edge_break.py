"""Breaks: chunks missing from the edge of a part (chipped magnetic tiles).

A break is an irregular lobe whose centre lies on (or a few pixels inside) one border
of the image (the part's edge: the side walls or the curved end of a tile), so about
half of it is inside the frame. Its outline is a radial blob refined by midpoint
displacement (a fracture is rough at every scale); inside, the fracture surface is
darker than the ground surface and uneven; a thin lit ridge just outside the outline
(the broken edge catching the line light) stays background.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from .. import shapes
from ..noise import smooth_noise
from ..raster import bounding_region, coverage
from ..sampling import log_uniform, sub_seed, uniform
from .base import DefectRender, DefectType, halo, register_defect

#: Borders a break starts from: left, right, top, bottom (relative weights).
SIDES = ("left", "right", "top", "bottom")


@register_defect
class EdgeBreak(DefectType):
    """Chunk broken off an edge of the part."""

    name = "break"
    class_name = "break"
    description = "break: irregular chunk missing from an edge of the part (dark, rough)"
    conflicting_distractors = ("edge",)
    default_options: dict[str, Any] = {
        "count": (1, 2),
        "side_weights": (1.0, 1.0, 0.6, 1.0),  # left, right, top, bottom
        "length": (15.0, 110.0),  # extent along the edge in px at zoom 1 (log-uniform)
        "depth": (0.3, 0.8),  # extent into the part relative to the length
        "inset": (0.0, 10.0),  # px at zoom 1 of the centre inside the border (side walls)
        "irregularity": (0.15, 0.4),
        "roughness": (0.05, 0.15),  # fracture jaggedness (fractal displacement)
        "darkness": (0.45, 0.85),
        "texture": (0.1, 0.35),  # relative unevenness of the fracture surface
        "ridge_light": (0.0, 35.0),  # grey levels of the lit broken edge
    }

    def sample_params(
        self,
        rng: np.random.Generator,
        size: tuple[int, int],
        zoom: float,
        options: Mapping[str, Any],
        disable: frozenset[str],
    ) -> dict[str, Any]:
        """Draw one break's parameters."""
        h, w = size
        weights = np.asarray(options["side_weights"], np.float64)
        side = SIDES[int(rng.choice(len(SIDES), p=weights / weights.sum()))]
        length = min(log_uniform(rng, options["length"]) * zoom, 0.8 * max(h, w))
        t = float(rng.uniform(0.05, 0.95))
        d = uniform(rng, options["inset"]) * zoom
        centre = {"left": [d, t * h], "right": [w - d, t * h],
                  "top": [t * w, d], "bottom": [t * w, h - d]}[side]
        along = 0.5 * math.pi if side in ("left", "right") else 0.0
        return {
            "seed": sub_seed(rng),
            "side": side,
            "centre": centre,
            "radius": 0.5 * length,
            "aspect": uniform(rng, options["depth"]),
            "angle": along + float(rng.normal(0.0, 0.15)),
            "irregularity": uniform(rng, options["irregularity"]),
            "roughness": uniform(rng, options["roughness"]),
            "darkness": uniform(rng, options["darkness"]),
            "texture": uniform(rng, options["texture"]),
            "ridge_light": uniform(rng, options["ridge_light"]),
        }

    def render(
        self, params: Mapping[str, Any], size: tuple[int, int], disable: frozenset[str]
    ) -> DefectRender | None:
        """Render coverage and shading of one break."""
        rng = np.random.default_rng(params["seed"])
        jagged = "jagged" not in disable
        c = params["centre"]
        outline = shapes.radial_blob(rng, (c[0], c[1]), params["radius"], params["aspect"],
                                     params["angle"], params["irregularity"] if jagged else 0.0,
                                     n=48, harmonics=7)
        rough = params["roughness"] if jagged else 0.0
        closed = np.vstack([outline, outline[:1]])
        outline = shapes.fractal_subdivide(rng, closed, rough, 1.5, hurst=0.7)[:-1]
        region = bounding_region([], [outline], size, margin=3)
        if region is None:
            return None
        cov = coverage([], [outline], region)
        if not cov.any():
            return None
        rh, rw = region.shape
        surface = np.float32(1.0)
        if "texture" not in disable:
            surface = np.float32(1.0) + np.float32(params["texture"]) * np.clip(
                smooth_noise(rng, rh, rw, max(2.0, 0.15 * params["radius"])), -2.0, 2.0)
        dark = np.clip(np.float32(params["darkness"]) * surface, 0.0, 0.95) * cov
        offset = None
        if "rims" not in disable and params["ridge_light"] > 0:
            offset = halo(cov, 1.0) * np.float32(params["ridge_light"] * 3.0)
        return DefectRender(region=region, coverage=cov, darkness=dark.astype(np.float32),
                            offset=offset)
