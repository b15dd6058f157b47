"""Imaging effects: lighting of the scene, camera geometry, optics and sensor.

Applied after the surface, distractors, defects and occluders are composed, in the
physical order: scene lighting (illumination gradient, cast shadows, specular
highlights), perspective (the only geometric effect: it warps the defect coverage maps
with the same homography so labels follow the image), optics (defocus and motion blur,
vignetting), sensor and processing (colour cast, tone curve, noise, JPEG compression).

Each effect has a name usable in ``disable`` (``imaging`` disables them all) and an
options dictionary ``{"p": probability, ...ranges}`` that styles override.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np

from .noise import fbm, white
from .sampling import chance, integer, uniform

EFFECTS = (
    "illumination",
    "shadows",
    "highlights",
    "perspective",
    "blur",
    "vignetting",
    "color_cast",
    "tone",
    "noise",
    "jpeg",
    "levels",
)

DEFAULT_IMAGING: dict[str, dict[str, Any]] = {
    # Multiplicative linear gradient and slow blotches of the illumination.
    "illumination": {"p": 0.8, "gradient": (0.0, 0.25), "blotch": (0.0, 0.08)},
    # Large soft cast shadows (of the photographer, a vehicle, a wall...).
    "shadows": {"p": 0.15, "darkness": (0.25, 0.6), "softness": (2.0, 20.0), "count": (1, 2)},
    # Additive specular glints (gaussian spots or elongated bands), grey levels.
    "highlights": {"p": 0.0, "amplitude": (20.0, 110.0), "size": (0.08, 0.35),
                   "elongation": (1.0, 6.0), "count": (1, 2)},
    # Inward displacement of each corner as a fraction of the image size.
    "perspective": {"p": 0.2, "strength": (0.02, 0.12)},
    # Gaussian defocus sigma in px; motion blur length in px with probability motion_p.
    "blur": {"p": 0.5, "sigma": (0.3, 1.0), "motion_p": 0.15, "motion": (2.0, 6.0)},
    # Relative brightness loss at the corners.
    "vignetting": {"p": 0.3, "strength": (0.1, 0.4)},
    # Std of the white-balance error (blue-amber axis; green-magenta at 35 %).
    "color_cast": {"p": 0.7, "strength": 0.03},
    # Gamma, contrast around mid-grey and exposure gain.
    "tone": {"p": 0.6, "gamma": (0.85, 1.2), "contrast": (0.85, 1.2), "exposure": (0.85, 1.15)},
    # Read noise std (grey levels), shot-noise variance per grey level, chroma noise std.
    "noise": {"p": 0.9, "sigma": (1.0, 4.0), "shot": (0.0, 0.08), "chroma": (0.0, 1.5)},
    # JPEG quality range.
    "jpeg": {"p": 0.8, "quality": (60, 95)},
    # Global brightness, contrast and colour balance copied from one photo of a fitted target
    # (``fit-style``): each exemplar is dict(mean=luminance mean, std=luminance std,
    # balance=[B, G, R] channel means / luminance mean). Off (p = 0, no exemplars) in every
    # built-in style; drawn after every other effect so that those styles stay unchanged.
    # contrast: gain on the exemplar's std (fit-style corrects for what noise adds later).
    "levels": {"p": 0.0, "exemplars": [], "contrast": 1.0},
}


def merge_options(overrides: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Default imaging options updated per effect with a style's overrides.

    Raises:
        KeyError: If an override names an unknown effect or option.
    """
    opts = copy.deepcopy(DEFAULT_IMAGING)
    for effect, values in overrides.items():
        if effect not in opts:
            raise KeyError(f"unknown imaging effect {effect!r}; available: {', '.join(EFFECTS)}")
        for key, value in values.items():
            if key not in opts[effect]:
                raise KeyError(
                    f"imaging effect {effect!r} has no option {key!r}; "
                    f"known options: {sorted(opts[effect])}"
                )
            opts[effect][key] = value
    return opts


