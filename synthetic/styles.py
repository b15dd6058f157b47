"""Named style presets: which materials, defect looks, distractors and imaging effects.

A style bundles every choice that shapes the *domain* of the generated images, so one
command produces a source set and another a visibly different target set (e.g.
``lab`` -> ``field``). ``pavement`` is the default and is tuned to resemble real
road/concrete crack photos such as CrackForest (CFD).

Feature switches (``disable``) are orthogonal to styles: they turn one realism feature
off in whatever style is used, for ablations.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .distractors import DISTRACTORS
from .imaging import merge_options
from .surfaces import MATERIALS

#: Realism features that can be switched off by name (``disable=`` / ``--disable``).
FEATURES: dict[str, str] = {
    # surfaces
    "texture": "material grain, aggregate, pores, streaks (flat tinted surface instead)",
    "color_variation": "surface tint and slow colour drift (neutral grey instead)",
    "stains": "dark and light blotches on the surface",
    # scene content
    "distractors": "crack-like background structures (joints, scratches, edges, hairs, ...)",
    "occlusion": "objects lying on top of defects (pebbles, leaves, sand)",
    "empty_images": "the share of images without any defect",
    # defect morphology and appearance
    "branching": "crack branches and secondary cracks",
    "width_variation": "width change along cracks and scratches",
    "taper": "narrowing of crack and scratch tips",
    "jagged": "fractal jaggedness and width jitter (smooth strokes instead)",
    "rims": "dark core with lighter rims, halos and lit pit rims (uniform darkness)",
    "spalls": "chips broken off crack edges",
    "dust": "dust filling parts of a crack",
    "fading": "darkness of a crack fading in and out along it",
    # imaging
    "imaging": "all imaging effects below",
    "illumination": "illumination gradient and blotches",
    "shadows": "large cast shadows",
    "highlights": "specular highlights",
    "perspective": "perspective warp (image and mask)",
    "blur": "defocus and motion blur",
    "vignetting": "darkening towards the corners",
    "color_cast": "white-balance colour cast",
    "tone": "gamma, contrast and exposure changes",
    "noise": "sensor noise",
    "jpeg": "JPEG compression artefacts",
    "levels": "brightness, contrast and colour balance of a fitted style's target photos",
}


@dataclass(frozen=True)
class Style:
    """A named preset.

    Attributes:
        name: Registry name (``--style name``).
        description: What the images look like.
        materials: Relative frequency of each surface material.
        zoom: Range of the per-image scale factor applied to widths and grain (px).
        empty_fraction: Share of images with no defect (empty mask).
        defects: Per defect type, option overrides (see ``DefectType.default_options``).
        distractors: Relative frequency of each distractor kind.
        distractor_count: Inclusive range of distractors per image.
        occlusion_prob: Chance that an image with defects gets occluders.
        occlusion_count: Inclusive range of occluders when it does.
        imaging: Per imaging effect, option overrides (see ``imaging.DEFAULT_IMAGING``).
        grayscale: Produce grey images (three equal channels).
        off: Realism features (names of :data:`FEATURES`) this style leaves switched off,
            as if always given to ``disable`` — for features an ablation found to hurt the
            real target the style is tuned for (``docs/generator.md``).
        class_presence: With several defect types, the chance that a class is drawn into
            a non-empty image (independently per class; an image that drew none gets one
            class chosen uniformly). Each class is then in ``p + (1 - p) ** n / n`` of the
            non-empty images for ``n`` types. Default 0.65.
    """

    name: str
    description: str
    materials: Mapping[str, float]
    zoom: tuple[float, float] = (0.8, 1.25)
    empty_fraction: float = 0.1
    defects: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    distractors: Mapping[str, float] = field(default_factory=dict)
    distractor_count: tuple[int, int] = (0, 2)
    occlusion_prob: float = 0.2
    occlusion_count: tuple[int, int] = (1, 3)
    imaging: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    grayscale: bool = False
    off: frozenset[str] = frozenset()
    class_presence: float = 0.65

    def validate(self) -> None:
        """Check every name and option the style refers to.

        Raises:
            KeyError: On an unknown material, distractor kind or imaging effect/option.
            ValueError: On an out-of-range number.
        """
        for m in self.materials:
            if m not in MATERIALS:
                raise KeyError(f"style {self.name!r}: unknown material {m!r}; "
                               f"available: {', '.join(MATERIALS)}")
        for k in self.distractors:
            if k not in DISTRACTORS:
                raise KeyError(f"style {self.name!r}: unknown distractor {k!r}; "
                               f"available: {', '.join(DISTRACTORS)}")
        merge_options(self.imaging)
        unknown = sorted(set(self.off) - set(FEATURES))
        if unknown:
            raise KeyError(f"style {self.name!r}: unknown feature(s) {unknown} in off; "
                           f"available: {', '.join(FEATURES)}")
        if not 0.0 <= self.empty_fraction <= 1.0:
            raise ValueError(f"style {self.name!r}: empty_fraction must be in [0, 1], "
                             f"got {self.empty_fraction}")
        if not 0 < self.zoom[0] <= self.zoom[1]:
            raise ValueError(f"style {self.name!r}: zoom must be 0 < low <= high, "
                             f"got {self.zoom}")
        for m, wgt in self.materials.items():
            if not (isinstance(wgt, (int, float)) and math.isfinite(wgt) and wgt >= 0):
                raise ValueError(f"style {self.name!r}: material weight {m!r} must be a "
                                 f"number >= 0, got {wgt!r}")
        if not any(w > 0 for w in self.materials.values()):
            raise ValueError(f"style {self.name!r}: no material has a positive weight")
        if not 0.0 < self.class_presence <= 1.0:
            raise ValueError(f"style {self.name!r}: class_presence must be in (0, 1], "
                             f"got {self.class_presence}")
        if not 0.0 <= self.occlusion_prob <= 1.0:
            raise ValueError(f"style {self.name!r}: occlusion_prob must be in [0, 1], "
                             f"got {self.occlusion_prob}")
        for effect, opts in self.imaging.items():
            _check_imaging_values(self.name, effect, opts)


def _check_imaging_values(style: str, effect: str, opts: Mapping[str, Any]) -> None:
    """Range checks of one imaging effect's options (names are checked by merge_options)."""
    where = f"style {style!r}: imaging.{effect}"
    p = opts.get("p")
    if p is not None and not (isinstance(p, (int, float)) and 0.0 <= p <= 1.0):
        raise ValueError(f"{where}.p must be a probability in [0, 1], got {p!r}")
    for key, value in opts.items():
        if key in ("p", "exemplars"):
            continue
        vals = list(value) if isinstance(value, (list, tuple)) else [value]
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in vals):
            raise ValueError(f"{where}.{key} must be a number or a (low, high) pair, "
                             f"got {value!r}")
        if len(vals) == 2 and vals[0] > vals[1]:
            raise ValueError(f"{where}.{key}: low > high in {value!r}")
        if key in ("sigma", "strength", "gradient", "blotch", "shot", "chroma", "motion") \
                and min(vals) < 0:
            raise ValueError(f"{where}.{key} must be >= 0, got {value!r}")
        if effect == "jpeg" and key == "quality" and not all(1 <= v <= 100 for v in vals):
            raise ValueError(f"{where}.quality must be in [1, 100], got {value!r}")
    if effect == "levels":
        for k, ex in enumerate(opts.get("exemplars", [])):
            ok = (isinstance(ex, Mapping) and set(ex) == {"mean", "std", "balance"}
                  and 0 <= ex["mean"] <= 255 and 0 <= ex["std"] <= 128
                  and len(ex["balance"]) == 3 and all(0 < b < 4 for b in ex["balance"]))
            if not ok:
                raise ValueError(f"{where}.exemplars[{k}] must be dict(mean=0..255, "
                                 f"std=0..128, balance=[b, g, r] > 0), got {ex!r}")


