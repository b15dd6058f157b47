"""Procedural noise primitives shared by surfaces, defects and imaging effects.

Everything here is vectorised numpy/OpenCV and draws its randomness from the
``numpy.random.Generator`` it is given. Noise that varies slowly is generated on a
coarse grid and upsampled with bicubic interpolation, which is much cheaper than
filtering full-resolution white noise.
"""

from __future__ import annotations

import math

import cv2
import numpy as np


def white(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Zero-mean, unit-variance uniform white noise (float32), drawn from random bytes.

    Drawing bytes is about twice as fast as ``rng.random`` for large arrays; 256 levels
    are plenty for noise that is filtered or added at a few grey levels.
    """
    n = int(np.prod(shape))
    b = np.frombuffer(rng.bytes(n), np.uint8).reshape(shape).astype(np.float32)
    b -= np.float32(127.5)
    b *= np.float32(math.sqrt(12.0) / 256.0)
    return b


def _gaussian_kernel(sigma: float) -> np.ndarray:
    ksize = 2 * int(math.ceil(3.5 * sigma)) + 1
    return cv2.getGaussianKernel(ksize, sigma, cv2.CV_32F)


def grain(rng: np.random.Generator, h: int, w: int, sigma: float) -> np.ndarray:
    """Full-resolution Gaussian-filtered white noise with unit standard deviation.

    Args:
        rng: Random generator.
        h: Height in pixels.
        w: Width in pixels.
        sigma: Gaussian filter standard deviation in pixels (grain size); values
            below 0.3 return unfiltered white noise.

    Returns:
        float32 array of shape (h, w), zero mean and unit std (exactly normalised by
        the filter's energy, away from the borders).
    """
    # Uniform white noise is much cheaper to draw than normal noise; after the Gaussian
    # filter the field is Gaussian to a very good approximation (central limit).
    noise = white(rng, (h, w))
    if sigma < 0.3:
        return noise
    k = _gaussian_kernel(sigma)
    out = cv2.sepFilter2D(noise, -1, k, k, borderType=cv2.BORDER_REFLECT_101)
    # The std of white noise filtered by the separable kernel k (x) k is sum(k**2).
    out *= np.float32(1.0 / float(np.sum(k.astype(np.float64) ** 2)))
    return out


def spots(rng: np.random.Generator, h: int, w: int, sigma: float) -> np.ndarray:
    """Band-pass (difference of Gaussians) noise: round, well separated blobs.

    Thresholding it gives dense, isolated grains of about ``2 * sigma`` pixels (unlike
    low-pass noise, whose level sets form connected worms).

    Args:
        rng: Random generator.
        h: Height in pixels.
        w: Width in pixels.
        sigma: Inner Gaussian standard deviation in pixels (>= 0.3).

    Returns:
        float32 array of shape (h, w), zero mean and unit std.
    """
    noise = white(rng, (h, w))
    k1 = _gaussian_kernel(max(sigma, 0.3))
    k2 = _gaussian_kernel(max(2.0 * sigma, 0.6))
    a = cv2.sepFilter2D(noise, -1, k1, k1, borderType=cv2.BORDER_REFLECT_101)
    a -= cv2.sepFilter2D(noise, -1, k2, k2, borderType=cv2.BORDER_REFLECT_101)
    # Std of the DoG response from the kernel energy (exact for white noise).
    n1, n2 = k1.size, k2.size
    pad = (n2 - n1) // 2
    k1p = np.zeros(n2, np.float64)
    k1p[pad:pad + n1] = k1.ravel()
    k2d = k2.ravel().astype(np.float64)
    diff = np.outer(k1p, k1p) - np.outer(k2d, k2d)
    energy = float(np.sqrt(np.sum(diff * diff)))
    a *= np.float32(1.0 / max(energy, 1e-9))
    return a


def _lattice(rng: np.random.Generator, h: int, w: int, scale: float) -> np.ndarray:
    """Bicubic value noise on an (h, w) grid with lattice spacing ``scale`` samples."""
    gh = max(2, int(math.ceil(h / scale)) + 3)
    gw = max(2, int(math.ceil(w / scale)) + 3)
    lattice = rng.standard_normal((gh, gw), dtype=np.float32)
    big_h = max(h, int(round(gh * scale)))
    big_w = max(w, int(round(gw * scale)))
    up = cv2.resize(lattice, (big_w, big_h), interpolation=cv2.INTER_CUBIC)
    # A random crop so that the lattice phase differs per call.
    oy = int(rng.integers(0, big_h - h + 1))
    ox = int(rng.integers(0, big_w - w + 1))
    # Bicubic interpolation of unit-variance lattice values has std ~0.8.
    return up[oy:oy + h, ox:ox + w] * np.float32(1.25)


def _work_factor(finest_scale: float) -> int:
    """Downsampling factor at which a field with this feature size is still smooth."""
    return max(1, int(finest_scale // 4))


def smooth_noise(rng: np.random.Generator, h: int, w: int, scale: float) -> np.ndarray:
    """Band-limited noise with features of about ``scale`` pixels (bicubic value noise).

    Large scales are synthesised on a coarser grid (at least 4 samples per feature)
    and upsampled bilinearly, which keeps the cost nearly independent of the scale.

    Args:
        rng: Random generator.
        h: Height in pixels.
        w: Width in pixels.
        scale: Feature size in pixels (distance between random lattice values).

    Returns:
        float32 array of shape (h, w), roughly zero mean and unit std.
    """
    scale = max(float(scale), 1.0)
    f = _work_factor(scale)
    if f == 1:
        return np.ascontiguousarray(_lattice(rng, h, w, scale))
    small = _lattice(rng, -(-h // f) + 1, -(-w // f) + 1, scale / f)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def fbm(
    rng: np.random.Generator,
    h: int,
    w: int,
    scale: float,
    octaves: int = 3,
    persistence: float = 0.5,
) -> np.ndarray:
    """Fractal (multi-octave) value noise.

    Args:
        rng: Random generator.
        h: Height in pixels.
        w: Width in pixels.
        scale: Feature size of the coarsest octave in pixels.
        octaves: Number of octaves; each halves the feature size (octaves finer than
            1.5 px are dropped).
        persistence: Amplitude ratio between successive octaves.

    Returns:
        float32 array of shape (h, w), roughly zero mean and unit std.
    """
    scales = []
    s = float(scale)
    for _ in range(max(1, octaves)):
        if s < 1.5 and scales:
            break
        scales.append(max(s, 1.0))
        s /= 2.0
    f = _work_factor(scales[-1])
    hh, ww = (h, w) if f == 1 else (-(-h // f) + 1, -(-w // f) + 1)
    total = np.zeros((hh, ww), np.float32)
    amp, norm = 1.0, 0.0
    for s in scales:
        total += np.float32(amp) * _lattice(rng, hh, ww, s / f)
        norm += amp * amp
        amp *= persistence
    total *= np.float32(1.0 / math.sqrt(norm))
    if f == 1:
        return total
    return cv2.resize(total, (w, h), interpolation=cv2.INTER_LINEAR)


def smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    """Hermite smoothstep of ``x`` between ``edge0`` and ``edge1`` (float32 in [0, 1])."""
    t = np.clip((x - np.float32(edge0)) / np.float32(edge1 - edge0), 0.0, 1.0)
    return t * t * (np.float32(3.0) - np.float32(2.0) * t)


def noise_1d(rng: np.random.Generator, s: np.ndarray, wavelength: float) -> np.ndarray:
    """Smooth 1-D noise sampled at positions ``s`` (e.g. arc length along a crack).

    Args:
        rng: Random generator.
        s: Sample positions in pixels, non-decreasing, shape (N,).
        wavelength: Distance between random knots in pixels.

    Returns:
        float64 array of shape (N,), zero-mean unit-variance knots blended with a
        smoothstep (C1-continuous).
    """
    s = np.asarray(s, dtype=np.float64)
    if s.size == 0:
        return s.copy()
    wavelength = max(float(wavelength), 1e-3)
    span = float(s[-1] - s[0]) if s.size > 1 else 0.0
    n_knots = int(span / wavelength) + 3
    knots = rng.standard_normal(n_knots)
    u = (s - s[0]) / wavelength + float(rng.random())
    i = np.clip(np.floor(u).astype(np.int64), 0, n_knots - 2)
    t = np.clip(u - i, 0.0, 1.0)
    t = t * t * (3.0 - 2.0 * t)
    return knots[i] * (1.0 - t) + knots[i + 1] * t
