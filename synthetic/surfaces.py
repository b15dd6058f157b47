"""Procedural surface materials (the background every defect is drawn on).

Each material builds a planar float32 BGR image (3, H, W) in grey levels (0..255)
from a luminance
field (base level + material texture) times a colour field (tint + slow colour
variation), then adds stains. Texture statistics differ per material: asphalt has
bright aggregate chips and dark pores, concrete fine sand grain with sparse bug holes,
plaster soft trowel undulation, ceramic a smooth glaze, painted metal orange peel,
machined metal brushed streaks.

Realism features (names for ``disable``): ``texture`` (all material grain, leaving a
flat tinted surface), ``color_variation`` (tint and slow colour drift; grey surface
instead), ``stains`` (dark/light blotches).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from .noise import fbm, grain, smooth_noise, smoothstep, spots
from .sampling import chance, uniform

SurfaceFn = Callable[[np.random.Generator, int, int, float, frozenset[str]],
                     tuple[np.ndarray, dict[str, Any]]]

MATERIALS: dict[str, SurfaceFn] = {}


def _material(name: str) -> Callable[[SurfaceFn], SurfaceFn]:
    def deco(fn: SurfaceFn) -> SurfaceFn:
        MATERIALS[name] = fn
        return fn
    return deco


# Tints are BGR multipliers (B, G, R).
_GREY_TINTS = {
    "neutral": (1.0, 1.0, 1.0),
    "blue": (1.05, 1.0, 0.96),
    "teal": (1.03, 1.02, 0.95),
    "violet": (1.04, 0.99, 0.99),
    "warm": (0.96, 0.99, 1.03),
    "brown": (0.92, 0.98, 1.05),
}


def _tint(rng: np.random.Generator, names: tuple[str, ...], jitter: float,
          disable: frozenset[str]) -> np.ndarray:
    name = names[int(rng.integers(len(names)))]
    t = np.array(_GREY_TINTS[name]) * (1.0 + jitter * rng.standard_normal(3))
    if "color_variation" in disable:
        return np.ones(3, np.float32)
    return t.astype(np.float32)


def _colourise(rng: np.random.Generator, lum: np.ndarray, tint: np.ndarray, drift: float,
               disable: frozenset[str]) -> np.ndarray:
    """Luminance (h, w) times tint, with a slow per-channel colour drift of ``drift``."""
    h, w = lum.shape
    if "color_variation" in disable or drift <= 0:
        return lum[None] * tint.reshape(3, 1, 1)
    scale = rng.uniform(80.0, 250.0)
    gh = max(2, int(math.ceil(h / scale)) + 1)
    gw = max(2, int(math.ceil(w / scale)) + 1)
    # Mostly luminance-neutral: drift the chroma, not the overall level.
    lattice = rng.standard_normal((3, gh, gw)).astype(np.float32)
    lattice -= lattice.mean(axis=0, keepdims=True)
    img = np.empty((3, h, w), np.float32)
    for c in range(3):
        colour = np.float32(tint[c]) * (np.float32(1.0) + np.float32(drift) * lattice[c])
        img[c] = cv2.resize(colour, (w, h), interpolation=cv2.INTER_LINEAR)
        img[c] *= lum
    return img


def _stains(rng: np.random.Generator, img: np.ndarray, zoom: float, palette: tuple[str, ...],
            amount: tuple[float, float], disable: frozenset[str]) -> dict[str, Any]:
    """Dark (oil, water, dirt) or light (efflorescence, dust) blotches, in place.

    Stain masks are smooth, so they are built at a quarter of the resolution.
    """
    params: dict[str, Any] = {"layers": 0}
    if "stains" in disable:
        return params
    h, w = img.shape[1:]
    n = int(rng.integers(0, 3))
    kinds = []
    lh, lw = max(2, h // 4), max(2, w // 4)
    change = np.zeros((3, lh, lw), np.float32)
    for _ in range(n):
        kind = palette[int(rng.integers(len(palette)))]
        field = fbm(rng, lh, lw, rng.uniform(10.0, 40.0) * zoom, octaves=3)
        t = rng.uniform(0.6, 1.6)
        m = smoothstep(t, t + rng.uniform(0.3, 1.0), field) * np.float32(uniform(rng, amount))
        col = np.array(_STAIN_COLOURS[kind], np.float32).reshape(3, 1, 1) - np.float32(1.0)
        change += m[None] * col
        kinds.append(kind)
    if n:
        for c in range(3):
            img[c] *= np.float32(1.0) + cv2.resize(change[c], (w, h),
                                                   interpolation=cv2.INTER_LINEAR)
    params.update(layers=n, kinds=kinds)
    return params


_STAIN_COLOURS = {  # BGR multipliers at full stain strength 1
    "oil": (0.75, 0.72, 0.7),  # bluish dark
    "water": (0.8, 0.8, 0.8),
    "rust": (0.45, 0.65, 1.05),
    "dirt": (0.7, 0.78, 0.85),
    "light": (1.18, 1.17, 1.15),  # efflorescence / dried dust
}


def _relief(height: np.ndarray, angle: float, amount: float) -> np.ndarray:
    """Directional shading of a height field (light from ``angle``), float32.

    Gives aggregate grains a lit side and a shadowed side, the crisp granular look of
    real asphalt and concrete photos.
    """
    gx = cv2.Sobel(height, cv2.CV_32F, 1, 0, ksize=3, borderType=cv2.BORDER_REFLECT_101)
    gy = cv2.Sobel(height, cv2.CV_32F, 0, 1, ksize=3, borderType=cv2.BORDER_REFLECT_101)
    c, s = np.float32(math.cos(angle) * amount / 8.0), np.float32(math.sin(angle) * amount / 8.0)
    return gx * c + gy * s


def _chips_pores(n: np.ndarray, chip_t: float, chip_a: float, pore_t: float,
                 pore_a: float) -> np.ndarray:
    """Bright chips where the field exceeds ``chip_t``, dark pores below ``-pore_t``."""
    return (np.float32(chip_a) * smoothstep(chip_t, chip_t + 0.9, n)
            - np.float32(pore_a) * smoothstep(pore_t, pore_t + 0.8, -n))


@_material("asphalt")
def asphalt(rng, h, w, zoom, disable):
    """Asphalt: grey, dense lit aggregate grains, dark pores, stones of mixed tone."""
    level = uniform(rng, (95.0, 165.0))
    tint = _tint(rng, ("neutral", "blue", "teal", "violet", "warm"), 0.01, disable)
    lum = np.full((h, w), level, np.float32)
    p: dict[str, Any] = {"level": level, "tint": tint.tolist()}
    if "texture" not in disable:
        fine = uniform(rng, (3.0, 6.0))
        chip_sigma = uniform(rng, (0.6, 1.1)) * zoom
        chip_t, chip_a = uniform(rng, (0.8, 1.4)), uniform(rng, (15.0, 32.0))
        pore_t, pore_a = uniform(rng, (0.9, 1.6)), uniform(rng, (12.0, 28.0))
        relief = uniform(rng, (0.6, 1.6))
        light = float(rng.uniform(-math.pi, math.pi))
        height = _chips_pores(spots(rng, h, w, chip_sigma), chip_t, chip_a, pore_t, pore_a)
        height += np.float32(fine) * grain(rng, h, w, 0.5 * zoom)
        # Sparse larger stones, crisp light ones and some dark ones.
        stone_sigma = uniform(rng, (0.9, 1.6)) * zoom
        stone_t, stone_a = uniform(rng, (1.8, 2.6)), uniform(rng, (12.0, 40.0))
        st = spots(rng, h, w, stone_sigma)
        height += np.float32(stone_a) * smoothstep(stone_t, stone_t + 0.5, st)
        height -= np.float32(0.6 * stone_a) * smoothstep(stone_t + 0.3, stone_t + 0.8, -st)
        lum += height
        lum += _relief(height, light, relief)
        lum += np.float32(uniform(rng, (1.0, 4.0))) * grain(rng, h, w, 2.0 * zoom)
        lum += np.float32(uniform(rng, (2.0, 6.0))) * fbm(rng, h, w, 150.0 * zoom, 3)
        p.update(fine=fine, chip_sigma=chip_sigma, chip_threshold=chip_t, chip_amp=chip_a,
                 pore_threshold=pore_t, pore_amp=pore_a, relief=relief, light=light,
                 stone_sigma=stone_sigma, stone_threshold=stone_t, stone_amp=stone_a)
    img = _colourise(rng, lum, tint, 0.012, disable)
    p["stains"] = _stains(rng, img, zoom, ("oil", "water", "dirt", "light"), (0.1, 0.3),
                          disable)
    return img, p


@_material("concrete")
def concrete(rng, h, w, zoom, disable):
    """Concrete: lighter, fine lit sand grain, sparse bug holes, mottling, broom marks."""
    level = uniform(rng, (115.0, 190.0))
    tint = _tint(rng, ("neutral", "warm", "blue", "brown"), 0.01, disable)
    lum = np.full((h, w), level, np.float32)
    p: dict[str, Any] = {"level": level, "tint": tint.tolist()}
    if "texture" not in disable:
        height = np.float32(uniform(rng, (3.0, 7.0))) * grain(rng, h, w, 0.55 * zoom)
        sand = spots(rng, h, w, uniform(rng, (0.6, 1.0)) * zoom)
        height += _chips_pores(sand, uniform(rng, (0.8, 1.8)), uniform(rng, (6.0, 18.0)),
                               uniform(rng, (1.2, 2.2)), uniform(rng, (8.0, 22.0)))
        holes = spots(rng, h, w, uniform(rng, (1.0, 2.0)) * zoom)
        height -= np.float32(uniform(rng, (20.0, 55.0))) * smoothstep(2.4, 3.0, holes)
        lum += height
        lum += _relief(height, float(rng.uniform(-math.pi, math.pi)), uniform(rng, (0.4, 1.2)))
        lum += np.float32(uniform(rng, (2.0, 7.0))) * fbm(rng, h, w, 60.0 * zoom, 3)
        brushed = chance(rng, 0.3)
        if brushed:  # broom finish: short, soft streaks
            lum += np.float32(uniform(rng, (1.0, 3.0))) * _streaks(rng, h, w, zoom, short=True)
        p.update(brushed=brushed)
    img = _colourise(rng, lum, tint, 0.012, disable)
    p["stains"] = _stains(rng, img, zoom, ("water", "dirt", "light", "oil"), (0.08, 0.25),
                          disable)
    return img, p


@_material("plaster")
def plaster(rng, h, w, zoom, disable):
    """Plaster / render: light, smooth, trowel undulation, sparse grit, optional stucco."""
    level = uniform(rng, (165.0, 225.0))
    tint = _tint(rng, ("neutral", "warm", "brown"), 0.015, disable)
    lum = np.full((h, w), level, np.float32)
    p: dict[str, Any] = {"level": level, "tint": tint.tolist()}
    if "texture" not in disable:
        lum += np.float32(uniform(rng, (1.5, 4.0))) * grain(rng, h, w, 0.8 * zoom)
        lum += np.float32(uniform(rng, (4.0, 10.0))) * fbm(rng, h, w, 80.0 * zoom, 2)
        grit = grain(rng, h, w, 0.9 * zoom)
        lum += _chips_pores(grit, 2.2, uniform(rng, (6.0, 15.0)), 2.2, uniform(rng, (6.0, 15.0)))
        stucco = chance(rng, 0.3)
        if stucco:
            lum += np.float32(uniform(rng, (5.0, 12.0))) * smooth_noise(rng, h, w, 4.0 * zoom)
        p.update(stucco=stucco)
    img = _colourise(rng, lum, tint, 0.02, disable)
    p["stains"] = _stains(rng, img, zoom, ("water", "dirt"), (0.08, 0.25), disable)
    return img, p


_CERAMIC_COLOURS = {  # BGR
    "white": (236, 236, 234),
    "cream": (198, 222, 236),
    "blue": (224, 196, 160),
    "terracotta": (72, 104, 178),
    "grey": (168, 170, 172),
    "green": (150, 178, 138),
}


@_material("ceramic")
def ceramic(rng, h, w, zoom, disable):
    """Ceramic tile: smooth glaze of a palette colour, faint specks."""
    names = list(_CERAMIC_COLOURS)
    name = names[int(rng.integers(len(names)))]
    colour = np.array(_CERAMIC_COLOURS[name], np.float32) * np.float32(rng.uniform(0.9, 1.05))
    if "color_variation" in disable:
        colour = np.full(3, float(colour.mean()), np.float32)
    level = float(colour.mean())
    lum = np.full((h, w), level, np.float32)
    if "texture" not in disable:
        lum += np.float32(uniform(rng, (0.8, 2.5))) * grain(rng, h, w, 0.6 * zoom)
        lum += np.float32(uniform(rng, (2.0, 5.0))) * fbm(rng, h, w, 200.0 * zoom, 2)
        if chance(rng, 0.35):
            lum -= np.float32(uniform(rng, (20.0, 50.0))) * smoothstep(
                2.6, 3.2, grain(rng, h, w, 0.9 * zoom))
    img = _colourise(rng, lum, colour / np.float32(max(level, 1.0)), 0.01, disable)
    stains = _stains(rng, img, zoom, ("dirt", "water"), (0.05, 0.15), disable)
    return img, {"colour": name, "level": level, "stains": stains}


_PAINT_COLOURS = {  # BGR
    "grey": (150, 152, 150),
    "green": (92, 140, 84),
    "blue": (160, 112, 60),
    "yellow": (44, 186, 220),
    "red": (52, 54, 176),
    "white": (222, 224, 222),
}


@_material("painted_metal")
def painted_metal(rng, h, w, zoom, disable):
    """Painted metal: flat paint colour with orange-peel texture; rust/dirt stains."""
    names = list(_PAINT_COLOURS)
    name = names[int(rng.integers(len(names)))]
    colour = np.array(_PAINT_COLOURS[name], np.float32) * np.float32(rng.uniform(0.85, 1.05))
    if "color_variation" in disable:
        colour = np.full(3, float(colour.mean()), np.float32)
    level = float(colour.mean())
    lum = np.full((h, w), level, np.float32)
    if "texture" not in disable:
        lum += np.float32(uniform(rng, (1.5, 4.0))) * smooth_noise(rng, h, w, 3.0 * zoom)
        lum += np.float32(uniform(rng, (1.0, 2.5))) * grain(rng, h, w, 0.5 * zoom)
        lum += np.float32(uniform(rng, (2.0, 6.0))) * fbm(rng, h, w, 150.0 * zoom, 2)
    img = _colourise(rng, lum, colour / np.float32(max(level, 1.0)), 0.015, disable)
    stains = _stains(rng, img, zoom, ("rust", "dirt", "oil"), (0.1, 0.4), disable)
    return img, {"colour": name, "level": level, "stains": stains}


def _streaks(rng: np.random.Generator, h: int, w: int, zoom: float,
             vertical: bool = False, short: bool = False) -> np.ndarray:
    """Unit-std streaks along x (or y): white noise stretched along one axis."""
    stretch = (rng.uniform(6.0, 16.0) if short else rng.uniform(16.0, 64.0)) * zoom
    if vertical:
        small = rng.standard_normal((max(2, int(h / stretch)), w)).astype(np.float32)
    else:
        small = rng.standard_normal((h, max(2, int(w / stretch)))).astype(np.float32)
    small = cv2.GaussianBlur(small, (0, 0), 0.6 * zoom)
    small /= max(float(small.std()), 1e-6)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


@_material("machined_metal")
def machined_metal(rng, h, w, zoom, disable):
    """Machined / ground metal: grey, brushed streaks, broad sheen; nearly colourless."""
    level = uniform(rng, (80.0, 190.0))
    tint = _tint(rng, ("neutral", "blue"), 0.01, disable)
    lum = np.full((h, w), level, np.float32)
    vertical = chance(rng, 0.5)
    p: dict[str, Any] = {"level": level, "tint": tint.tolist(), "vertical": vertical}
    if "texture" not in disable:
        lum += np.float32(uniform(rng, (5.0, 14.0))) * _streaks(rng, h, w, zoom, vertical)
        lum += np.float32(uniform(rng, (1.5, 5.0))) * grain(rng, h, w, 0.5 * zoom)
        lum += np.float32(uniform(rng, (4.0, 12.0))) * fbm(rng, h, w, 200.0 * zoom, 2)
    img = _colourise(rng, lum, tint, 0.01, disable)
    p["stains"] = _stains(rng, img, zoom, ("oil", "dirt", "rust"), (0.05, 0.25), disable)
    return img, p


def render_surface(
    rng: np.random.Generator,
    material: str,
    size: tuple[int, int],
    zoom: float,
    disable: frozenset[str],
) -> tuple[np.ndarray, dict[str, Any]]:
    """Render a material.

    Args:
        rng: The image's generator for the surface.
        material: One of :data:`MATERIALS`.
        size: (height, width) in pixels.
        zoom: Scale factor of grain sizes (1 = nominal).
        disable: Realism features switched off.

    Returns:
        ``(image, params)``: planar float32 BGR image (3, h, w) in grey levels, and the
        sampled material parameters.

    Raises:
        KeyError: For an unknown material (the message lists the known ones).
    """
    try:
        fn = MATERIALS[material]
    except KeyError:
        raise KeyError(
            f"unknown material {material!r}; available: {', '.join(MATERIALS)}"
        ) from None
    h, w = size
    img, params = fn(rng, h, w, zoom, disable)
    params["material"] = material
    return img, params