def sample_imaging(
    rng: np.random.Generator,
    options: Mapping[str, Mapping[str, Any]],
    size: tuple[int, int],
    disable: frozenset[str],
) -> dict[str, Any]:
    """Draw which effects apply and their scalar parameters.

    Args:
        rng: The image's generator for imaging.
        options: Output of :func:`merge_options`.
        size: Image (height, width).
        disable: Realism features switched off (``imaging`` or effect names).

    Returns:
        ``{effect: params}`` for the effects that apply (JSON-serialisable).
    """
    h, w = size
    out: dict[str, Any] = {}
    for effect in EFFECTS:
        o = options[effect]
        if effect == "levels" and (o["p"] <= 0 or not o["exemplars"]):
            continue  # no draw: styles without levels keep their random streams
        # Always draw the on/off decision so that disabling one effect does not shift
        # the random numbers of the others.
        on = chance(rng, o["p"])
        if not on or "imaging" in disable or effect in disable:
            continue
        if effect == "illumination":
            out[effect] = {"gradient": uniform(rng, o["gradient"]),
                           "angle": float(rng.uniform(-math.pi, math.pi)),
                           "blotch": uniform(rng, o["blotch"])}
        elif effect == "shadows":
            out[effect] = {"count": integer(rng, o["count"]),
                           "darkness": uniform(rng, o["darkness"]),
                           "softness": uniform(rng, o["softness"])}
        elif effect == "highlights":
            out[effect] = {"count": integer(rng, o["count"]),
                           "amplitude": uniform(rng, o["amplitude"]),
                           "size": uniform(rng, o["size"]),
                           "elongation": uniform(rng, o["elongation"])}
        elif effect == "perspective":
            s = uniform(rng, o["strength"])
            jitter = rng.uniform(0.0, s, (4, 2))
            out[effect] = {"strength": s, "corners": jitter.tolist()}
        elif effect == "blur":
            motion = chance(rng, o["motion_p"])
            out[effect] = {"sigma": uniform(rng, o["sigma"]),
                           "motion": uniform(rng, o["motion"]) if motion else 0.0,
                           "motion_angle": float(rng.uniform(0, math.pi))}
        elif effect == "vignetting":
            out[effect] = {"strength": uniform(rng, o["strength"]),
                           "centre": [float(rng.uniform(0.35, 0.65)),
                                      float(rng.uniform(0.35, 0.65))]}
        elif effect == "color_cast":
            # White balance error: mostly along the blue-amber (temperature) axis,
            # a little along green-magenta.
            temp = o["strength"] * rng.standard_normal()
            green = 0.35 * o["strength"] * rng.standard_normal()
            g = np.array([1.0 + temp, 1.0 + green, 1.0 - temp])
            out[effect] = {"gains": (g / g.mean()).tolist()}
        elif effect == "tone":
            out[effect] = {"gamma": uniform(rng, o["gamma"]),
                           "contrast": uniform(rng, o["contrast"]),
                           "exposure": uniform(rng, o["exposure"])}
        elif effect == "noise":
            out[effect] = {"sigma": uniform(rng, o["sigma"]), "shot": uniform(rng, o["shot"]),
                           "chroma": uniform(rng, o["chroma"])}
        elif effect == "jpeg":
            out[effect] = {"quality": integer(rng, o["quality"])}
        elif effect == "levels" and o["exemplars"]:
            ex = o["exemplars"][int(rng.integers(len(o["exemplars"])))]
            out[effect] = {"mean": float(ex["mean"]), "std": float(ex["std"]) * o["contrast"],
                           "balance": [float(b) for b in ex["balance"]]}
    return out