STYLES: dict[str, Style] = {}
DEFAULT_STYLE = "pavement"
#: ``format`` value of a style file (``fit-style`` output, ``generate --style FILE``).
STYLE_FILE_FORMAT = "synthetic-style"
_STYLE_FIELDS = tuple(f.name for f in fields(Style))
_FILE_ONLY_KEYS = ("format", "format_version", "base", "fit")
#: Style attributes added later, with their defaults (style files written before keep
#: their bytes: a default value is not written out).
_LATER_FIELDS = {"class_presence": 0.65}


def register_style(style: Style) -> Style:
    """Add a style to :data:`STYLES` after validating it.

    Raises:
        ValueError: If a style of that name exists.
    """
    if style.name in STYLES:
        raise ValueError(f"style {style.name!r} is already registered")
    style.validate()
    STYLES[style.name] = style
    return style


def get_style(name: str) -> Style:
    """Style by name.

    Raises:
        KeyError: If unknown (the message lists the known styles).
    """
    try:
        return STYLES[name]
    except KeyError:
        raise KeyError(f"unknown style {name!r}; available: {', '.join(STYLES)}") from None


def style_from_dict(data: Mapping[str, Any], source: str = "style dict") -> Style:
    """Build a :class:`Style` from a style file's content (or a dict of the same keys).

    Keys: every :class:`Style` attribute (``name`` required), ``base`` (a registered style
    whose values the others override; ``imaging`` and ``defects`` merge per effect / type),
    and the informative ``format``, ``format_version`` and ``fit`` (what ``fit-style``
    measured). A built-in style stays a named preset; a style file is data.

    Args:
        data: The mapping.
        source: What to name in error messages (the file path).

    Raises:
        KeyError: On an unknown key or an unknown base style.
        ValueError: On a malformed or out-of-range value (the message names key and value).
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"{source}: a style must be a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - set(_STYLE_FIELDS) - set(_FILE_ONLY_KEYS))
    if unknown:
        raise KeyError(f"{source}: unknown key(s) {unknown}; a style file holds "
                       f"{', '.join(_STYLE_FIELDS + _FILE_ONLY_KEYS)}")
    fmt = data.get("format", STYLE_FILE_FORMAT)
    if fmt != STYLE_FILE_FORMAT:
        raise ValueError(f"{source}: format must be {STYLE_FILE_FORMAT!r}, got {fmt!r}")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{source}: 'name' must be a non-empty string, got {name!r}")
    values: dict[str, Any] = {}
    base_name = data.get("base")
    if base_name is not None:
        if base_name not in STYLES:
            raise KeyError(f"{source}: unknown base style {base_name!r}; available: "
                           f"{', '.join(STYLES)}")
        base = STYLES[base_name]
        values = {f: getattr(base, f) for f in _STYLE_FIELDS}
    for key in _STYLE_FIELDS:
        if key not in data:
            continue
        value = data[key]
        if key in ("imaging", "defects") and base_name is not None:
            if not isinstance(value, Mapping):
                raise ValueError(f"{source}: {key!r} must be an object, got {value!r}")
            merged = {k: dict(v) for k, v in values[key].items()}
            for sub, opts in value.items():
                if not isinstance(opts, Mapping):
                    raise ValueError(f"{source}: {key}.{sub} must be an object, got {opts!r}")
                merged.setdefault(sub, {}).update(opts)
            value = merged
        values[key] = value
    values.setdefault("description", f"style file {source}")
    if "materials" not in values:
        raise ValueError(f"{source}: 'materials' is required when there is no 'base' style")
    try:
        style = Style(
            name=str(values["name"]), description=str(values["description"]),
            materials=dict(values["materials"]),
            zoom=tuple(float(z) for z in values.get("zoom", (0.8, 1.25))),
            empty_fraction=float(values.get("empty_fraction", 0.1)),
            defects={k: dict(v) for k, v in dict(values.get("defects", {})).items()},
            distractors=dict(values.get("distractors", {})),
            distractor_count=tuple(int(v) for v in values.get("distractor_count", (0, 2))),
            occlusion_prob=float(values.get("occlusion_prob", 0.2)),
            occlusion_count=tuple(int(v) for v in values.get("occlusion_count", (1, 3))),
            imaging={k: dict(v) for k, v in dict(values.get("imaging", {})).items()},
            grayscale=bool(values.get("grayscale", False)),
            off=frozenset(values.get("off", ())),
            class_presence=float(values.get("class_presence", 0.65)),
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{source}: malformed value ({exc})") from None
    if len(style.zoom) != 2 or len(style.distractor_count) != 2 \
            or len(style.occlusion_count) != 2:
        raise ValueError(f"{source}: zoom, distractor_count and occlusion_count must be "
                         "(low, high) pairs")
    try:
        style.validate()
    except (KeyError, ValueError) as exc:
        raise type(exc)(f"{source}: {exc.args[0] if exc.args else exc}") from None
    # Defect options: unknown names fail here, not in a worker after the folder is created.
    from .defects import defect_names, get_defect

    for dname, opts in style.defects.items():
        if dname not in defect_names():
            raise KeyError(f"{source}: defects.{dname}: unknown defect type; available: "
                           f"{', '.join(defect_names())}")
        try:
            get_defect(dname).options(opts)
        except KeyError as exc:
            raise KeyError(f"{source}: {exc.args[0]}") from None
    return style


def style_to_dict(style: Style, base: str | None = None) -> dict[str, Any]:
    """The content of a style file for ``style`` (every attribute written out)."""
    out: dict[str, Any] = {"format": STYLE_FILE_FORMAT, "format_version": 1}
    if base is not None:
        out["base"] = base
    for f in _STYLE_FIELDS:
        v = getattr(style, f)
        if f in _LATER_FIELDS and v == _LATER_FIELDS[f]:
            continue  # added after format 1's first files: written only when not the default
        if f == "off":
            v = sorted(v)
        elif isinstance(v, tuple):
            v = list(v)
        elif isinstance(v, Mapping):
            v = json.loads(json.dumps(v))
        out[f] = v
    return out


def read_style_file(path: str | Path) -> dict[str, Any]:
    """The content of a style file as read (the ``fit`` record included), not yet validated.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If it is not valid JSON.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"style file not found: {str(path)!r}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"style file {str(path)!r} is not valid JSON: {exc}") from None


