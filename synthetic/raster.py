"""Exact supersampled rasterisation of strokes and polygons into area-coverage maps.

The labeling rule of the generator lives here. Geometry is point-sampled on an
``ss x ss`` grid of sub-pixel centres per output pixel (default ``ss = 4``, i.e. 16
samples), so ``coverage[y, x]`` is the fraction of output pixel (x, y) covered by the
geometry, in steps of ``1 / ss**2``. A pixel is labelled as defect when
``coverage >= 0.5``; the same coverage drives the anti-aliased appearance change of
the image, so image and mask agree.

Geometry is exact, not approximated by OpenCV's integer-vertex drawing:

* a stroke segment is a *capsule*: all points within ``w / 2`` of the segment (its
  width ``w`` is the mean of the widths at its two vertices), so a polyline is the
  union of round-joined capsules;
* a polygon must be star-shaped around the mean of its vertices (true for the blob,
  spall and chip outlines used here); it is filled as a fan of triangles.

Every shape is converted to horizontal spans on sub-pixel rows; overlapping spans are
merged (union) and counted per output pixel, touching only the spans, never a full
supersampled canvas.

Coordinates follow OpenCV: the centre of pixel (col j, row i) is at (x, y) = (j, i), and
the pixel covers [j - 0.5, j + 0.5) x [i - 0.5, i + 0.5).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .shapes import Stroke

SUPERSAMPLE = 4


@dataclass(frozen=True)
class Region:
    """Axis-aligned pixel window ``[y0, y1) x [x0, x1)`` of an image."""

    y0: int
    x0: int
    y1: int
    x1: int

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) of the window in pixels."""
        return self.y1 - self.y0, self.x1 - self.x0

    @property
    def slices(self) -> tuple[slice, slice]:
        """Numpy slices selecting the window of an (H, W) array."""
        return slice(self.y0, self.y1), slice(self.x0, self.x1)

    @property
    def planes(self) -> tuple[slice, slice, slice]:
        """Numpy slices selecting the window of a planar (C, H, W) image."""
        return slice(None), slice(self.y0, self.y1), slice(self.x0, self.x1)

    def expand(self, margin: int, shape: tuple[int, int]) -> Region:
        """Window grown by ``margin`` pixels on every side, clipped to ``shape`` (h, w)."""
        return Region(
            max(0, self.y0 - margin),
            max(0, self.x0 - margin),
            min(shape[0], self.y1 + margin),
            min(shape[1], self.x1 + margin),
        )


def bounding_region(
    strokes: Sequence[Stroke],
    polygons: Sequence[np.ndarray],
    shape: tuple[int, int],
    margin: float = 2.0,
) -> Region | None:
    """Pixel window containing all strokes (with their widths) and polygons.

    Args:
        strokes: ``(points, widths)`` pairs.
        polygons: ``(N, 2)`` outlines.
        shape: Image (height, width).
        margin: Extra pixels on every side.

    Returns:
        The window clipped to the image, or None if nothing lies inside the image.
    """
    xs0, ys0, xs1, ys1 = [], [], [], []
    for pts, wid in strokes:
        if len(pts) == 0:
            continue
        half = 0.5 * float(np.max(wid)) if len(wid) else 0.0
        xs0.append(pts[:, 0].min() - half)
        ys0.append(pts[:, 1].min() - half)
        xs1.append(pts[:, 0].max() + half)
        ys1.append(pts[:, 1].max() + half)
    for poly in polygons:
        if len(poly) == 0:
            continue
        xs0.append(poly[:, 0].min())
        ys0.append(poly[:, 1].min())
        xs1.append(poly[:, 0].max())
        ys1.append(poly[:, 1].max())
    if not xs0:
        return None
    h, w = shape
    x0 = max(0, int(np.floor(min(xs0) - margin)))
    y0 = max(0, int(np.floor(min(ys0) - margin)))
    x1 = min(w, int(np.ceil(max(xs1) + margin)) + 1)
    y1 = min(h, int(np.ceil(max(ys1) + margin)) + 1)
    if x1 <= x0 or y1 <= y0:
        return None
    return Region(y0, x0, y1, x1)