def _low_res_shape(h: int, w: int, factor: int = 4) -> tuple[int, int]:
    return max(2, h // factor), max(2, w // factor)


def apply_scene(rng: np.random.Generator, img: np.ndarray, p: Mapping[str, Any]) -> None:
    """Illumination gradient, cast shadows and specular highlights.

    Args:
        rng: The image's generator for imaging.
        img: Planar float32 BGR image (3, h, w), modified in place.
        p: Output of :func:`sample_imaging`.
    """
    h, w = img.shape[1:]
    lh, lw = _low_res_shape(h, w)
    gain = None
    shadow = None
    if "illumination" in p:
        q = p["illumination"]
        yy = np.linspace(-0.5, 0.5, lh, dtype=np.float32)[:, None]
        xx = np.linspace(-0.5, 0.5, lw, dtype=np.float32)[None, :]
        a = q["angle"]
        gain = np.float32(1.0) + np.float32(2.0 * q["gradient"]) * (
            xx * np.float32(math.cos(a)) + yy * np.float32(math.sin(a)))
        if q["blotch"] > 0:
            gain = gain + np.float32(q["blotch"]) * fbm(rng, lh, lw, max(lh, lw) / 2.0, 2)
    if "shadows" in p:
        q = p["shadows"]
        mask8 = np.zeros((lh, lw), np.uint8)
        yy = np.arange(lh, dtype=np.float32)[:, None]
        xx = np.arange(lw, dtype=np.float32)[None, :]
        for _ in range(q["count"]):
            if rng.random() < 0.5:
                # Straight-edged shadow of a building, wall or vehicle: a half-plane
                # with a slightly wavy boundary.
                a = rng.uniform(0, 2 * math.pi)
                cx, cy = rng.uniform(0.2, 0.8) * lw, rng.uniform(0.2, 0.8) * lh
                dist = (xx - np.float32(cx)) * np.float32(math.cos(a)) + (
                    yy - np.float32(cy)) * np.float32(math.sin(a))
                dist = dist + np.float32(rng.uniform(0, 0.03) * max(lh, lw)) * fbm(
                    rng, lh, lw, max(lh, lw) / 3.0, 2)
                mask8 = np.maximum(mask8, (dist > 0).astype(np.uint8) * np.uint8(255))
            else:
                # Dappled shadow of foliage: thresholded fractal noise.
                field = fbm(rng, lh, lw, rng.uniform(0.1, 0.3) * max(lh, lw), 3)
                t = rng.uniform(-0.3, 0.6)
                mask8 = np.maximum(mask8, (field > t).astype(np.uint8) * np.uint8(255))
        mask = mask8.astype(np.float32) * np.float32(1.0 / 255.0)
        mask = cv2.GaussianBlur(mask, (0, 0), max(q["softness"] / 4.0, 0.5))
        shadow = np.float32(q["darkness"]) * np.minimum(mask, 1.0)
        dark = np.float32(1.0) - shadow
        gain = dark if gain is None else gain * dark
    if gain is not None:
        full = cv2.resize(gain, (w, h), interpolation=cv2.INTER_LINEAR)
        if shadow is None:
            img *= full[None]
        else:  # skylight makes shadows slightly bluer (B up, R down)
            sh = cv2.resize(shadow, (w, h), interpolation=cv2.INTER_LINEAR)
            img[0] *= full * (np.float32(1.0) + np.float32(0.08) * sh)
            img[1] *= full
            img[2] *= full * (np.float32(1.0) - np.float32(0.05) * sh)
    if "highlights" in p:
        q = p["highlights"]
        yy = np.arange(lh, dtype=np.float32)[:, None]
        xx = np.arange(lw, dtype=np.float32)[None, :]
        spec = np.zeros((lh, lw), np.float32)
        for _ in range(q["count"]):
            cx, cy = rng.uniform(0, lw), rng.uniform(0, lh)
            s = q["size"] * max(lh, lw)
            a = rng.uniform(0, math.pi)
            u = (xx - cx) * np.float32(math.cos(a)) + (yy - cy) * np.float32(math.sin(a))
            v = -(xx - cx) * np.float32(math.sin(a)) + (yy - cy) * np.float32(math.cos(a))
            e = q["elongation"]
            spec += np.exp(-(u * u / np.float32(2 * (s * e) ** 2) + v * v / np.float32(2 * s * s)))
        full = cv2.resize(spec, (w, h), interpolation=cv2.INTER_LINEAR)
        img += (full * np.float32(q["amplitude"]))[None]


def homography(p: Mapping[str, Any], size: tuple[int, int]) -> np.ndarray:
    """Homography mapping an inner quadrilateral of the image onto the whole output.

    Corners move inwards by ``corners[k] * (w, h)``, so the warp never samples outside
    the rendered image and needs no border filling.
    """
    h, w = size
    j = np.asarray(p["corners"], np.float64) * np.array([w, h])
    src = np.array([[0 + j[0, 0], 0 + j[0, 1]], [w - 1 - j[1, 0], 0 + j[1, 1]],
                    [w - 1 - j[2, 0], h - 1 - j[2, 1]], [0 + j[3, 0], h - 1 - j[3, 1]]],
                   np.float32)
    dst = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float32)
    return cv2.getPerspectiveTransform(src, dst)


