"""Composition of one sample: surface, distractors, defects, occluders, imaging, mask.

This is the only module that knows the order of the stages. Each stage draws from its
own child of the image's seed sequence (``SeedSequence([seed, index, crc32(style)])``,
spawned in a fixed order), so switching a feature off does not change the random
numbers of the other stages and an ablation compares like with like.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from .backgrounds import composite_layer, load_background
from .defects import defect_names, get_defect
from .distractors import draw_distractors
from .imaging import apply_camera, apply_perspective, apply_scene, merge_options, sample_imaging
from .occlusion import draw_occluders
from .sampling import chance, integer, log_uniform, rounded, weighted_choice
from .styles import (
    DEFAULT_STYLE,
    FEATURES,
    STYLES,
    Style,
    get_style,
    is_style_file,
    load_style,
    style_from_dict,
)
from .surfaces import render_surface

if TYPE_CHECKING:
    SizeLike = int | tuple[int, int] | Sequence[int]
# A new stage goes last: children of a SeedSequence depend only on their index, so the
# earlier stages keep their random numbers.
_STAGES = ("layout", "surface", "distractors", "defects", "occlusion", "imaging", "background")
MAX_SIZE = 8192


def parse_size(size: SizeLike | str) -> tuple[int, int]:
    """Normalise a size to ``(height, width)``.

    Args:
        size: ``S`` (square), ``(width, height)``, or a string ``"S"`` / ``"WxH"``.

    Returns:
        ``(height, width)`` in pixels.

    Raises:
        ValueError: If the size is malformed, not positive or larger than 8192.
    """
    original = size
    if isinstance(size, str):
        text = size.lower().strip()
        try:
            parts = [int(p) for p in text.split("x")] if "x" in text else [int(text)]
        except ValueError:
            raise ValueError(f"size must be S or WxH with integers, got {original!r}") from None
        size = parts[0] if len(parts) == 1 else tuple(parts)
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        w = h = int(size)
    else:
        try:
            w, h = (int(v) for v in size)  # type: ignore[union-attr]
        except (TypeError, ValueError):
            raise ValueError(
                f"size must be an int or a (width, height) pair, got {original!r}"
            ) from None
    if w <= 0 or h <= 0:
        raise ValueError(f"size must be positive, got {original!r}")
    if w > MAX_SIZE or h > MAX_SIZE:
        raise ValueError(f"size must be at most {MAX_SIZE} per side, got {original!r}")
    return h, w


def check_types(types: str | Iterable[str]) -> tuple[str, ...]:
    """Validate defect type names (a comma-separated string or a sequence).

    Returns:
        The names as a tuple, in order (class id = position + 1).

    Raises:
        ValueError: If empty, duplicated or unknown (the message lists the known types).
    """
    if isinstance(types, str):
        types = [t.strip() for t in types.split(",") if t.strip()]
    names = tuple(types)
    if not names:
        raise ValueError(f"at least one defect type is required; available: "
                         f"{', '.join(defect_names())}")
    for t in names:
        if t not in defect_names():
            raise ValueError(f"unknown defect type {t!r}; available: {', '.join(defect_names())}")
    if len(set(names)) != len(names):
        raise ValueError(f"defect types must be distinct, got {', '.join(names)}")
    return names


def check_style(style: str) -> str:
    """Validate a style name or style file (``fit-style`` output, ``*.json``).

    Raises:
        ValueError: If unknown (the message lists the known styles), or a style file that
            is missing, unreadable or holds an unknown key or a bad value.
    """
    if is_style_file(style):
        try:
            load_style(style)
        except (FileNotFoundError, KeyError) as exc:
            raise ValueError(exc.args[0] if exc.args else str(exc)) from None
        return style
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; available: {', '.join(STYLES)} "
                         "(or a style file, *.json)")
    return style


@lru_cache(maxsize=8)
def _style_from_json(text: str) -> Style:
    return style_from_dict(json.loads(text))


def style_object(style: str | Mapping[str, Any] | Style) -> Style:
    """The :class:`Style` of a preset name, a style file path, a style dict or a Style."""
    if isinstance(style, Style):
        return style
    if isinstance(style, Mapping):
        return _style_from_json(json.dumps(style, sort_keys=True))
    if is_style_file(style):
        return load_style(style)
    return get_style(check_style(style))


def resolve_features(style: Style, disable: str | Iterable[str] | None = (),
                     enable: str | Iterable[str] | None = ()) -> frozenset[str]:
    """The features switched off for ``style``: its ``off`` plus ``disable``, minus ``enable``.

    Raises:
        ValueError: On an unknown name, or a feature both disabled and enabled.
    """
    off, on = check_disable(disable), check_disable(enable, "enable")
    both = sorted(off & on)
    if both:
        raise ValueError(f"feature(s) {both} both disabled and enabled")
    return (off | frozenset(style.off)) - on


def check_disable(disable: str | Iterable[str] | None, verb: str = "disable") -> frozenset[str]:
    """Validate realism feature names to switch off (or, with ``verb="enable"``, back on).

    Raises:
        ValueError: On an unknown name (the message lists the known ones).
    """
    if disable is None:
        return frozenset()
    if isinstance(disable, str):
        disable = [d.strip() for d in disable.split(",") if d.strip()]
    names = frozenset(disable)
    for d in sorted(names):
        if d not in FEATURES:
            raise ValueError(f"unknown feature {d!r} to {verb}; available: {', '.join(FEATURES)}")
    return names


def image_seed_sequence(seed: int, index: int, style: str) -> np.random.SeedSequence:
    """The seed sequence of image ``index`` of a run with ``seed`` in ``style``.

    The style name is part of the entropy so that a source and a target set generated
    with the same seed do not share their crack geometry (no accidental pairing).
    """
    if seed < 0 or index < 0:
        raise ValueError(f"seed and index must be non-negative, got seed={seed}, index={index}")
    return np.random.SeedSequence([int(seed), int(index), zlib.crc32(style.encode("utf-8"))])


def stage_rngs(seed: int, index: int, style: str) -> dict[str, np.random.Generator]:
    """The per-stage generators of image ``index`` (children of its seed sequence)."""
    children = image_seed_sequence(seed, index, style).spawn(len(_STAGES))
    return {name: np.random.default_rng(children[i]) for i, name in enumerate(_STAGES)}


def render_sample(
    seed: int,
    index: int,
    types: str | Sequence[str] = ("crack",),
    size: SizeLike = 512,
    style: str | Mapping[str, Any] | Style = DEFAULT_STYLE,
    disable: str | Iterable[str] | None = (),
    enable: str | Iterable[str] | None = (),
    backgrounds: Sequence[Mapping[str, Any]] | None = None,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Render one labelled image; deterministic in all its arguments.

    Args:
        seed: Run seed (non-negative int).
        index: Image index within the run (non-negative int); the image's randomness is
            ``numpy.random.SeedSequence([seed, index, crc32(style)])``.
        types: Defect type names (or ``"crack,spot"``); class id = position + 1.
            Default ``("crack",)``.
        size: Output size: ``S`` for S x S pixels, or ``(width, height)``. Default 512.
        style: Style preset name, style file (``fit-style``), style dict or Style.
            Default ``"pavement"`` (CFD-like).
        disable: Realism features to switch off (see ``synthetic.FEATURES``), as a
            sequence or comma-separated string. Default none.
        enable: Features the style leaves off (``Style.off``) to switch back on, e.g.
            ``pavement`` as of generator 1.0.0. Default none.
        backgrounds: Real photos as the surface (``backgrounds.check_backgrounds`` output):
            the image is a crop of one of them with the defects rendered into it (no
            procedural surface, distractors or occluders; of the imaging only the blur of the
            defect layer and a local JPEG pass), and pixels of the photo's ignore mask that
            no rendered defect covers are labeled 255. Default None (procedural surface).

    Returns:
        ``(image, mask, params)``: ``image`` is uint8 (H, W, 3) in **BGR** order
        (OpenCV convention; grey styles have three equal channels), ``mask`` is uint8
        (H, W) with 0 = background and ``k`` = class of ``types[k - 1]`` where the
        defect covers at least half of the pixel, and ``params`` is a JSON-serialisable
        dictionary of everything sampled for the image.

    Raises:
        ValueError: On an unknown type, style or feature, or a bad size/seed/index.
    """
    names = check_types(types)
    style_obj = style_object(style)
    off = resolve_features(style_obj, disable, enable)
    h, w = parse_size(size)
    rngs = stage_rngs(seed, index, style_obj.name)

    # ----------------------------------------------------------------- layout
    lay = rngs["layout"]
    zoom = log_uniform(lay, style_obj.zoom)
    material = weighted_choice(lay, style_obj.materials)
    empty = chance(lay, style_obj.empty_fraction) and "empty_images" not in off
    dtypes = [get_defect(n) for n in names]
    options = [d.options(style_obj.defects.get(d.name)) for d in dtypes]
    counts = [integer(lay, o["count"]) for o in options]
    if len(names) > 1:  # not every class in every image
        present = [chance(lay, style_obj.class_presence) for _ in names]
        if not any(present):
            present[int(lay.integers(len(names)))] = True
        counts = [counts[i] if present[i] else 0 for i in range(len(names))]
    if not empty and sum(counts) == 0:
        counts[int(lay.integers(len(names)))] = 1
    if empty:
        counts = [0] * len(names)

    # ---------------------------------------------------------------- surface
    ignore = photo = None
    if backgrounds:
        photo, ignore, surface_params = load_background(rngs["background"], backgrounds, (h, w))
        img = photo.transpose(2, 0, 1).astype(np.float32, order="C")  # planar, as a surface
    else:
        img, surface_params = render_surface(rngs["surface"], material, (h, w), zoom, off)

    # ------------------------------------------------------------ distractors
    distractor_params: list[dict[str, Any]] = []
    if "distractors" not in off and photo is None:
        excluded = tuple(k for d in dtypes for k in d.conflicting_distractors)
        distractor_params = draw_distractors(
            rngs["distractors"], img, zoom, material, style_obj.distractors,
            style_obj.distractor_count, excluded)

    # ---------------------------------------------------------------- defects
    drng = rngs["defects"]
    class_cov = [np.zeros((h, w), np.float32) for _ in names]
    anchors = []
    defect_params: list[dict[str, Any]] = []
    for k, dtype in enumerate(dtypes):
        opts = options[k]
        for _ in range(counts[k]):
            # Round first, so that re-rendering from the recorded (rounded) parameters
            # in meta.json reproduces this instance exactly.
            p = rounded(dtype.sample_params(drng, (h, w), zoom, opts, off))
            rendered = dtype.render(p, (h, w), off)
            entry = {"type": dtype.name, "class_id": k + 1, "visible": rendered is not None}
            entry.update(p)
            defect_params.append(entry)
            if rendered is None:
                continue
            rendered.apply(img)
            view = class_cov[k][rendered.region.slices]
            np.maximum(view, rendered.coverage, out=view)
            anchors.append((rendered.region, rendered.coverage))

    # --------------------------------------------------------------- occlusion
    occluder_params: list[dict[str, Any]] = []
    orng = rngs["occlusion"]
    occlude = chance(orng, style_obj.occlusion_prob)
    n_occ = integer(orng, style_obj.occlusion_count)
    if occlude and anchors and "occlusion" not in off and photo is None:
        opacity, occluder_params = draw_occluders(orng, img, zoom, anchors, n_occ)
        visible = np.float32(1.0) - opacity
        for c in class_cov:
            c *= visible

    # ----------------------------------------------------------------- imaging
    irng = rngs["imaging"]
    im_opts = merge_options(style_obj.imaging)
    im_params = sample_imaging(irng, im_opts, (h, w), off)
    if photo is not None:  # the photo has its own light, optics and sensor
        image, im_params = composite_layer(photo, cv2.merge([img[0], img[1], img[2]]),
                                           im_params)
    else:
        apply_scene(irng, img, im_params)
        img = cv2.merge([img[0], img[1], img[2]])  # planar -> interleaved (H, W, 3)
        img, class_cov = apply_perspective(img, class_cov, im_params)
        image = apply_camera(irng, img, im_params, style_obj.grayscale)

    # -------------------------------------------------------------------- mask
    mask = labels_from_coverage(class_cov)
    if ignore is not None:  # the photo's own (unlabeled) defects: neither class nor background
        mask[(mask == 0) & (ignore > 0)] = 255
    params = {
        "index": int(index),
        "style": style_obj.name,
        "size": [w, h],
        "zoom": zoom,
        "material": surface_params if photo is None else {"name": "photo"},
        "empty": bool(empty),
        "defects": defect_params,
        "distractors": distractor_params,
        "occluders": occluder_params,
        "imaging": im_params,
        "disabled": sorted(off),
        "class_pixels": {n: int(np.count_nonzero(mask == k + 1)) for k, n in enumerate(names)},
    }
    if photo is not None:
        params["background"] = surface_params
    if ignore is not None:
        params["ignore_pixels"] = int(np.count_nonzero(mask == 255))
    return image, mask, rounded(params)


def labels_from_coverage(class_cov: Sequence[np.ndarray], threshold: float = 0.5) -> np.ndarray:
    """Class-id mask from per-class coverage maps (the labeling rule).

    A pixel gets class ``k + 1`` when ``class_cov[k]`` is the largest coverage at that
    pixel and is at least ``threshold`` (ties go to the lower class id); otherwise 0.

    Args:
        class_cov: float32 (H, W) coverage maps, one per class, in class order.
        threshold: Minimum covered fraction of a pixel. Default 0.5.

    Returns:
        uint8 (H, W) mask.
    """
    if len(class_cov) == 1:
        return (class_cov[0] >= np.float32(threshold)).astype(np.uint8)
    stack = np.stack(class_cov, axis=0)
    best = np.argmax(stack, axis=0)
    top = np.take_along_axis(stack, best[None], axis=0)[0]
    return np.where(top >= np.float32(threshold), best + 1, 0).astype(np.uint8)