def load_style(path: str | Path) -> Style:
    """Read a style file (JSON, e.g. written by ``python -m synthetic fit-style``).

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If it is not valid JSON or holds a bad value; KeyError: an unknown key.
    """
    return style_from_dict(read_style_file(path), source=str(path))


def fitted_size(style_file: Mapping[str, Any] | None,
                source: str = "style") -> tuple[int, int] | None:
    """``(width, height)``: the median size of the photos a style file was fitted to (its
    ``fit.median_size``, written by ``fit-style``); None for a preset or a file without it.

    Raises:
        ValueError: If the record is there but is not two positive integers.
    """
    fit = style_file.get("fit") if isinstance(style_file, Mapping) else None
    if not isinstance(fit, Mapping) or fit.get("median_size") is None:
        return None
    size = fit["median_size"]
    if not (isinstance(size, (list, tuple)) and len(size) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size)):
        raise ValueError(f"{source}: fit.median_size must be [width, height] in pixels, "
                         f"got {size!r}")
    return int(size[0]), int(size[1])


def is_style_file(style: Any) -> bool:
    """True if ``style`` names a style file rather than a registered preset."""
    return isinstance(style, (str, Path)) and str(style) not in STYLES and (
        str(style).lower().endswith(".json") or Path(style).is_file())