def _perspective_maps(p: Mapping[str, Any], size: tuple[int, int]):
    """Fixed-point remap tables of the homography (computed once, used for all layers)."""
    h, w = size
    inv = np.linalg.inv(homography(p, size)).astype(np.float32)
    xs = np.arange(w, dtype=np.float32)[None, :]
    ys = np.arange(h, dtype=np.float32)[:, None]
    den = inv[2, 0] * xs + inv[2, 1] * ys + inv[2, 2]
    mx = (inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 2]) / den
    my = (inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 2]) / den
    return cv2.convertMaps(mx, my, cv2.CV_16SC2)


def apply_perspective(
    img: np.ndarray, coverages: list[np.ndarray], p: Mapping[str, Any]
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Warp the image and every coverage map with the same homography.

    The image is resampled bilinearly; coverage maps too, so a warped pixel's value
    is the (interpolated) fraction of it covered by the defect and the ``>= 0.5``
    labeling rule applies unchanged after the warp.

    Args:
        img: Interleaved float32 image (h, w, 3).
        coverages: float32 (h, w) coverage maps.
        p: Output of :func:`sample_imaging`.

    Returns:
        ``(image, coverages)`` warped (new arrays), or the inputs if no perspective.
    """
    if "perspective" not in p:
        return img, coverages
    h, w = img.shape[:2]
    m1, m2 = _perspective_maps(p["perspective"], (h, w))

    def warp(a: np.ndarray) -> np.ndarray:
        return cv2.remap(a, m1, m2, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    return warp(img), [warp(c) for c in coverages]


def apply_camera(
    rng: np.random.Generator, img: np.ndarray, p: Mapping[str, Any], grayscale: bool
) -> np.ndarray:
    """Blur, vignetting, colour cast, tone curve, noise, quantisation and JPEG.

    Args:
        rng: The image's generator for imaging.
        img: Interleaved float32 BGR image (h, w, 3) in grey levels; may be modified.
        p: Output of :func:`sample_imaging`.
        grayscale: Produce a grey image (three equal channels).

    Returns:
        Interleaved uint8 BGR image (h, w, 3).
    """
    h, w = img.shape[:2]
    if "blur" in p:
        q = p["blur"]
        if q["sigma"] >= 0.25:
            img = cv2.GaussianBlur(img, (0, 0), q["sigma"])
        if q["motion"] >= 1.0:
            n = int(math.ceil(q["motion"])) | 1
            k8 = np.zeros((n * 4, n * 4), np.uint8)
            c = (n * 4 - 1) / 2.0
            a = q["motion_angle"]
            dx = math.cos(a) * q["motion"] * 2.0
            dy = math.sin(a) * q["motion"] * 2.0
            cv2.line(k8, (int(round((c - dx) * 16)), int(round((c - dy) * 16))),
                     (int(round((c + dx) * 16)), int(round((c + dy) * 16))), 255, 4,
                     cv2.LINE_AA, 4)
            k = cv2.resize(k8.astype(np.float32), (n, n), interpolation=cv2.INTER_AREA)
            k /= max(float(k.sum()), 1e-6)
            img = cv2.filter2D(img, -1, k, borderType=cv2.BORDER_REFLECT_101)
    gains = np.ones(3, np.float64)
    if "color_cast" in p:
        gains *= np.asarray(p["color_cast"]["gains"], np.float64)
    if "tone" in p:
        gains *= p["tone"]["exposure"]
    if "vignetting" in p:
        q = p["vignetting"]
        cy, cx = q["centre"][1] * h, q["centre"][0] * w
        yy = ((np.arange(h, dtype=np.float32) - np.float32(cy)) / np.float32(0.5 * h)) ** 2
        xx = ((np.arange(w, dtype=np.float32) - np.float32(cx)) / np.float32(0.5 * w)) ** 2
        r2 = (yy[:, None] + xx[None, :]) * np.float32(0.5)
        v = np.float32(1.0) - np.float32(q["strength"]) * np.minimum(r2, np.float32(1.5))
        img = cv2.multiply(img, cv2.merge([v, v, v]))
    if not np.all(gains == 1.0):
        img = cv2.transform(img, np.diag(gains).astype(np.float32))
    if grayscale:
        g = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        img = cv2.merge([g, g, g])
    if "levels" in p:
        img = apply_levels(img, p["levels"], grayscale)
    if "noise" in p:
        q = p["noise"]
        lum = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        # Variance = read noise**2 + shot gain * signal (grey levels).
        std = np.sqrt(np.float32(q["sigma"] ** 2) + np.float32(q["shot"])
                      * np.clip(lum, 0.0, 255.0))
        n = gaussianish(rng, (h, w))
        n *= std
        img = cv2.add(img, cv2.merge([n, n, n]))
        if q["chroma"] > 0 and not grayscale:
            lh, lw = _low_res_shape(h, w, 2)
            c = gaussianish(rng, (lh, lw, 3)) * np.float32(q["chroma"])
            img = cv2.add(img, cv2.resize(c, (w, h), interpolation=cv2.INTER_LINEAR))
    # Round to nearest with saturation (cv2 conversion semantics).
    np.clip(img, 0.0, 255.0, out=img)
    img += np.float32(0.5)
    out = img.astype(np.uint8)
    if "tone" in p:
        q = p["tone"]
        x = np.arange(256, dtype=np.float64) / 255.0
        y = np.clip((x ** q["gamma"] - 0.5) * q["contrast"] + 0.5, 0.0, 1.0)
        lut = np.round(y * 255.0).astype(np.uint8)
        out = cv2.LUT(out, lut)
    if "jpeg" in p:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(p["jpeg"]["quality"])])
        if ok:
            out = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if grayscale and out[..., 0].tobytes() != out[..., 1].tobytes():
        g = cv2.cvtColor(out, cv2.COLOR_BGR2GRAY)
        out = cv2.merge([g, g, g])
    return out


def apply_levels(img: np.ndarray, q: Mapping[str, Any], grayscale: bool = False) -> np.ndarray:
    """Set an image's luminance mean and std and its channel balance to an exemplar's.

    Each channel ``c`` becomes ``(img_c - mean_c) * k + mean * balance_c`` with
    ``k = std / std(luminance)``, so the luminance (BT.601 weights, which sum the balance to 1)
    gets exactly the exemplar's mean and standard deviation, before noise and JPEG.

    Args:
        img: Interleaved float32 BGR image (h, w, 3) in grey levels.
        q: ``dict(mean, std, balance=[b, g, r])`` from :func:`sample_imaging`.
        grayscale: Keep the three channels equal (balance ignored).

    Returns:
        The adjusted float32 image (a new array).
    """
    weights = np.array([0.114, 0.587, 0.299], np.float32)
    lum = cv2.transform(img, weights.reshape(1, 3))
    k = np.float32(q["std"] / max(float(lum.std()), 1e-3))
    means = img.reshape(-1, 3).mean(axis=0)
    balance = np.ones(3, np.float32) if grayscale else np.asarray(q["balance"], np.float32)
    balance = balance / np.float32(weights @ balance)  # luminance of the balance = 1
    shift = np.float32(q["mean"]) * balance - means * k
    return img * k + shift.reshape(1, 1, 3).astype(np.float32)


def gaussianish(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Fast unit-variance noise: the sum of two uniform fields (triangular), float32.

    Several times faster than ``standard_normal`` for large arrays and visually
    indistinguishable as sensor noise.
    """
    u = white(rng, shape)
    u += white(rng, shape)
    u *= np.float32(math.sqrt(0.5))
    return u
