"""Scratches: long, thin, smooth strokes that are brighter or darker than the surface.

Typical of machined or painted metal: nearly straight (slightly bent) lines of almost
constant width, often in small parallel bundles, tapering at both ends. A bright
scratch blends the surface towards a light grey (exposed metal), a dark one darkens it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from .. import shapes
from ..raster import bounding_region, coverage
from ..sampling import chance, integer, log_uniform, sub_seed, uniform
from .base import DefectRender, DefectType, register_defect


@register_defect
class Scratch(DefectType):
    """Thin smooth bright/dark line(s), optionally a parallel bundle."""

    name = "scratch"
    description = "thin smooth bright or dark line (bundle), e.g. on metal"
    conflicting_distractors = ("scratch_marks",)
    default_options: dict[str, Any] = {
        "count": (1, 2),
        "width": (1.0, 2.5),  # full width in px at zoom 1 (log-uniform)
        "length": (0.15, 0.7),  # fraction of the image diagonal
        "bend": (-0.5, 0.5),  # total turning in rad
        "wiggle": (0.0, 0.08),
        "bundle": (1, 3),  # parallel lines per scratch
        "spacing": (2.5, 8.0),  # px between bundle lines at zoom 1
        "bright_prob": 0.6,
        "contrast": (0.25, 0.6),  # blend weight towards the scratch colour
    }

    def sample_params(
        self,
        rng: np.random.Generator,
        size: tuple[int, int],
        zoom: float,
        options: Mapping[str, Any],
        disable: frozenset[str],
    ) -> dict[str, Any]:
        """Draw one scratch (bundle)'s parameters."""
        h, w = size
        length = uniform(rng, options["length"]) * math.hypot(h, w)
        angle = float(rng.uniform(-math.pi, math.pi))
        centre = np.array([rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.9) * h])
        start = centre - 0.5 * length * np.array([math.cos(angle), math.sin(angle)])
        return {
            "seed": sub_seed(rng),
            "zoom": zoom,
            "start": [float(start[0]), float(start[1])],
            "angle": angle,
            "length": length,
            "width": log_uniform(rng, options["width"]) * zoom,
            "bend": uniform(rng, options["bend"]),
            "wiggle": uniform(rng, options["wiggle"]),
            "bundle": integer(rng, options["bundle"]),
            "spacing": uniform(rng, options["spacing"]) * zoom,
            "bright": chance(rng, options["bright_prob"]),
            "contrast": uniform(rng, options["contrast"]),
        }

    def render(
        self, params: Mapping[str, Any], size: tuple[int, int], disable: frozenset[str]
    ) -> DefectRender | None:
        """Render coverage and brightening/darkening of one scratch bundle."""
        rng = np.random.default_rng(params["seed"])
        strokes = []
        normal = params["angle"] + math.pi / 2
        for k in range(params["bundle"]):
            start = shapes.offset_point(np.array(params["start"]), normal,
                                        k * params["spacing"] + rng.normal(0, 0.3))
            length = params["length"] * (rng.uniform(0.6, 1.0) if k else 1.0)
            pts = shapes.smooth_curve(rng, tuple(start), params["angle"], length,
                                      params["bend"], params["wiggle"], step=2.0)
            s = shapes.arc_length(pts)
            taper = 0.0 if "taper" in disable else 0.15 * length
            width = params["width"] * (rng.uniform(0.7, 1.0) if k else 1.0)
            wid = shapes.width_profile(
                rng, s, width,
                variation=0.0 if "width_variation" in disable else 0.15,
                wavelength=60.0, taper_start=taper, taper_end=taper,
            )
            strokes.append((pts, wid))
        region = bounding_region(strokes, [], size, margin=2)
        if region is None:
            return None
        cov = coverage(strokes, [], region)
        if not cov.any():
            return None
        a = cov * np.float32(params["contrast"])
        if params["bright"]:
            # Blend towards a light metal grey: image * (1 - a) + a * level.
            offset = a * np.float32(rng.uniform(200.0, 245.0))
            return DefectRender(region=region, coverage=cov, darkness=a, offset=offset)
        return DefectRender(region=region, coverage=cov, darkness=a)
