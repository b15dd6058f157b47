"""Geometry of defects and distractors: paths, width profiles and outlines.

All functions return plain numpy arrays in image pixel coordinates (x to the right,
y down, float64). Nothing is rasterised here; see :mod:`synthetic.raster`.

A *stroke* is a tuple ``(points, widths)``: ``points`` is an ``(N, 2)`` polyline and
``widths`` an ``(N,)`` array of full widths in pixels at those points.
"""

from __future__ import annotations

import math

import numpy as np

from .noise import noise_1d

Stroke = tuple[np.ndarray, np.ndarray]


def momentum_walk(
    rng: np.random.Generator,
    start: tuple[float, float],
    angle: float,
    length: float,
    step: float,
    turn_sigma: float,
    momentum: float,
    straightness: float,
) -> np.ndarray:
    """Coarse random walk whose heading changes with inertia.

    The angular velocity is an AR(1) process (``omega = momentum * omega + (1 -
    momentum) * noise``) and the heading is pulled back towards the initial direction
    with strength ``straightness``, so long cracks keep a dominant direction while
    meandering.

    Args:
        rng: Random generator.
        start: Start point (x, y) in pixels.
        angle: Initial heading in radians (0 = +x).
        length: Total path length in pixels.
        step: Length of one coarse step in pixels.
        turn_sigma: Std of the heading noise per step in radians.
        momentum: Inertia of the angular velocity in [0, 1).
        straightness: Pull towards the initial heading per step in [0, 1].

    Returns:
        ``(n + 1, 2)`` float64 vertices.
    """
    n = max(2, int(math.ceil(length / max(step, 1e-3))))
    step = length / n
    noise = rng.normal(0.0, turn_sigma, n)
    headings = np.empty(n)
    theta = angle
    omega = 0.0
    for k in range(n):
        omega = momentum * omega + (1.0 - momentum) * noise[k]
        theta = theta + omega - straightness * (theta - angle)
        headings[k] = theta
    d = np.stack([np.cos(headings), np.sin(headings)], axis=1) * step
    pts = np.empty((n + 1, 2))
    pts[0] = start
    pts[1:] = np.asarray(start) + np.cumsum(d, axis=0)
    return pts


def fractal_subdivide(
    rng: np.random.Generator,
    pts: np.ndarray,
    roughness: float,
    min_segment: float,
    max_levels: int = 8,
    hurst: float = 1.0,
    reference: float = 4.0,
) -> np.ndarray:
    """Midpoint-displacement refinement of a polyline (self-affine jaggedness).

    Every level inserts the midpoint of each segment displaced perpendicular to it by
    ``N(0, roughness * L * (L / reference) ** (hurst - 1))`` for a segment of length
    ``L``, until the mean segment is shorter than ``min_segment``. ``hurst = 1`` is
    self-similar; ``hurst < 1`` (real fracture profiles: ~0.6-0.8) makes the path
    relatively rougher at small scales and smoother at large ones.

    Args:
        rng: Random generator.
        pts: ``(N, 2)`` polyline.
        roughness: Relative perpendicular displacement at segment length ``reference``
            (0 = straight refinement).
        min_segment: Target mean segment length in pixels.
        max_levels: Upper bound on subdivision levels.
        hurst: Hurst exponent of the roughness.
        reference: Segment length in pixels at which ``roughness`` applies.

    Returns:
        Refined ``(M, 2)`` polyline that starts and ends at the same points.
    """
    pts = np.asarray(pts, dtype=np.float64)
    for _ in range(max_levels):
        seg = pts[1:] - pts[:-1]
        seg_len = np.hypot(seg[:, 0], seg[:, 1])
        if seg_len.size == 0 or float(seg_len.mean()) <= min_segment:
            break
        normal = np.stack([-seg[:, 1], seg[:, 0]], axis=1) / np.maximum(seg_len, 1e-9)[:, None]
        rel = roughness * (np.maximum(seg_len, 1e-6) / reference) ** (hurst - 1.0)
        disp = rng.normal(0.0, 1.0, seg_len.size) * rel * seg_len
        mids = (pts[1:] + pts[:-1]) * 0.5 + normal * disp[:, None]
        out = np.empty((pts.shape[0] + mids.shape[0], 2))
        out[0::2] = pts
        out[1::2] = mids
        pts = out
    return pts


def arc_length(pts: np.ndarray) -> np.ndarray:
    """Cumulative arc length (pixels) at each vertex of a polyline, starting at 0."""
    seg = np.diff(pts, axis=0)
    return np.concatenate([[0.0], np.cumsum(np.hypot(seg[:, 0], seg[:, 1]))])


def headings(pts: np.ndarray) -> np.ndarray:
    """Local heading (radians) at each vertex, from central differences."""
    g = np.gradient(pts, axis=0) if pts.shape[0] > 1 else np.zeros_like(pts)
    return np.arctan2(g[:, 1], g[:, 0])


