"""Cracks: multi-scale jagged polylines with branches, secondary cracks and spalls.

Geometry: a momentum random walk sets the macro course, fractal midpoint
displacement adds the jaggedness at every scale down to ~1.5 px, and the width varies
slowly along the crack, jitters per vertex (jagged edges) and tapers to zero at the
tips. Branches leave the crack at an angle and taper at their free end; secondary
cracks run roughly parallel nearby; spalls are small chips broken off the edges.

Appearance: the crack darkens the surface by ``darkness`` at its core and by
``darkness * rim_ratio`` at its rims (the core is where a blur of the coverage, with a
radius proportional to the crack width, stays high: the middle of wide cracks, little
of hair-lines), the darkness fades in and out along the crack, dust fills parts of it,
and an optional faint bright halo (background) outlines open cracks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np

from .. import shapes
from ..noise import grain, smooth_noise, smoothstep
from ..raster import bounding_region, coverage_layers
from ..sampling import chance, integer, log_uniform, sub_seed, uniform
from .base import DefectRender, DefectType, halo, register_defect


def _walk(
    rng: np.random.Generator,
    start: np.ndarray,
    angle: float,
    length: float,
    p: Mapping[str, Any],
    jagged: bool,
    zoom: float,
    width: float,
) -> np.ndarray:
    step = max(6.0, 28.0 * zoom)
    pts = shapes.momentum_walk(
        rng, tuple(start), angle, length, step, p["turn_sigma"], p["momentum"], p["straightness"]
    )
    # Detail finer than about half the crack width is invisible in its outline, so wide
    # cracks stop subdividing earlier (this keeps the rasterisation cost proportional to
    # the crack length rather than its area).
    min_segment = max(1.5, 0.6 * width)
    return shapes.fractal_subdivide(rng, pts, p["roughness"] if jagged else 0.0, min_segment,
                                    hurst=0.7)


def _widths(
    rng: np.random.Generator,
    s: np.ndarray,
    base: float,
    p: Mapping[str, Any],
    disable: frozenset[str],
    zoom: float,
    taper_start: bool,
) -> np.ndarray:
    total = float(s[-1]) if s.size else 0.0
    taper = 0.0 if "taper" in disable else p["taper"] * total
    return shapes.width_profile(
        rng,
        s,
        base,
        variation=0.0 if "width_variation" in disable else p["width_variation"],
        wavelength=p["variation_wavelength"] * zoom,
        jitter=0.0 if "jagged" in disable else p["width_jitter"],
        taper_start=taper if taper_start else 0.0,
        taper_end=taper,
        taper_power=p["taper_power"],
        min_width=0.25 * base,
    )


@register_defect
class Crack(DefectType):
    """Crack with branches, secondary cracks, spalled edges, dust and fading."""

    name = "crack"
    description = "jagged tapered crack with branches, rims, spalls and dust"
    conflicting_distractors = ()
    default_options: dict[str, Any] = {
        "count": (1, 2),  # cracks per image (inclusive)
        "width": (1.2, 4.5),  # base full width in px at zoom 1 (log-uniform)
        "hairline_prob": 0.25,  # chance of a hair-line crack instead
        "hairline_width": (0.7, 1.4),
        "length": (0.5, 1.3),  # fraction of the image diagonal
        "through_prob": 0.6,  # chance to enter from outside the image
        "turn_sigma": (0.08, 0.3),  # heading noise per coarse step (rad)
        "momentum": (0.3, 0.8),
        "straightness": (0.03, 0.2),
        "roughness": (0.12, 0.3),  # fractal displacement / segment length at 4 px
        "width_variation": (0.15, 0.45),
        "variation_wavelength": (20.0, 90.0),  # px at zoom 1
        "width_jitter": (0.05, 0.25),
        "taper": (0.05, 0.3),  # fraction of length over which tips narrow
        "taper_power": (0.6, 1.4),
        "darkness": (0.35, 0.85),  # fraction of brightness removed at the core
        "rim_ratio": (0.35, 0.75),  # rim darkness relative to the core
        "core_fraction": (0.35, 0.6),  # core width relative to the full width
        "branch_rate": (0.0, 1.0),  # expected branches per 256 px of crack
        "branch_angle": (0.35, 1.1),  # rad away from the parent heading
        "branch_length": (0.12, 0.45),  # fraction of the parent length
        "secondary": (0, 1),  # secondary cracks near the main one (inclusive)
        "spall_prob": 0.35,
        "spall_rate": (0.3, 2.0),  # spalls per 100 px when present
        "spall_depth": (0.25, 0.55),  # spall darkness relative to the crack
        "dust_prob": 0.3,
        "dust": (0.2, 0.6),  # darkness removed where dust fills the crack
        "fade": (0.0, 0.6),  # amplitude of darkness fading along the crack
        "halo_prob": 0.25,
        "halo": (3.0, 12.0),  # grey levels of the bright halo outside the crack
        "tint": 0.03,  # std of the per-channel darkening colour
    }

    def sample_params(
        self,
        rng: np.random.Generator,
        size: tuple[int, int],
        zoom: float,
        options: Mapping[str, Any],
        disable: frozenset[str],
    ) -> dict[str, Any]:
        """Draw one crack's parameters (see ``default_options`` for the ranges)."""
        h, w = size
        diag = math.hypot(h, w)
        length = uniform(rng, options["length"]) * diag
        angle = float(rng.uniform(-math.pi, math.pi))
        through = chance(rng, options["through_prob"])
        if through:
            # Start outside the image, aimed through a random interior point.
            target = np.array([rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h])
            start = target - 0.5 * max(length, diag) * np.array([math.cos(angle), math.sin(angle)])
            length = max(length, diag * 1.1)
        else:
            start = np.array([rng.uniform(0.05, 0.95) * w, rng.uniform(0.05, 0.95) * h])
            start = start - 0.5 * length * np.array([math.cos(angle), math.sin(angle)])
        hair = chance(rng, options["hairline_prob"])
        width = log_uniform(rng, options["hairline_width"] if hair else options["width"]) * zoom
        p: dict[str, Any] = {
            "seed": sub_seed(rng),
            "zoom": zoom,
            "start": [float(start[0]), float(start[1])],
            "angle": angle,
            "length": length,
            "width": width,
            "hairline": hair,
            "turn_sigma": uniform(rng, options["turn_sigma"]),
            "momentum": uniform(rng, options["momentum"]),
            "straightness": uniform(rng, options["straightness"]),
            "roughness": uniform(rng, options["roughness"]),
            "width_variation": uniform(rng, options["width_variation"]),
            "variation_wavelength": uniform(rng, options["variation_wavelength"]),
            "width_jitter": uniform(rng, options["width_jitter"]),
            "taper": uniform(rng, options["taper"]),
            "taper_power": uniform(rng, options["taper_power"]),
            "darkness": uniform(rng, options["darkness"]),
            "rim_ratio": uniform(rng, options["rim_ratio"]),
            "core_fraction": uniform(rng, options["core_fraction"]),
            "branch_rate": uniform(rng, options["branch_rate"]),
            "branch_angle": options["branch_angle"],
            "branch_length": options["branch_length"],
            "secondary": integer(rng, options["secondary"]),
            "spall_rate": (
                uniform(rng, options["spall_rate"]) if chance(rng, options["spall_prob"]) else 0.0
            ),
            "spall_depth": uniform(rng, options["spall_depth"]),
            "dust": uniform(rng, options["dust"]) if chance(rng, options["dust_prob"]) else 0.0,
            "fade": uniform(rng, options["fade"]),
            "halo": uniform(rng, options["halo"]) if chance(rng, options["halo_prob"]) else 0.0,
            "tint": [float(1.0 + options["tint"] * rng.standard_normal()) for _ in range(3)],
        }
        return p

    # ------------------------------------------------------------------ geometry
    def geometry(
        self, params: Mapping[str, Any], disable: frozenset[str]
    ) -> tuple[list[shapes.Stroke], list[np.ndarray], np.random.Generator]:
        """Strokes (main, branches, secondary cracks) and spall polygons of a crack.

        Args:
            params: Output of :meth:`sample_params`.
            disable: Realism features switched off.

        Returns:
            ``(strokes, spall_polygons, rngs)``; ``rngs`` holds the detail generators
            of the appearance (``"fade"``, ``"dust"``).
        """
        # One detail stream per feature, so that switching a feature off leaves the
        # others (and the main course) exactly as they were.
        names = ("main", "branch", "secondary", "spall", "fade", "dust")
        seqs = np.random.SeedSequence(params["seed"]).spawn(len(names))
        rngs = {n: np.random.default_rng(seqs[i]) for i, n in enumerate(names)}
        zoom = params["zoom"]
        jagged = "jagged" not in disable
        rng = rngs["main"]
        main = _walk(rng, np.array(params["start"]), params["angle"], params["length"],
                     params, jagged, zoom, params["width"])
        s = shapes.arc_length(main)
        wid = _widths(rng, s, params["width"], params, disable, zoom, taper_start=True)
        strokes: list[shapes.Stroke] = [(main, wid)]
        if "branching" not in disable:
            self._branch(rngs["branch"], main, wid, s, params, disable, depth=0, out=strokes)
            self._secondary(rngs["secondary"], main, wid, s, params, disable, out=strokes)
        spalls: list[np.ndarray] = []
        if "spalls" not in disable and params["spall_rate"] > 0:
            spalls = self._spalls(rngs["spall"], strokes[0], params)
        return strokes, spalls, rngs

    def _branch(self, rng, pts, wid, s, params, disable, depth, out) -> None:
        total = float(s[-1])
        rate = params["branch_rate"] * (0.5 ** depth)
        n = int(rng.poisson(rate * total / 256.0))
        if n == 0 or pts.shape[0] < 10:
            return
        head = shapes.headings(pts)
        for _ in range(min(n, 8)):
            i = int(rng.integers(int(0.1 * len(pts)), int(0.9 * len(pts))))
            if wid[i] < 0.5:
                continue
            side = 1.0 if rng.random() < 0.5 else -1.0
            ang = head[i] + side * uniform(rng, params["branch_angle"])
            length = total * uniform(rng, params["branch_length"])
            if length < 8:
                continue
            base = wid[i] * rng.uniform(0.45, 0.85)
            bpts = _walk(rng, pts[i], ang, length, params, "jagged" not in disable,
                         params["zoom"], base)
            bs = shapes.arc_length(bpts)
            bw = _widths(rng, bs, base, params, disable, params["zoom"], taper_start=False)
            out.append((bpts, bw))
            if depth < 1:
                self._branch(rng, bpts, bw, bs, params, disable, depth + 1, out)

    def _secondary(self, rng, pts, wid, s, params, disable, out) -> None:
        head = shapes.headings(pts)
        total = float(s[-1])
        for _ in range(params["secondary"]):
            if pts.shape[0] < 10:
                return
            i = int(rng.integers(int(0.1 * len(pts)), int(0.9 * len(pts))))
            side = 1.0 if rng.random() < 0.5 else -1.0
            off = (wid[i] + rng.uniform(4.0, 25.0) * params["zoom"]) * side
            start = shapes.offset_point(pts[i], head[i] + math.pi / 2, off)
            length = total * rng.uniform(0.08, 0.3)
            if length < 8:
                continue
            ang = head[i] + rng.normal(0.0, 0.25)
            start = shapes.offset_point(start, ang + math.pi, 0.5 * length)
            base = max(0.6, params["width"] * rng.uniform(0.3, 0.65))
            spts = _walk(rng, start, ang, length, params, "jagged" not in disable,
                         params["zoom"], base)
            ss_ = shapes.arc_length(spts)
            sw = _widths(rng, ss_, base, params, disable, params["zoom"], taper_start=True)
            out.append((spts, sw))

    def _spalls(self, rng, stroke, params) -> list[np.ndarray]:
        pts, wid = stroke
        s = shapes.arc_length(pts)
        n = int(rng.poisson(params["spall_rate"] * float(s[-1]) / 100.0))
        head = shapes.headings(pts)
        polys = []
        for _ in range(min(n, 40)):
            i = int(rng.integers(0, len(pts)))
            if wid[i] < 1.0:
                continue
            side = 1.0 if rng.random() < 0.5 else -1.0
            r = wid[i] * rng.uniform(0.4, 1.1) + rng.uniform(0.3, 1.2) * params["zoom"]
            centre = shapes.offset_point(pts[i], head[i] + math.pi / 2,
                                         side * (0.5 * wid[i] + 0.2 * r))
            polys.append(shapes.radial_blob(rng, tuple(centre), r, aspect=rng.uniform(0.35, 0.8),
                                            angle=head[i], irregularity=0.35, n=14,
                                            harmonics=3))
        return polys

    # ---------------------------------------------------------------- appearance
    def render(
        self, params: Mapping[str, Any], size: tuple[int, int], disable: frozenset[str]
    ) -> DefectRender | None:
        """Render coverage and darkening of one crack (see the module docstring)."""
        strokes, spalls, rngs = self.geometry(params, disable)
        margin = 3 + int(2 * params["width"]) if params["halo"] > 0 else 2
        region = bounding_region(strokes, spalls, size, margin=margin)
        if region is None:
            return None
        # The label covers strokes and spalls together; the core uses the strokes only.
        cov, lines = coverage_layers(strokes, spalls, region)
        if not cov.any():
            return None
        zoom = params["zoom"]
        d = np.float32(params["darkness"])
        rim = 1.0 if "rims" in disable else params["rim_ratio"]
        if rim < 1.0:
            # Core: a blur of the coverage stays near 1 only well inside the crack.
            sigma = max(0.4, 0.5 * params["core_fraction"] * params["width"])
            inner = cv2.GaussianBlur(lines, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
            core = lines * smoothstep(0.45, 0.9, inner)
            dark = d * (np.float32(rim) * lines + np.float32(1.0 - rim) * core)
            if spalls:  # chipped edges are shallow: lighter than the crack itself
                dark += d * np.float32(params["spall_depth"]) * (cov - lines)
        else:
            dark = d * cov
        rh, rw = region.shape
        if "fading" not in disable and params["fade"] > 0:
            rng = rngs["fade"]
            f = smooth_noise(rng, rh, rw, rng.uniform(30.0, 90.0) * zoom)
            dark *= np.float32(1.0) - np.float32(params["fade"]) * smoothstep(-1.0, 1.0, f)
        offset = None
        if "dust" not in disable and params["dust"] > 0:
            rng = rngs["dust"]
            m = smoothstep(0.0, 1.2, smooth_noise(rng, rh, rw, rng.uniform(5.0, 20.0) * zoom))
            dark *= np.float32(1.0) - np.float32(params["dust"]) * m
            specks = smoothstep(1.2, 2.2, grain(rng, rh, rw, 0.7 * zoom)) * m * cov
            offset = specks * np.float32(rng.uniform(15.0, 40.0))
        if "rims" not in disable and params["halo"] > 0:
            ring = halo(cov, 0.6 + 0.5 * params["width"]) * np.float32(params["halo"])
            offset = ring if offset is None else offset + ring
        return DefectRender(region=region, coverage=cov, darkness=dark,
                            tint=tuple(params["tint"]), offset=offset,
                            offset_tint=(0.85, 0.97, 1.12))  # sandy dust (BGR)