register_style(Style(
    name="pavement",
    description=(
        "default, tuned to CrackForest-like road photos: grey asphalt/concrete with fine "
        "aggregate, thin dark irregular cracks (often faint or hair-line), mild daylight "
        "gradients, slight blur, sensor noise and JPEG, blue/teal/violet casts"
    ),
    materials={"asphalt": 0.75, "concrete": 0.25},
    zoom=(0.75, 1.3),
    empty_fraction=0.1,
    defects={
        "crack": {"width": (1.8, 4.5), "hairline_prob": 0.2, "hairline_width": (1.0, 1.8),
                  "darkness": (0.3, 0.75), "rim_ratio": (0.2, 0.6), "through_prob": 0.75,
                  "branch_rate": (0.2, 1.0), "secondary": (0, 2), "halo_prob": 0.15},
    },
    distractors={"hair": 1.0, "object_shadow": 0.6, "edge": 0.4, "sealant": 0.15,
                 "joint": 0.3, "scratch_marks": 0.3, "paint_line": 0.15},
    distractor_count=(0, 2),
    occlusion_prob=0.25,
    # Left off after the 3-seed ablation on CFD (docs/generator.md, "Ablation"): without
    # these families the model invents far fewer cracks on clean surface (false-alarm tiles
    # 42 -> 13 %, lower on every seed) at an IoU that is not lower (30.5 -> 32.5).
    off=frozenset({"branching", "jagged", "rims", "empty_images", "spalls", "dust", "fading"}),
    imaging={
        "illumination": {"p": 0.8, "gradient": (0.0, 0.2)},
        "shadows": {"p": 0.06},
        "perspective": {"p": 0.15, "strength": (0.02, 0.08)},
        "blur": {"p": 0.6, "sigma": (0.3, 0.9), "motion_p": 0.1, "motion": (1.5, 4.0)},
        "vignetting": {"p": 0.3, "strength": (0.05, 0.25)},
        "color_cast": {"p": 0.85, "strength": 0.025},
        "noise": {"sigma": (1.0, 3.5)},
        "jpeg": {"p": 0.9, "quality": (65, 95)},
    },
))

