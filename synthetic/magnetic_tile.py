"""The ``ferrite`` surface and the ``magnetic_tile`` style (a sintered-tile inspection line).

Designed from the *train* split of the magnetic-tile set only (its test split is the
evaluation): ROI crops of 105-632 x 227-403 px of grey ground ferrite tiles. What the
photos show and this module reproduces:

* fine **vertical grinding streaks** over the whole surface, some bright, plus grain;
* the **line's lighting** across a curved tile: brightness varies slowly along x in
  broad bright and dark vertical bands (a cylinder under a line light), more than along y;
* a **dark surround**: near-black side walls a few pixels wide at the left/right border
  with a thin lit edge, and the curved end of the tile (a dark region beyond a parabola
  at the top or bottom) in part of the crops.

The material is registered here rather than in ``surfaces.py`` so that the ``mixed``
style (every material of ``surfaces.py``) renders as before. This module is imported at
the end of ``styles.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .noise import fbm, grain, noise_1d
from .sampling import chance, uniform
from .styles import Style, register_style
from .surfaces import _colourise, _material, _streaks, _tint


def _surround(rng: np.random.Generator, h: int, w: int, zoom: float,
              p: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Dark side walls and curved end: (share of the surround, lit-edge brightness), (h, w)."""
    xx = np.arange(w, dtype=np.float32)
    yy = np.arange(h, dtype=np.float32)[:, None]
    dark = np.zeros((h, w), np.float32)
    lit = np.zeros((h, w), np.float32)
    walls = []
    for side in ("left", "right"):
        if not chance(rng, 0.6):
            continue
        width = float(rng.uniform(2.0, 9.0) * zoom)
        dist = xx if side == "left" else (w - 1) - xx
        edge = np.clip(width + 0.5 - dist, 0.0, 1.0)  # 1 on the wall, ramp of 1 px
        dark = np.maximum(dark, np.broadcast_to(edge, (h, w)))
        ridge = np.exp(-0.5 * ((dist - width - 1.5) / 1.0) ** 2)
        lit = np.maximum(lit, np.broadcast_to(ridge.astype(np.float32), (h, w)))
        walls.append([side, round(width, 2)])
    p["walls"] = walls
    p["end"] = None
    if chance(rng, 0.45):
        bottom = chance(rng, 0.7)
        sag = float(rng.uniform(0.03, 0.12) * h)  # the end curves away towards the sides
        base = float(rng.uniform(0.0, 0.06) * h)
        curve = base + sag * ((2.0 * xx / max(w - 1, 1)) - 1.0) ** 2
        dist = ((h - 1) - yy) if bottom else yy
        edge = np.clip(curve[None, :] + 0.5 - dist, 0.0, 1.0)
        dark = np.maximum(dark, edge)
        p["end"] = {"bottom": bottom, "sag": round(sag, 2), "base": round(base, 2)}
    return dark, lit


@_material("ferrite")
def ferrite(rng, h, w, zoom, disable):
    """Ground ferrite (magnetic tile): grey, vertical grinding streaks, dark surround."""
    level = uniform(rng, (70.0, 175.0))
    tint = _tint(rng, ("neutral",), 0.0, disable)
    lum = np.full((h, w), level, np.float32)
    p: dict[str, Any] = {"level": level}
    if "texture" not in disable:
        lum += np.float32(uniform(rng, (6.0, 16.0))) * _streaks(rng, h, w, zoom, vertical=True)
        fine = _streaks(rng, h, w, 0.5 * zoom, vertical=True, short=True)
        lum += np.float32(uniform(rng, (3.0, 9.0))) * np.maximum(fine, 0.0)  # bright marks
        lum += np.float32(uniform(rng, (2.0, 5.0))) * grain(rng, h, w, 0.5 * zoom)
        lum += np.float32(uniform(rng, (3.0, 8.0))) * fbm(rng, h, w, 120.0 * zoom, 2)
    # The line light on a curved tile: broad bright/dark bands along x.
    band = float(uniform(rng, (0.1, 0.3)))
    xs = np.arange(w, dtype=np.float64)
    profile = 1.0 + band * np.tanh(noise_1d(rng, xs, uniform(rng, (0.2, 0.5)) * w))
    lum *= profile.astype(np.float32)[None, :]
    p["band"] = band
    dark, lit = _surround(rng, h, w, zoom, p)
    floor = np.float32(uniform(rng, (12.0, 35.0)))
    lum = lum * (np.float32(1.0) - dark) + floor * dark
    lum += np.float32(uniform(rng, (10.0, 40.0))) * lit * (np.float32(1.0) - dark)
    img = _colourise(rng, lum, tint, 0.0, disable)
    return img, p


register_style(Style(
    name="magnetic_tile",
    description=(
        "sintered magnetic tiles on an inspection line: grey ground ferrite with vertical "
        "grinding streaks, broad light bands across the curved tile, dark side walls and "
        "curved ends; blowholes, edge breaks, thin cracks, worn (fray) and unevenly ground "
        "regions; grey images"
    ),
    materials={"ferrite": 1.0},
    zoom=(0.8, 1.2),
    empty_fraction=0.05,
    # Real tiles show one defect class each: with the five types each class is drawn into
    # a non-empty image with probability 0.25 (at least one), so every class is in about
    # 30 % of them (0.25 + 0.75 ** 5 / 5) and an image holds 1.3 classes on average.
    class_presence=0.25,
    defects={
        # Labelled crack regions of the train tiles are 125-520 px (10th-90th percentile):
        # short cracks 2-3.5 px wide, no hair-lines (they break into 1-px label fragments).
        "crack": {"width": (1.8, 3.5), "hairline_prob": 0.0, "length": (0.12, 0.4),
                  "through_prob": 0.1, "turn_sigma": (0.1, 0.35), "darkness": (0.35, 0.75),
                  "taper": (0.02, 0.08), "width_jitter": (0.02, 0.1), "width_variation": (0.1, 0.3),
                  "branch_rate": (0.0, 0.4), "secondary": (0, 0), "spall_prob": 0.0,
                  "dust_prob": 0.0, "halo_prob": 0.2},
    },
    distractors={"scratch_marks": 1.0, "hair": 0.2},
    distractor_count=(0, 1),
    occlusion_prob=0.0,
    imaging={
        "illumination": {"p": 0.8, "gradient": (0.0, 0.2), "blotch": (0.0, 0.05)},
        "shadows": {"p": 0.0},
        "highlights": {"p": 0.25, "amplitude": (15.0, 50.0), "elongation": (3.0, 8.0)},
        "perspective": {"p": 0.0},
        "blur": {"p": 0.5, "sigma": (0.3, 0.8), "motion_p": 0.0},
        "vignetting": {"p": 0.3, "strength": (0.05, 0.25)},
        "color_cast": {"p": 0.0},
        "tone": {"p": 0.8, "gamma": (0.9, 1.2), "contrast": (0.9, 1.2), "exposure": (0.7, 1.1)},
        "noise": {"sigma": (1.5, 4.0), "shot": (0.0, 0.05), "chroma": (0.0, 0.0)},
        "jpeg": {"p": 0.8, "quality": (80, 95)},
    },
    grayscale=True,
))