def width_profile(
    rng: np.random.Generator,
    s: np.ndarray,
    base_width: float,
    variation: float = 0.0,
    wavelength: float = 40.0,
    jitter: float = 0.0,
    taper_start: float = 0.0,
    taper_end: float = 0.0,
    taper_power: float = 1.0,
    min_width: float = 0.0,
) -> np.ndarray:
    """Width along a path: smooth variation, per-vertex jitter and tapered tips.

    Args:
        rng: Random generator.
        s: Arc length at each vertex (pixels), from :func:`arc_length`.
        base_width: Mean full width in pixels.
        variation: Relative amplitude of the slow variation (0 = constant width).
        wavelength: Wavelength of the slow variation in pixels.
        jitter: Relative std of independent per-vertex variation (jagged edges).
        taper_start: Length in pixels over which the start tip narrows to zero.
        taper_end: Length in pixels over which the end tip narrows to zero.
        taper_power: Exponent of the taper (1 = linear, <1 = blunt, >1 = sharp).
        min_width: Lower clamp of the result in pixels (before tapering).

    Returns:
        ``(N,)`` float64 widths in pixels, non-negative.
    """
    w = np.full(s.shape, float(base_width))
    # Both noises are always drawn, so that switching one off (amplitude 0) leaves the
    # random numbers used afterwards unchanged.
    slow = noise_1d(rng, s, wavelength)
    fast = rng.standard_normal(s.shape)
    if variation > 0:
        # Log-normal variation, clipped so that no stretch bulges beyond 1.8x the base.
        w *= np.clip(np.exp(variation * slow - 0.5 * variation * variation), 0.35, 1.8)
    if jitter > 0:
        w *= np.clip(1.0 + jitter * fast, 0.2, 2.0)
    w = np.maximum(w, min_width)
    total = float(s[-1]) if s.size else 0.0
    if taper_start > 0:
        w *= np.clip(s / taper_start, 0.0, 1.0) ** taper_power
    if taper_end > 0:
        w *= np.clip((total - s) / taper_end, 0.0, 1.0) ** taper_power
    return w


def offset_point(p: np.ndarray, angle: float, dist: float) -> np.ndarray:
    """Point ``dist`` pixels from ``p`` in direction ``angle`` (radians)."""
    return np.asarray(p, dtype=np.float64) + dist * np.array([math.cos(angle), math.sin(angle)])


def radial_blob(
    rng: np.random.Generator,
    center: tuple[float, float],
    radius: float,
    aspect: float = 1.0,
    angle: float = 0.0,
    irregularity: float = 0.2,
    n: int = 32,
    harmonics: int = 5,
) -> np.ndarray:
    """Closed irregular outline: an ellipse whose radius is modulated by random harmonics.

    Args:
        rng: Random generator.
        center: Centre (x, y) in pixels.
        radius: Mean radius along the major axis in pixels.
        aspect: Minor/major axis ratio in (0, 1].
        angle: Orientation of the major axis in radians.
        irregularity: Relative amplitude of the radial modulation.
        n: Number of outline vertices.
        harmonics: Number of random Fourier harmonics of the modulation.

    Returns:
        ``(n, 2)`` float64 outline vertices.
    """
    t = np.linspace(0.0, 2.0 * math.pi, n, endpoint=False)
    r = np.ones(n)
    if irregularity > 0:
        for k in range(2, 2 + harmonics):
            amp = irregularity * rng.normal() / k
            r += amp * np.cos(k * t + rng.uniform(0, 2 * math.pi))
    r = np.clip(r, 0.3, 2.0) * radius
    x = r * np.cos(t)
    y = r * np.sin(t) * aspect
    ca, sa = math.cos(angle), math.sin(angle)
    return np.stack([center[0] + ca * x - sa * y, center[1] + sa * x + ca * y], axis=1)


def smooth_curve(
    rng: np.random.Generator,
    start: tuple[float, float],
    angle: float,
    length: float,
    bend: float,
    wiggle: float = 0.0,
    step: float = 2.0,
) -> np.ndarray:
    """Smooth curve (hair, wire, scratch): a circular-ish arc with gentle wiggle.

    Args:
        rng: Random generator.
        start: Start point (x, y) in pixels.
        angle: Initial heading in radians.
        length: Curve length in pixels.
        bend: Total turning angle over the curve in radians (signed).
        wiggle: Amplitude of an additional smooth heading wobble in radians.
        step: Vertex spacing in pixels.

    Returns:
        ``(N, 2)`` float64 vertices.
    """
    n = max(2, int(length / step))
    s = np.linspace(0.0, length, n + 1)
    heading = angle + bend * s / max(length, 1e-6)
    if wiggle > 0:
        heading = heading + wiggle * noise_1d(rng, s, max(length / 3.0, 5.0))
    d = np.stack([np.cos(heading[:-1]), np.sin(heading[:-1])], axis=1) * (length / n)
    pts = np.empty((n + 1, 2))
    pts[0] = start
    pts[1:] = np.asarray(start) + np.cumsum(d, axis=0)
    return pts


def clip_box(strokes: list[Stroke], margin: float = 0.0) -> tuple[float, float, float, float]:
    """Bounding box ``(x0, y0, x1, y1)`` of strokes including half their widths."""
    xs0, ys0, xs1, ys1 = [], [], [], []
    for pts, wid in strokes:
        half = 0.5 * wid + margin
        xs0.append(float(np.min(pts[:, 0] - half)))
        ys0.append(float(np.min(pts[:, 1] - half)))
        xs1.append(float(np.max(pts[:, 0] + half)))
        ys1.append(float(np.max(pts[:, 1] + half)))
    return min(xs0), min(ys0), max(xs1), max(ys1)