register_style(Style(
    name="lab",
    description=(
        "clean laboratory shots: even light, concrete/plaster/ceramic specimens, crisp "
        "dark cracks, no distractors or occluders, little noise, no compression"
    ),
    materials={"concrete": 0.45, "plaster": 0.35, "ceramic": 0.2},
    zoom=(0.9, 1.1),
    empty_fraction=0.1,
    defects={
        "crack": {"darkness": (0.6, 0.9), "width": (1.5, 5.0), "hairline_prob": 0.1,
                  "fade": (0.0, 0.2), "dust_prob": 0.05, "halo_prob": 0.0},
    },
    distractors={},
    distractor_count=(0, 0),
    occlusion_prob=0.0,
    imaging={
        "illumination": {"p": 0.3, "gradient": (0.0, 0.05), "blotch": (0.0, 0.0)},
        "shadows": {"p": 0.0},
        "perspective": {"p": 0.0},
        "blur": {"p": 0.2, "sigma": (0.3, 0.6), "motion_p": 0.0},
        "vignetting": {"p": 0.0},
        "color_cast": {"p": 0.2, "strength": 0.02},
        "tone": {"p": 0.0},
        "noise": {"p": 1.0, "sigma": (0.5, 1.5), "shot": (0.0, 0.01), "chroma": (0.0, 0.3)},
        "jpeg": {"p": 0.0},
    },
))

