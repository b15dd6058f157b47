"""Fit a style to unlabeled target photos (``python -m synthetic fit-style``).

What the generator controls is measured on the photos (:mod:`synthetic.measure`) and set in a
copy of a base style:

* brightness, contrast and colour balance: the ``levels`` effect draws one photo's luminance
  mean, std and channel balance per image (the exemplars are the photos themselves), so the
  generated distribution is the target's; ``color_cast`` and ``tone`` are switched off. A
  contrast gain on the exemplars' std is corrected in the closed loop below (noise and defects
  add to the std after ``levels``).
* grey or colour: ``grayscale`` when every photo is grey.
* JPEG quality: from the photos' own quantisation tables (off for lossless photos).
* materials and zoom: each material of the base style is rendered and measured; they are
  re-weighted by how close their texture share (band-pass std / total std) is to the photos',
  and the zoom scales their texture correlation length to the photos'.
* illumination gradient, noise and blur: set from the measurements, then corrected in a closed
  loop — a few images are generated with the candidate style and measured, and the gradient
  range, noise sigma and blur sigma are moved until their medians match the photos'.

Everything else (defect looks, distractors, occluders, perspective, shadows) is kept from the
base style. The fitted style is data (a JSON file that ``generate --style FILE`` accepts); the
photos' labels are never read, and the ``fit`` record in the file says what was measured.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .compose import render_sample
from .measure import STATS, folder_stats, image_stats, list_images, summarize_stats
from .styles import DEFAULT_STYLE, STYLES, get_style, style_from_dict, style_to_dict
from .version import __version__

#: Tolerances within which ``fit_style`` tries to match each statistic's median (and which the
#: test suite checks on a synthetic target of known parameters).
TOLERANCE = {"mean": 6.0, "std": 0.2, "gradient": 0.03, "noise": 0.25, "sharpness": 0.06,
             "texture_scale": 0.3, "roughness": 0.35}
RELATIVE = {"std", "noise", "texture_scale", "roughness"}  # the others are absolute


def _within(stat: str, got: float, want: float) -> bool:
    if stat in RELATIVE:
        return abs(got - want) <= TOLERANCE[stat] * max(abs(want), 1e-6)
    return abs(got - want) <= TOLERANCE[stat]


def _texture_share(s: Mapping[str, Any]) -> float:
    return s["roughness"] * s["mean"] / max(s["std"], 1e-6)


def _material_stats(materials, size: tuple[int, int], off: frozenset[str], samples: int = 4):
    """Median texture scale and texture share of each material rendered at zoom 1."""
    from .surfaces import render_surface

    out = {}
    for k, m in enumerate(materials):
        stats = []
        for i in range(samples):
            rng = np.random.default_rng([k, i, 0xF17])
            img, _ = render_surface(rng, m, size, 1.0, off)
            img = np.clip(np.stack([img[0], img[1], img[2]], axis=-1), 0, 255).astype(np.uint8)
            stats.append(image_stats(img))
        out[m] = {"texture_scale": float(np.median([s["texture_scale"] for s in stats])),
                  "share": float(np.median([_texture_share(s) for s in stats]))}
    return out


def _generated_stats(style: dict, size: tuple[int, int], n: int, seed: int) -> dict[str, Any]:
    stats = [image_stats(render_sample(seed, i, ("crack",), (size[1], size[0]), style)[0])
             for i in range(n)]
    return summarize_stats(stats)["summary"]


def _pair(lo: float, hi: float, digits: int = 3) -> list[float]:
    return [round(float(lo), digits), round(float(max(lo, hi)), digits)]


def fit_style(
    target: str | Path,
    split: str | None = None,
    base: str = DEFAULT_STYLE,
    name: str | None = None,
    max_images: int = 200,
    rounds: int = 6,
    probe_images: int = 24,
    seed: int = 0,
    log: Callable[[str], None] | None = print,
) -> dict[str, Any]:
    """Measure target photos and return a style file's content that reproduces them.

    Args:
        target: Dataset root (``images/``) or a folder of photos; only images are read.
        split: Split file with the photo names to use (e.g. ``train.txt``). Default: all.
        base: Registered style whose defects, distractors and scene effects are kept.
            Default ``"pavement"``.
        name: Name of the fitted style (it seeds the images). Default ``"fitted-<folder>"``.
        max_images: At most this many photos are measured (an even subset of the sorted
            list). Default 200.
        rounds: Closed-loop correction rounds. Default 6.
        probe_images: Images generated per round (the same ones every round, at the photos'
            median size capped at 512 px a side; the final check uses others). Default 24.
        seed: Seed of the probe images. Default 0.
        log: Where the report lines go (None: silent). Default ``print``.

    Returns:
        The style file as a dict (``format``, ``base``, the style's attributes and ``fit``:
        the measured and the reproduced statistics).

    Raises:
        FileNotFoundError / ValueError: Missing or empty folder, unreadable photo, unknown
            base style (each names the file or value).
    """
    say = log or (lambda _m: None)
    if base not in STYLES:
        raise ValueError(f"unknown base style {base!r}; available: {', '.join(STYLES)}")
    base_style = get_style(base)
    paths = list_images(target, split)
    if len(paths) > max_images:
        idx = np.linspace(0, len(paths) - 1, max_images).round().astype(int)
        paths = [paths[i] for i in sorted(set(idx.tolist()))]
    measured = folder_stats(paths)
    summ = measured["summary"]
    med = {k: summ[k]["median"] for k in STATS}
    sizes = np.array(measured["sizes"])
    w_med, h_med = (int(v) for v in np.median(sizes, axis=0))
    scale = min(1.0, 512.0 / max(w_med, h_med))
    probe_hw = (max(64, int(h_med * scale)), max(64, int(w_med * scale)))
    say(f"[fit-style] measured {len(paths)} photos of {target} "
        f"(median size {w_med}x{h_med}{', grey' if measured['grey'] else ''})")

    # Materials and zoom from the texture.
    # Only the base style's materials compete: the base says what kind of surface this is
    # (asphalt is not machined metal even where their grain statistics agree).
    want_share = float(np.median([_texture_share(s) for s in measured["per_image"]]))
    candidates = [m for m, w in base_style.materials.items() if w > 0]
    mats = _material_stats(candidates, probe_hw, frozenset(base_style.off))
    dist = {m: abs(math.log(max(v["share"], 1e-3) / max(want_share, 1e-3)))
            for m, v in mats.items()}
    weights = {m: round(base_style.materials[m] * math.exp(-((dist[m] / 0.5) ** 2)), 3)
               for m in candidates}
    if not any(w > 0 for w in weights.values()):
        weights = {min(dist, key=dist.get): 1.0}
    weights = {m: w for m, w in weights.items() if w > 0}
    mat_scale = sum(mats[m]["texture_scale"] * w for m, w in weights.items()) / sum(
        weights.values())
    zoom_c = min(3.0, max(0.3, med["texture_scale"] / max(mat_scale, 1e-3)))

    q = sorted(measured["jpeg_quality"])
    exemplars = [{"mean": round(s["mean"], 2), "std": round(s["std"], 2),
                  "balance": [round(b, 4) for b in s["balance"]]} for s in measured["per_image"]]
    imaging: dict[str, dict[str, Any]] = {
        "levels": {"p": 1.0, "exemplars": exemplars, "contrast": 1.0},
        "color_cast": {"p": 0.0},
        "tone": {"p": 0.0},
        "vignetting": {"p": 0.0},
        "illumination": {"p": 1.0, "gradient": _pair(summ["gradient"]["p10"],
                                                      summ["gradient"]["p90"])},
        "noise": {"p": 1.0, "sigma": _pair(summ["noise"]["p10"], summ["noise"]["p90"]),
                  "shot": [0.0, 0.0], "chroma": [0.0, 0.0]},
        "blur": {"p": 1.0, "sigma": [0.4, 0.8], "motion_p": 0.0},
        "jpeg": ({"p": 1.0, "quality": [max(1, int(np.percentile(q, 10)) - 3),
                                        min(100, int(np.percentile(q, 90)) + 3)]}
                 if q else {"p": 0.0}),
    }
    style = style_to_dict(base_style, base=base)
    style.update(
        name=name or f"fitted-{Path(target).resolve().name}",
        description=f"fitted to {len(paths)} photos of {Path(target).resolve().name} "
                    f"on {base!r}",
        materials=weights, zoom=_pair(zoom_c / 1.15, zoom_c * 1.15),
        grayscale=bool(measured["grey"]))
    style["imaging"] = {**style["imaging"], **{k: {**style["imaging"].get(k, {}), **v}
                                               for k, v in imaging.items()}}

    # Closed loop: contrast, gradient, noise and blur until the generated medians match.
    # Damped updates (the statistics interact: blur lowers the texture part of the noise
    # estimate, noise raises the sharpness), with measured^2 = rest^2 + sigma^2 for the noise.
    prev_noise = None
    for r in range(max(1, rounds)):
        probe = _generated_stats(style, probe_hw, probe_images, seed)  # same images each round
        g = {k: probe[k]["median"] for k in STATS}
        im = style["imaging"]
        gain = (med["std"] / max(g["std"], 1e-3)) ** 0.7
        im["levels"]["contrast"] = round(min(3.0, max(0.3, im["levels"]["contrast"] * gain)), 4)
        ratio = (med["gradient"] / max(g["gradient"], 1e-4)) ** 0.7
        im["illumination"]["gradient"] = _pair(*(min(0.6, v * min(3.0, max(0.33, ratio)))
                                                 for v in im["illumination"]["gradient"]))
        lo, hi = im["noise"]["sigma"]
        centre = max(1e-3, (lo + hi) / 2.0)
        # Secant on (sigma^2 -> measured^2): JPEG and blur pass only part of the added noise.
        slope = 1.0
        if prev_noise is not None and abs(centre ** 2 - prev_noise[0]) > 1e-6:
            slope = (g["noise"] ** 2 - prev_noise[1]) / (centre ** 2 - prev_noise[0])
            slope = min(2.0, max(0.05, slope))
        prev_noise = (centre ** 2, g["noise"] ** 2)
        new_c = math.sqrt(max(0.01, centre ** 2 + (med["noise"] ** 2 - g["noise"] ** 2) / slope))
        im["noise"]["sigma"] = _pair(lo * new_c / centre, hi * new_c / centre)
        step = 1.5 * (g["sharpness"] - med["sharpness"])
        centre = min(3.0, max(0.0, float(np.mean(im["blur"]["sigma"])) + step))
        im["blur"]["sigma"] = _pair(max(0.0, centre - 0.15), centre + 0.15)
        say(f"[fit-style] round {r + 1}: std {g['std']:.2f}/{med['std']:.2f}, gradient "
            f"{g['gradient']:.3f}/{med['gradient']:.3f}, noise {g['noise']:.2f}/"
            f"{med['noise']:.2f}, sharpness {g['sharpness']:.3f}/{med['sharpness']:.3f} "
            "(generated/photos)")
    got = _generated_stats(style, probe_hw, probe_images, seed + 97)

    style["fit"] = {
        "generator": __version__,
        "target": str(Path(target).resolve()),
        "split": split,
        "images": [p.name for p in paths],
        "median_size": [w_med, h_med],
        "jpeg_quality": q,
        "texture_share": round(want_share, 4),
        "material_stats": mats,
        "measured": summ,
        "generated": got,
        "tolerance": TOLERANCE,
    }
    style_from_dict(style, source="fitted style")  # the result must load
    _report(say, summ, got, style, q)
    return style


def _report(say, measured, generated, style, qualities) -> None:
    say("[fit-style] statistic        photos median [p10, p90]        generated   within")
    for k in STATS:
        m, g = measured[k], generated[k]
        ok = "yes" if _within(k, g["median"], m["median"]) else "NO"
        say(f"  {k:14s} {m['median']:9.3f} [{m['p10']:8.3f}, {m['p90']:8.3f}]   "
            f"{g['median']:9.3f}   {ok}   ({STATS[k]})")
    im = style["imaging"]
    say(f"[fit-style] set: materials {style['materials']}, zoom {style['zoom']}, "
        f"grayscale {style['grayscale']}, levels from {len(im['levels']['exemplars'])} photos, "
        f"illumination.gradient {im['illumination']['gradient']}, noise.sigma "
        f"{im['noise']['sigma']}, blur.sigma {im['blur']['sigma']}, jpeg "
        + (f"quality {im['jpeg']['quality']} (photos: {min(qualities)}-{max(qualities)})"
           if qualities else "off (lossless photos)")
        + "; color_cast, tone and vignetting off (levels sets them); "
          f"defects, distractors, occlusion, shadows, perspective from {style.get('base')!r}")
