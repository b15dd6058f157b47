"""Inspection pictures of ``tools/predict.py``, readable on real photos.

They live in :mod:`mmseg_uda.deploy.visualize` (torch-free: the ONNX runner draws the same
pictures) and are re-exported here: the tint, boxes, heat map and panel primitives,
:func:`readable_overlay` (labels only on readable regions, one region count per image),
:func:`with_colour_bar` (heat and attention maps with their colour scale) and
:func:`write_palette_png` (class-id masks shown in the class colours).
"""

from ..deploy.visualize import (
    colorize,
    default_label_min_area,
    heatmap,
    overlay,
    palette_png_bytes,
    panel,
    readable_overlay,
    with_colour_bar,
    write_palette_png,
)

__all__ = ["colorize", "default_label_min_area", "heatmap", "overlay", "palette_png_bytes",
           "panel", "readable_overlay", "with_colour_bar", "write_palette_png"]