register_style(Style(
    name="field",
    description=(
        "harsh outdoor inspection photos of concrete, plaster and asphalt: strong light "
        "gradients and cast shadows, perspective, blur, heavy noise and JPEG, strong "
        "colour casts, many distractors and occluders, faint cracks"
    ),
    materials={"concrete": 0.4, "plaster": 0.3, "asphalt": 0.3},
    zoom=(0.6, 1.6),
    empty_fraction=0.1,
    defects={"crack": {"darkness": (0.25, 0.8), "fade": (0.1, 0.7), "dust_prob": 0.5}},
    distractors={k: 1.0 for k in DISTRACTORS if k != "paint_line"},
    distractor_count=(1, 4),
    occlusion_prob=0.4,
    imaging={
        "illumination": {"p": 0.95, "gradient": (0.05, 0.4), "blotch": (0.02, 0.15)},
        "shadows": {"p": 0.45, "darkness": (0.3, 0.7), "softness": (2.0, 30.0)},
        "highlights": {"p": 0.1, "amplitude": (15.0, 60.0)},
        "perspective": {"p": 0.5, "strength": (0.03, 0.15)},
        "blur": {"p": 0.7, "sigma": (0.4, 1.6), "motion_p": 0.3, "motion": (2.0, 7.0)},
        "vignetting": {"p": 0.5, "strength": (0.1, 0.45)},
        "color_cast": {"p": 0.95, "strength": 0.1},
        "tone": {"p": 0.9, "gamma": (0.7, 1.4), "contrast": (0.7, 1.3), "exposure": (0.7, 1.3)},
        "noise": {"p": 1.0, "sigma": (2.0, 7.0), "shot": (0.0, 0.1), "chroma": (0.0, 3.0)},
        "jpeg": {"p": 0.9, "quality": (40, 85)},
    },
))

register_style(Style(
    name="asphalt_road",
    description=(
        "road survey images: coarse asphalt only, wider and networked (alligator) cracks, "
        "sealed cracks, worn paint lines, hard sun shadows, strong perspective"
    ),
    materials={"asphalt": 1.0},
    zoom=(1.0, 1.8),
    empty_fraction=0.1,
    defects={
        "crack": {"width": (1.5, 5.0), "hairline_prob": 0.1, "branch_rate": (0.3, 1.8),
                  "branch_angle": (0.9, 1.6), "branch_length": (0.2, 0.6),
                  "secondary": (0, 3), "spall_prob": 0.5, "darkness": (0.4, 0.85)},
    },
    distractors={"paint_line": 1.0, "sealant": 1.0, "object_shadow": 0.8, "edge": 0.4,
                 "hair": 0.3, "joint": 0.2},
    distractor_count=(1, 3),
    occlusion_prob=0.35,
    imaging={
        "illumination": {"p": 0.9, "gradient": (0.05, 0.3)},
        "shadows": {"p": 0.5, "darkness": (0.35, 0.65), "softness": (1.0, 8.0)},
        "perspective": {"p": 0.6, "strength": (0.05, 0.18)},
        "blur": {"p": 0.5, "sigma": (0.3, 1.2), "motion_p": 0.35, "motion": (2.0, 8.0)},
        "color_cast": {"p": 0.9, "strength": 0.07},
        "noise": {"sigma": (1.5, 5.0)},
        "jpeg": {"p": 0.9, "quality": (50, 90)},
    },
))

