"""Procedural synthetic defect images with exact pixel masks (the labelled source domain).

Plain numpy/OpenCV (no torch, mmengine or mmseg). Public API:

* :func:`render_sample` -- one image, mask and parameters, deterministic.
* :func:`generate_dataset` -- a whole dataset folder (images/, masks/, train.txt,
  val.txt, meta.json, optional preview.png), multi-process and reproducible.
* :data:`STYLES`, :data:`FEATURES`, :func:`defect_names`, :func:`register_defect`,
  :class:`DefectType` -- presets, ablation switches and the defect-type extension point.

See ``docs/generator.md``.
"""

from .compose import labels_from_coverage, parse_size, render_sample
from .defects import DefectRender, DefectType, defect_names, get_defect, register_defect
from .styles import DEFAULT_STYLE, FEATURES, STYLES, Style, get_style, register_style
from .version import __version__
from .writer import generate_dataset, write_preview

__all__ = [
    "DEFAULT_STYLE",
    "DefectRender",
    "DefectType",
    "FEATURES",
    "STYLES",
    "Style",
    "__version__",
    "defect_names",
    "generate_dataset",
    "get_defect",
    "get_style",
    "labels_from_coverage",
    "parse_size",
    "register_defect",
    "register_style",
    "render_sample",
    "write_preview",
]
