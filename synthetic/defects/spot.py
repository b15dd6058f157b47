"""Spots / blowholes: small irregular pits with a dark centre and a lit rim.

The outline is an ellipse with random radial harmonics. Inside, the pit is darker
towards its centre (a core outline at ``core`` times the size is rendered with the
same rasteriser) and lighter on the wall that faces the light; outside, a thin
bright lip on the lit side (background) gives the pit its depth.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from .. import shapes
from ..raster import bounding_region, coverage
from ..sampling import log_uniform, sub_seed, uniform
from .base import DefectRender, DefectType, halo, register_defect


@register_defect
class Spot(DefectType):
    """Blowhole / pit / spot defect."""

    name = "spot"
    description = "blowhole or pit: irregular dark blob with a lit rim"
    conflicting_distractors = ()
    default_options: dict[str, Any] = {
        "count": (1, 3),
        "radius": (2.5, 12.0),  # major radius in px at zoom 1 (log-uniform)
        "aspect": (0.55, 1.0),
        "irregularity": (0.1, 0.45),
        "darkness": (0.4, 0.85),
        "core": (0.4, 0.7),  # core outline scale
        "rim_light": (0.0, 45.0),  # grey levels of the lit lip
    }

    def sample_params(
        self,
        rng: np.random.Generator,
        size: tuple[int, int],
        zoom: float,
        options: Mapping[str, Any],
        disable: frozenset[str],
    ) -> dict[str, Any]:
        """Draw one spot's parameters."""
        h, w = size
        return {
            "seed": sub_seed(rng),
            "centre": [float(rng.uniform(0.05, 0.95) * w), float(rng.uniform(0.05, 0.95) * h)],
            "radius": log_uniform(rng, options["radius"]) * zoom,
            "aspect": uniform(rng, options["aspect"]),
            "angle": float(rng.uniform(0, math.pi)),
            "irregularity": uniform(rng, options["irregularity"]),
            "darkness": uniform(rng, options["darkness"]),
            "core": uniform(rng, options["core"]),
            "rim_light": uniform(rng, options["rim_light"]),
            "light_angle": float(rng.uniform(-math.pi, math.pi)),
            "tint": [float(1.0 + 0.05 * rng.standard_normal()) for _ in range(3)],
        }

    def render(
        self, params: Mapping[str, Any], size: tuple[int, int], disable: frozenset[str]
    ) -> DefectRender | None:
        """Render coverage and shading of one spot."""
        rng = np.random.default_rng(params["seed"])
        irr = 0.0 if "jagged" in disable else params["irregularity"]
        c = params["centre"]
        outline = shapes.radial_blob(rng, (c[0], c[1]), params["radius"], params["aspect"],
                                     params["angle"], irr, n=40)
        margin = 3 + int(params["radius"] * 0.5)
        region = bounding_region([], [outline], size, margin=margin)
        if region is None:
            return None
        cov = coverage([], [outline], region)
        if not cov.any():
            return None
        d = np.float32(params["darkness"])
        if "rims" in disable:
            dark = d * cov
        else:
            centre = np.asarray(c)
            core_outline = centre + (outline - centre) * params["core"]
            core = coverage([], [core_outline], region)
            dark = d * (np.float32(0.55) * cov + np.float32(0.45) * core)
        # Direction of each pixel from the centre, relative to the light.
        rh, rw = region.shape
        yy, xx = np.mgrid[region.y0:region.y1, region.x0:region.x1].astype(np.float32)
        ang = np.arctan2(yy - np.float32(c[1]), xx - np.float32(c[0]))
        facing = np.cos(ang - np.float32(params["light_angle"]))
        if "rims" not in disable:
            # The inner wall opposite the light is lit; the lip on the light side too.
            dark *= np.float32(1.0) - np.float32(0.35) * np.clip(-facing, 0.0, 1.0) * cov
        offset = None
        if "rims" not in disable and params["rim_light"] > 0:
            ring = halo(cov, 0.5 + 0.15 * params["radius"])
            offset = ring * np.clip(facing, 0.0, 1.0) * np.float32(params["rim_light"] * 2.0)
        return DefectRender(region=region, coverage=cov, darkness=dark,
                            tint=tuple(params["tint"]), offset=offset)