register_style(Style(
    name="metal_line",
    description=(
        "industrial line-scan look (cf. magnetic tiles): grey machined or painted metal, "
        "brushed streaks, thin straight hair-line cracks, specular highlights, vignetting, "
        "scratch marks and part borders as distractors, grey images"
    ),
    materials={"machined_metal": 0.65, "painted_metal": 0.35},
    zoom=(0.8, 1.2),
    empty_fraction=0.15,
    defects={
        "crack": {"width": (1.0, 2.8), "hairline_prob": 0.4, "turn_sigma": (0.05, 0.25),
                  "straightness": (0.1, 0.3), "roughness": (0.08, 0.2), "length": (0.15, 0.6),
                  "through_prob": 0.15, "darkness": (0.4, 0.8), "branch_rate": (0.0, 0.5),
                  "secondary": (0, 0), "spall_prob": 0.1, "dust_prob": 0.0, "halo_prob": 0.3},
        "spot": {"radius": (2.0, 8.0)},
    },
    distractors={"scratch_marks": 1.0, "edge": 0.3, "hair": 0.3, "object_shadow": 0.2},
    distractor_count=(0, 2),
    occlusion_prob=0.05,
    imaging={
        "illumination": {"p": 0.9, "gradient": (0.05, 0.3)},
        "shadows": {"p": 0.0},
        "highlights": {"p": 0.7, "amplitude": (20.0, 80.0), "elongation": (2.0, 8.0)},
        "perspective": {"p": 0.1, "strength": (0.01, 0.05)},
        "blur": {"p": 0.4, "sigma": (0.3, 0.8), "motion_p": 0.1},
        "vignetting": {"p": 0.8, "strength": (0.2, 0.5)},
        "color_cast": {"p": 0.0},
        "tone": {"p": 0.9, "gamma": (1.0, 1.3), "contrast": (0.9, 1.3), "exposure": (0.45, 0.95)},
        "noise": {"sigma": (1.5, 5.0), "shot": (0.0, 0.08), "chroma": (0.0, 0.0)},
        "jpeg": {"p": 0.5, "quality": (75, 95)},
    },
    grayscale=True,
))

register_style(Style(
    name="tile",
    description=(
        "glazed ceramic tiles (and some plaster) indoors: grout-line grids, glossy "
        "highlights, thin dark cracks across tiles, mild perspective"
    ),
    materials={"ceramic": 0.8, "plaster": 0.2},
    zoom=(0.8, 1.3),
    empty_fraction=0.1,
    defects={"crack": {"width": (1.0, 3.0), "hairline_prob": 0.35, "darkness": (0.4, 0.85),
                       "dust_prob": 0.1, "spall_prob": 0.2}},
    distractors={"joint": 2.0, "scratch_marks": 0.5, "hair": 0.5, "object_shadow": 0.3},
    distractor_count=(1, 2),
    occlusion_prob=0.1,
    imaging={
        "highlights": {"p": 0.6, "amplitude": (20.0, 90.0)},
        "perspective": {"p": 0.3, "strength": (0.02, 0.1)},
        "shadows": {"p": 0.15},
        "jpeg": {"p": 0.7, "quality": (70, 95)},
    },
))

register_style(Style(
    name="mixed",
    description=(
        "domain randomisation: every material, distractor and imaging effect with wide "
        "ranges; useful as a diverse source set"
    ),
    materials=dict.fromkeys(MATERIALS, 1.0),
    zoom=(0.6, 1.8),
    empty_fraction=0.1,
    defects={"crack": {"width": (0.8, 6.0), "darkness": (0.25, 0.9)}},
    distractors=dict.fromkeys(DISTRACTORS, 1.0),
    distractor_count=(0, 4),
    occlusion_prob=0.3,
    imaging={
        "illumination": {"p": 0.9, "gradient": (0.0, 0.35), "blotch": (0.0, 0.12)},
        "shadows": {"p": 0.3},
        "highlights": {"p": 0.3},
        "perspective": {"p": 0.35, "strength": (0.02, 0.15)},
        "blur": {"p": 0.6, "sigma": (0.3, 1.5), "motion_p": 0.25},
        "vignetting": {"p": 0.4},
        "color_cast": {"p": 0.9, "strength": 0.08},
        "tone": {"p": 0.8, "gamma": (0.75, 1.35), "contrast": (0.75, 1.3)},
        "noise": {"sigma": (0.5, 6.0), "shot": (0.0, 0.08), "chroma": (0.0, 2.5)},
        "jpeg": {"p": 0.8, "quality": (45, 95)},
    },
))

# Styles with a material of their own (registered there so that `mixed` above keeps the
# materials of surfaces.py and renders as before).
from . import magnetic_tile  # noqa: E402,F401  (registers the ferrite material and its style)