def _expand_rows(lo: np.ndarray, hi: np.ndarray, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """(shape index, sub-pixel row) pairs for integer row ranges ``[lo, hi]`` per shape."""
    lo = np.maximum(lo, 0)
    hi = np.minimum(hi, n_rows - 1)
    counts = np.maximum(hi - lo + 1, 0)
    total = int(counts.sum())
    if total == 0:
        empty = np.zeros(0, np.int64)
        return empty, empty
    idx = np.repeat(np.arange(lo.size), counts)
    starts = np.cumsum(counts) - counts
    rows = lo[idx] + (np.arange(total) - starts[idx])
    return idx, rows


def _edge_crossings(
    px: np.ndarray, py: np.ndarray, qx: np.ndarray, qy: np.ndarray, y: np.ndarray,
    xl: np.ndarray, xr: np.ndarray,
) -> None:
    """Update spans ``[xl, xr]`` with where the row ``y`` crosses edges P->Q (in place)."""
    dy = qy - py
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (y - py) / dy
    ok = (t >= 0.0) & (t <= 1.0) & (dy != 0)
    x = px + t * (qx - px)
    np.fmin(xl, np.where(ok, x, np.inf), out=xl)
    np.fmax(xr, np.where(ok, x, -np.inf), out=xr)


def _capsule_spans(
    a: np.ndarray, b: np.ndarray, r: np.ndarray, n_rows: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spans of capsules (segment a-b, radius r), all in canvas units."""
    lo = np.ceil(np.minimum(a[:, 1], b[:, 1]) - r).astype(np.int64)
    hi = np.floor(np.maximum(a[:, 1], b[:, 1]) + r).astype(np.int64)
    idx, rows = _expand_rows(lo, hi, n_rows)
    if idx.size == 0:
        return rows, np.zeros(0), np.zeros(0)
    y = rows.astype(np.float64)
    ax, ay, bx, by, rr = a[idx, 0], a[idx, 1], b[idx, 0], b[idx, 1], r[idx]
    r2 = rr * rr
    xl = np.full(y.shape, np.inf)
    xr = np.full(y.shape, -np.inf)
    for cx, cy in ((ax, ay), (bx, by)):
        d2 = r2 - (y - cy) ** 2
        ok = d2 >= 0.0
        half = np.sqrt(np.where(ok, d2, 0.0))
        np.fmin(xl, np.where(ok, cx - half, np.inf), out=xl)
        np.fmax(xr, np.where(ok, cx + half, -np.inf), out=xr)
    # Rectangle between the two end discs: |(P - A) . n| <= r and 0 <= (P - A) . d <= L,
    # with d and n the unit direction and normal. On a row both are linear in x, so
    # each gives an x interval (or everything / nothing when its x coefficient is 0).
    dx, dyy = bx - ax, by - ay
    length = np.hypot(dx, dyy)
    valid = length > 1e-9
    inv = 1.0 / np.where(valid, length, 1.0)
    ux, uy = dx * inv, dyy * inv  # direction d
    u0 = y - ay
    lo = np.where(valid, -np.inf, np.inf)
    hi = np.where(valid, np.inf, -np.inf)
    for cx_, cy_, c_lo, c_hi in ((-uy, ux, -rr, rr), (ux, uy, 0.0, length)):
        # c_lo <= (x - ax) * cx_ + u0 * cy_ <= c_hi
        off = u0 * cy_
        steep = np.abs(cx_) > 1e-12
        safe = np.where(steep, cx_, 1.0)
        e1 = ax + (c_lo - off) / safe
        e2 = ax + (c_hi - off) / safe
        inside = (off >= c_lo) & (off <= c_hi)
        lo_k = np.where(steep, np.minimum(e1, e2), np.where(inside, -np.inf, np.inf))
        hi_k = np.where(steep, np.maximum(e1, e2), np.where(inside, np.inf, -np.inf))
        np.maximum(lo, lo_k, out=lo)
        np.minimum(hi, hi_k, out=hi)
    ok = lo <= hi
    np.fmin(xl, np.where(ok, lo, np.inf), out=xl)
    np.fmax(xr, np.where(ok, hi, -np.inf), out=xr)
    return rows, xl, xr


def _triangle_spans(
    tri: np.ndarray, n_rows: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spans of triangles ``tri`` of shape (T, 3, 2) in canvas units."""
    lo = np.ceil(tri[:, :, 1].min(axis=1)).astype(np.int64)
    hi = np.floor(tri[:, :, 1].max(axis=1)).astype(np.int64)
    idx, rows = _expand_rows(lo, hi, n_rows)
    if idx.size == 0:
        return rows, np.zeros(0), np.zeros(0)
    y = rows.astype(np.float64)
    xl = np.full(y.shape, np.inf)
    xr = np.full(y.shape, -np.inf)
    t = tri[idx]
    for k in range(3):
        p, q = t[:, k], t[:, (k + 1) % 3]
        _edge_crossings(p[:, 0], p[:, 1], q[:, 0], q[:, 1], y, xl, xr)
    return rows, xl, xr


def _accumulate(
    rows: np.ndarray, xl: np.ndarray, xr: np.ndarray, shape: tuple[int, int], ss: int
) -> np.ndarray:
    """Union of sub-pixel spans counted per output pixel (uint8, 0 .. ss**2)."""
    h, w = shape
    wc = w * ss
    a = np.ceil(xl - 1e-9)
    b = np.floor(xr + 1e-9)
    a = np.clip(a, 0, wc).astype(np.int64)
    b = np.clip(b, -1, wc - 1).astype(np.int64)
    keep = a <= b
    rows, a, b = rows[keep], a[keep], b[keep]
    if rows.size == 0:
        return np.zeros((h, w), np.uint8)
    # Merge overlapping spans per sub-pixel row (union): sort by (row, start), offset
    # every row so that one global running maximum separates rows.
    big = wc + 2
    left = rows * big + a
    right = rows * big + b
    order = np.argsort(left, kind="stable")
    left, right = left[order], right[order]
    run_max = np.maximum.accumulate(right)
    new = np.empty(left.size, bool)
    new[0] = True
    new[1:] = left[1:] > run_max[:-1]
    first = np.flatnonzero(new)
    m_left = left[first]
    m_right = np.maximum.reduceat(right, first)
    m_row = m_left // big
    m_a = m_left - m_row * big
    m_b = m_right - m_row * big
    # Count covered sub-pixels per output pixel. A span [a, b] on a sub-pixel row adds
    # partial counts to its first and last output pixel and ss to every pixel between
    # (the latter through a difference array along the row).
    r = m_row // ss
    ja, jb = m_a // ss, m_b // ss
    same = ja == jb
    first = np.where(same, m_b - m_a + 1, ss - (m_a - ja * ss))
    last = m_b - jb * ss + 1
    counts = np.zeros(h * w, np.int32)
    np.add.at(counts, r * w + ja, first.astype(np.int32))
    np.add.at(counts, (r * w + jb)[~same], last[~same].astype(np.int32))
    counts = counts.reshape(h, w)
    inner = jb > ja + 1
    if inner.any():
        ri, a1, b1 = r[inner], ja[inner] + 1, jb[inner]
        diff = np.zeros(h * (w + 1), np.int32)
        np.add.at(diff, ri * (w + 1) + a1, ss)
        np.add.at(diff, ri * (w + 1) + b1, -ss)
        counts += np.cumsum(diff.reshape(h, w + 1)[:, :w], axis=1, dtype=np.int32)
    return counts.astype(np.uint8)


def _stroke_spans(strokes, to_canvas, width_scale, ss, n_rows):
    seg_a, seg_b, seg_r = [], [], []
    for pts, wid in strokes:
        if len(pts) < 2:
            continue
        c = to_canvas(np.asarray(pts, dtype=np.float64))
        r = 0.25 * (wid[1:] + wid[:-1]) * width_scale * ss
        keep = r > 1e-3 * ss
        seg_a.append(c[:-1][keep])
        seg_b.append(c[1:][keep])
        seg_r.append(r[keep])
    if not seg_a:
        return None
    a, b, r = np.concatenate(seg_a), np.concatenate(seg_b), np.concatenate(seg_r)
    if not a.size:
        return None
    return _capsule_spans(a, b, r, n_rows)


def _polygon_spans(polygons, to_canvas, n_rows):
    tris = []
    for poly in polygons:
        if len(poly) < 3:
            continue
        c = to_canvas(np.asarray(poly, dtype=np.float64))
        centre = c.mean(axis=0)
        nxt = np.roll(c, -1, axis=0)
        tris.append(np.stack([np.broadcast_to(centre, c.shape), c, nxt], axis=1))
    if not tris:
        return None
    return _triangle_spans(np.concatenate(tris), n_rows)


def _to_coverage(parts, shape, ss) -> np.ndarray:
    parts = [p for p in parts if p is not None]
    if not parts:
        return np.zeros(shape, np.float32)
    counts = _accumulate(np.concatenate([p[0] for p in parts]),
                         np.concatenate([p[1] for p in parts]),
                         np.concatenate([p[2] for p in parts]), shape, ss)
    return counts.astype(np.float32) * np.float32(1.0 / (ss * ss))


def coverage_layers(
    strokes: Sequence[Stroke],
    polygons: Sequence[np.ndarray],
    region: Region,
    ss: int = SUPERSAMPLE,
    width_scale: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Coverage of strokes and polygons together, and of the strokes alone.

    Same as two calls of :func:`coverage` but the stroke spans are computed once.

    Returns:
        ``(union, strokes_only)`` float32 arrays of shape ``region.shape``.
    """
    if not 1 <= ss <= 15:
        raise ValueError(f"supersampling factor must be in 1..15, got {ss}")
    h, w = region.shape
    origin = np.array([region.x0, region.y0], dtype=np.float64)

    def to_canvas(p: np.ndarray) -> np.ndarray:
        return (p - origin + 0.5) * ss - 0.5

    lines = _stroke_spans(strokes, to_canvas, width_scale, ss, h * ss)
    polys = _polygon_spans(polygons, to_canvas, h * ss)
    only = _to_coverage([lines], (h, w), ss)
    if polys is None:
        return only, only
    return _to_coverage([lines, polys], (h, w), ss), only


def coverage(
    strokes: Sequence[Stroke],
    polygons: Sequence[np.ndarray],
    region: Region,
    ss: int = SUPERSAMPLE,
    width_scale: float = 1.0,
) -> np.ndarray:
    """Area coverage of strokes and polygons inside ``region``.

    Args:
        strokes: ``(points, widths)`` pairs in image coordinates; widths are full
            widths in pixels. Segments thinner than ``1e-3`` px are skipped.
        polygons: Star-shaped ``(N, 2)`` outlines in image coordinates.
        region: Output window.
        ss: Sub-pixel samples per axis (coverage resolution is ``1 / ss**2``); 1..15.
        width_scale: Multiplier applied to stroke widths (e.g. to render a core).

    Returns:
        float32 array of shape ``region.shape`` with values in [0, 1].
    """
    if not 1 <= ss <= 15:
        raise ValueError(f"supersampling factor must be in 1..15, got {ss}")
    h, w = region.shape
    origin = np.array([region.x0, region.y0], dtype=np.float64)

    def to_canvas(p: np.ndarray) -> np.ndarray:
        return (p - origin + 0.5) * ss - 0.5

    return _to_coverage([_stroke_spans(strokes, to_canvas, width_scale, ss, h * ss),
                         _polygon_spans(polygons, to_canvas, h * ss)], (h, w), ss)
