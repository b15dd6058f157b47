"""Crack-like distractors: structures that resemble defects but are labelled background.

They teach a model what *not* to segment: saw-cut joints and grout lines, fine
scratch marks, material edges and borders, hairs and fibres, shadows of thin objects
(poles, wires, twigs), worn paint lines and sealed (tar-filled) cracks. All are drawn
into the image before the defects, never into the mask.

Every kind is a function ``fn(rng, image, zoom, material) -> params`` that modifies the
planar float32 BGR image (3, H, W) in place. The switch ``distractors`` turns them all
off; a defect type
suppresses the kinds listed in its ``conflicting_distractors``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import cv2
import numpy as np

from . import shapes
from .noise import fbm, smoothstep
from .raster import bounding_region, coverage
from .sampling import chance, weighted_choice

DistractorFn = Callable[[np.random.Generator, np.ndarray, float, str], dict[str, Any]]
DISTRACTORS: dict[str, DistractorFn] = {}


def _kind(name: str) -> Callable[[DistractorFn], DistractorFn]:
    def deco(fn: DistractorFn) -> DistractorFn:
        DISTRACTORS[name] = fn
        return fn
    return deco


def _line_through(rng: np.random.Generator, h: int, w: int, angle: float,
                  step: float = 4.0) -> np.ndarray:
    """Straight polyline through a random interior point, spanning the whole image."""
    c = np.array([rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.9) * h])
    d = np.array([math.cos(angle), math.sin(angle)])
    half = math.hypot(h, w)
    n = max(2, int(2 * half / step))
    t = np.linspace(-half, half, n)
    return c + t[:, None] * d


def _blend(img: np.ndarray, region, alpha: np.ndarray, colour) -> None:
    """``img = img * (1 - alpha) + colour * alpha`` inside ``region`` (in place)."""
    view = img[region.planes]
    a = alpha[None]
    view *= np.float32(1.0) - a
    view += a * np.asarray(colour, np.float32).reshape(-1, 1, 1)


def _darken(img: np.ndarray, region, amount: np.ndarray) -> None:
    """Multiply by ``1 - amount`` inside ``region`` (in place)."""
    img[region.planes] *= (np.float32(1.0) - amount)[None]


@_kind("joint")
def joint(rng, img, zoom, material):
    """Saw-cut / expansion joint or a tile grout grid: straight dark grooves."""
    h, w = img.shape[1:]
    if material == "ceramic":
        # Grout grid: lines every `pitch` px in two directions, grout colour blend.
        pitch = rng.uniform(90.0, 260.0) * zoom
        width = rng.uniform(2.0, 7.0) * zoom
        ang = rng.normal(0.0, 0.03)
        grout = np.full(3, rng.uniform(60.0, 200.0), np.float32) * rng.uniform(0.9, 1.1, 3)
        strokes = []
        for a in (ang, ang + math.pi / 2):
            d = np.array([math.cos(a), math.sin(a)])
            nrm = np.array([-d[1], d[0]])
            off = rng.uniform(0, pitch)
            span = math.hypot(h, w)
            for k in range(-int(span / pitch) - 1, int(span / pitch) + 2):
                c = np.array([w / 2, h / 2]) + nrm * (k * pitch + off)
                pts = c + np.linspace(-span, span, 2)[:, None] * d
                strokes.append((pts, np.full(2, width)))
        strokes = [s for s in strokes if bounding_region([s], [], (h, w)) is not None]
        region = bounding_region(strokes, [], (h, w), margin=2)
        if region is None:
            return {"grid": True, "lines": 0}
        cov = coverage(strokes, [], region, ss=2)
        cov = cv2.GaussianBlur(cov, (0, 0), 0.6)
        _blend(img, region, cov * np.float32(0.9), grout)
        return {"grid": True, "pitch": pitch, "width": width, "lines": len(strokes)}
    angle = rng.choice([0.0, math.pi / 2]) + rng.normal(0.0, 0.1) if chance(rng, 0.7) \
        else rng.uniform(0, math.pi)
    width = rng.uniform(3.0, 12.0) * zoom
    pts = _line_through(rng, h, w, float(angle))
    stroke = (pts, np.full(len(pts), width))
    region = bounding_region([stroke], [], (h, w), margin=int(4 * zoom) + 3)
    if region is None:
        return {"width": width}
    cov = coverage([stroke], [], region, ss=2)
    depth = rng.uniform(0.25, 0.6)
    soft = cv2.GaussianBlur(cov, (0, 0), rng.uniform(0.5, 1.5) * zoom)
    lip = np.clip(cv2.GaussianBlur(cov, (0, 0), 1.5 * zoom) - cov, 0, None)
    _darken(img, region, soft * np.float32(depth))
    img[region.planes] += (lip * np.float32(rng.uniform(0.0, 25.0)))[None]
    return {"width": width, "angle": float(angle), "depth": depth}


@_kind("scratch_marks")
def scratch_marks(rng, img, zoom, material):
    """A family of fine, short, faint, nearly parallel scratches (bright or dark)."""
    h, w = img.shape[1:]
    n = int(rng.integers(3, 14))
    base = rng.uniform(0, math.pi)
    strokes = []
    for _ in range(n):
        start = (rng.uniform(0, w), rng.uniform(0, h))
        pts = shapes.smooth_curve(rng, start, base + rng.normal(0, 0.15),
                                  rng.uniform(10.0, 120.0) * zoom, rng.normal(0, 0.2), 0.0)
        strokes.append((pts, np.full(len(pts), rng.uniform(0.4, 1.1) * zoom)))
    region = bounding_region(strokes, [], (h, w), margin=2)
    if region is None:
        return {"n": n}
    cov = coverage(strokes, [], region, ss=2)
    amp = rng.uniform(6.0, 25.0) * (1.0 if chance(rng, 0.6) else -1.0)
    img[region.planes] += (cov * np.float32(amp))[None]
    return {"n": n, "amplitude": amp}


@_kind("edge")
def edge(rng, img, zoom, material):
    """Material boundary: a patch, kerb or object border with a different tone."""
    h, w = img.shape[1:]
    ang = rng.uniform(0, 2 * math.pi)
    c = (rng.uniform(0.15, 0.85) * w, rng.uniform(0.15, 0.85) * h)
    xs = (np.arange(w, dtype=np.float32) - np.float32(c[0])) * np.float32(math.cos(ang))
    ys = (np.arange(h, dtype=np.float32) - np.float32(c[1])) * np.float32(math.sin(ang))
    dist = ys[:, None] + xs[None, :]  # signed distance to the (straight) boundary
    wobble = rng.uniform(0.0, 4.0) * zoom
    if wobble > 0:
        dist += np.float32(wobble) * fbm(rng, h, w, 60.0 * zoom, 2)
    side = smoothstep(-0.7 * zoom, 0.7 * zoom, dist)
    # Part borders (dark background beyond the edge) are typical of industrial parts;
    # on pavements an edge is mostly a patch or kerb with a different tone.
    border = chance(rng, 0.5 if material in ("machined_metal", "painted_metal") else 0.1)
    factor = rng.uniform(0.1, 0.4) if border else rng.uniform(0.7, 1.3)
    # A thin darker seam along the boundary (a triangular profile 2 * 0.8 zoom wide).
    seam = np.clip(np.float32(1.0) - np.abs(dist) / np.float32(max(0.8 * zoom, 0.5)), 0.0, 1.0)
    gain = np.float32(1.0) + side * np.float32(factor - 1.0)
    gain *= np.float32(1.0) - seam * np.float32(rng.uniform(0.0, 0.3))
    img *= gain[None]
    return {"border": border, "factor": factor}


@_kind("hair")
def hair(rng, img, zoom, material):
    """Hairs, fibres or grass blades lying on the surface: thin smooth curves."""
    h, w = img.shape[1:]
    n = int(rng.integers(1, 4))
    strokes = []
    for _ in range(n):
        start = (rng.uniform(0, w), rng.uniform(0, h))
        length = rng.uniform(30.0, 220.0) * zoom
        pts = shapes.smooth_curve(rng, start, rng.uniform(-math.pi, math.pi), length,
                                  rng.uniform(-2.5, 2.5), rng.uniform(0.0, 0.4))
        s = shapes.arc_length(pts)
        wid = shapes.width_profile(rng, s, rng.uniform(0.4, 1.1) * zoom, taper_end=0.3 * length)
        strokes.append((pts, wid))
    region = bounding_region(strokes, [], (h, w), margin=2)
    if region is None:
        return {"n": n}
    cov = coverage(strokes, [], region, ss=2)
    if chance(rng, 0.3):
        _blend(img, region, cov * np.float32(rng.uniform(0.3, 0.7)), np.full(3, 215.0))
        light = True
    else:
        _darken(img, region, cov * np.float32(rng.uniform(0.15, 0.5)))
        light = False
    return {"n": n, "light": light}


@_kind("object_shadow")
def object_shadow(rng, img, zoom, material):
    """Soft shadow of a thin object (pole, wire, twig with side branches)."""
    h, w = img.shape[1:]
    width = rng.uniform(2.0, 18.0) * zoom
    pts = shapes.smooth_curve(rng, (rng.uniform(0, w), rng.uniform(0, h)),
                              rng.uniform(-math.pi, math.pi), rng.uniform(0.4, 1.2) * (h + w),
                              rng.uniform(-0.6, 0.6), rng.uniform(0.0, 0.15), step=4.0)
    pts = pts - (pts[len(pts) // 2] - np.array([rng.uniform(0, w), rng.uniform(0, h)]))
    strokes: list[shapes.Stroke] = [(pts, np.full(len(pts), width))]
    twig = chance(rng, 0.4)
    if twig:
        head = shapes.headings(pts)
        for _ in range(int(rng.integers(1, 4))):
            i = int(rng.integers(0, len(pts)))
            a = head[i] + rng.choice([-1.0, 1.0]) * rng.uniform(0.3, 1.0)
            bp = shapes.smooth_curve(rng, tuple(pts[i]), a, rng.uniform(20, 120) * zoom,
                                     rng.uniform(-0.5, 0.5), 0.1, step=3.0)
            strokes.append((bp, np.linspace(width * 0.6, width * 0.2, len(bp))))
    blur = rng.uniform(0.8, 5.0) * zoom
    region = bounding_region(strokes, [], (h, w), margin=int(3 * blur) + 2)
    if region is None:
        return {"width": width}
    cov = coverage(strokes, [], region, ss=2)
    cov = cv2.GaussianBlur(cov, (0, 0), blur)
    depth = rng.uniform(0.15, 0.5)
    _darken(img, region, cov * np.float32(depth))
    return {"width": width, "blur": blur, "depth": depth, "twig": twig}


@_kind("paint_line")
def paint_line(rng, img, zoom, material):
    """Worn road marking or painted line: a wide bright band with worn patches."""
    h, w = img.shape[1:]
    width = rng.uniform(15.0, 60.0) * zoom
    pts = _line_through(rng, h, w, rng.uniform(0, math.pi), step=8.0)
    stroke = (pts, np.full(len(pts), width))
    region = bounding_region([stroke], [], (h, w), margin=2)
    if region is None:
        return {"width": width}
    cov = coverage([stroke], [], region, ss=2)
    rh, rw = region.shape
    wear = smoothstep(-0.8, 0.6, fbm(rng, rh, rw, 25.0 * zoom, 3))
    colour = (225.0, 228.0, 230.0) if chance(rng, 0.6) else (70.0, 195.0, 225.0)
    _blend(img, region, cov * wear * np.float32(rng.uniform(0.5, 0.9)), colour)
    return {"width": width, "colour": list(colour)}


@_kind("sealant")
def sealant(rng, img, zoom, material):
    """Sealed (tar-filled) crack: a wide, smooth-edged, dark meandering band."""
    h, w = img.shape[1:]
    angle = rng.uniform(-math.pi, math.pi)
    c = np.array([rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h])
    length = 1.3 * math.hypot(h, w)
    start = c - 0.5 * length * np.array([math.cos(angle), math.sin(angle)])
    pts = shapes.momentum_walk(rng, tuple(start), angle, length, 30.0 * zoom, 0.3, 0.6, 0.1)
    pts = shapes.fractal_subdivide(rng, pts, 0.05, 3.0)
    width = rng.uniform(6.0, 22.0) * zoom
    s = shapes.arc_length(pts)
    wid = shapes.width_profile(rng, s, width, variation=0.2, wavelength=80.0 * zoom)
    region = bounding_region([(pts, wid)], [], (h, w), margin=3)
    if region is None:
        return {"width": width}
    cov = coverage([(pts, wid)], [], region, ss=2)
    cov = cv2.GaussianBlur(cov, (0, 0), 0.8 * zoom)
    _blend(img, region, cov * np.float32(rng.uniform(0.5, 0.85)), np.full(3, rng.uniform(25, 60)))
    return {"width": width}


def draw_distractors(
    rng: np.random.Generator,
    img: np.ndarray,
    zoom: float,
    material: str,
    weights: Mapping[str, float],
    count: tuple[int, int],
    excluded: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """Draw a random number of distractors into ``img`` (in place).

    Args:
        rng: The image's generator for distractors.
        img: Planar float32 BGR image (3, h, w).
        zoom: Scale factor of widths (1 = nominal).
        material: Surface material (joints become a grout grid on ceramic).
        weights: Relative frequency of each kind (keys of :data:`DISTRACTORS`).
        count: Inclusive range of the number of distractors.
        excluded: Kinds not to draw (they resemble a requested defect type).

    Returns:
        Parameters of each drawn distractor, with its ``kind``.
    """
    allowed = {k: v for k, v in weights.items() if k not in excluded and v > 0}
    n = int(rng.integers(count[0], count[1] + 1))
    out = []
    if not allowed:
        return out
    for _ in range(n):
        kind = weighted_choice(rng, allowed)
        params = DISTRACTORS[kind](rng, img, zoom, material)
        params["kind"] = kind
        out.append(params)
    return out


def check_weights(weights: Mapping[str, float]) -> None:
    """Raise KeyError if ``weights`` names an unknown distractor kind."""
    for k in weights:
        if k not in DISTRACTORS:
            raise KeyError(f"unknown distractor kind {k!r}; available: {', '.join(DISTRACTORS)}")
