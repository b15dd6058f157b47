"""Fray: worn regions of a part's surface (magnetic tiles), large and low in contrast.

A fray is a large elongated lobe, usually along the part's long axis: either inside
the surface (a worn tongue reaching in from an end) or hugging a side edge (centre on
the border). Its outline is sharp but ragged (the worn layer frays out at its rim);
inside, the surface is shifted in brightness (mostly darker, sometimes lighter) with a
slow mottling, and a thin darker line marks the rim on the inside.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np

from .. import shapes
from ..noise import smooth_noise
from ..raster import bounding_region, coverage
from ..sampling import chance, sub_seed, uniform
from .base import DefectRender, DefectType, register_defect


@register_defect
class Fray(DefectType):
    """Worn / frayed region of the surface."""

    name = "fray"
    class_name = "fray"
    description = "fray: large worn region along the part, darker or lighter, ragged rim"
    default_options: dict[str, Any] = {
        "count": (1, 1),
        "length": (0.3, 0.9),  # major axis relative to the image height
        "aspect": (0.2, 0.5),  # minor / major axis
        "edge_prob": 0.35,  # chance to hug a side edge (centre on the border)
        "irregularity": (0.08, 0.25),
        "roughness": (0.03, 0.1),  # raggedness of the rim
        "darkness": (0.1, 0.35),  # brightness removed inside
        "light_prob": 0.2,  # chance of a lighter (polished) region instead
        "mottle": (0.05, 0.25),  # relative slow variation of the shift inside
        "rim_line": (0.0, 0.15),  # extra darkness of the inner rim line
    }

    def sample_params(
        self,
        rng: np.random.Generator,
        size: tuple[int, int],
        zoom: float,
        options: Mapping[str, Any],
        disable: frozenset[str],
    ) -> dict[str, Any]:
        """Draw one fray's parameters."""
        h, w = size
        length = uniform(rng, options["length"]) * h
        edge = chance(rng, options["edge_prob"])
        if edge:  # along a side edge, half of it outside the frame
            x = 0.0 if chance(rng, 0.5) else float(w)
            y = float(rng.uniform(0.3, 0.7) * h)
        else:  # a tongue reaching in from the top or bottom end
            x = float(rng.uniform(0.2, 0.8) * w)
            bottom = chance(rng, 0.7)
            reach = 0.5 * length * rng.uniform(0.6, 1.0)  # centre this far from the end
            y = float(h - reach if bottom else reach)
        shift = uniform(rng, options["darkness"])
        if chance(rng, options["light_prob"]):
            shift = -0.6 * shift
        return {
            "seed": sub_seed(rng),
            "centre": [x, y],
            "radius": 0.5 * length,
            "aspect": uniform(rng, options["aspect"]) * (0.5 if edge else 1.0),
            "angle": 0.5 * math.pi + float(rng.normal(0.0, 0.12)),
            "irregularity": uniform(rng, options["irregularity"]),
            "roughness": uniform(rng, options["roughness"]),
            "darkness": shift,
            "mottle": uniform(rng, options["mottle"]),
            "rim_line": uniform(rng, options["rim_line"]),
        }

    def render(
        self, params: Mapping[str, Any], size: tuple[int, int], disable: frozenset[str]
    ) -> DefectRender | None:
        """Render coverage and shading of one fray."""
        rng = np.random.default_rng(params["seed"])
        jagged = "jagged" not in disable
        c = params["centre"]
        outline = shapes.radial_blob(rng, (c[0], c[1]), params["radius"], params["aspect"],
                                     params["angle"], params["irregularity"], n=64)
        if jagged:
            closed = np.vstack([outline, outline[:1]])
            outline = shapes.fractal_subdivide(rng, closed, params["roughness"], 2.0,
                                               hurst=0.7)[:-1]
        region = bounding_region([], [outline], size, margin=2)
        if region is None:
            return None
        cov = coverage([], [outline], region)
        if not cov.any():
            return None
        rh, rw = region.shape
        shift = np.full((rh, rw), params["darkness"], np.float32)
        if "texture" not in disable:
            shift *= np.float32(1.0) + np.float32(params["mottle"]) * np.clip(
                smooth_noise(rng, rh, rw, max(4.0, 0.6 * params["radius"] * params["aspect"])),
                -2.0, 2.0)
        dark = shift * cov
        if "rims" not in disable and params["rim_line"] > 0:
            # A thin line just inside the outline: coverage minus its 2-px erosion.
            inner = np.clip(cov - _erode(cov, 2), 0.0, 1.0)
            dark += np.float32(params["rim_line"]) * inner
        return DefectRender(region=region, coverage=cov, darkness=dark.astype(np.float32))


def _erode(cov: np.ndarray, radius: int) -> np.ndarray:
    """Grey-level erosion of a coverage map with a (2 r + 1)-square, float32."""
    return cv2.erode(cov, np.ones((2 * radius + 1, 2 * radius + 1), np.uint8))
