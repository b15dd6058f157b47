"""Inspection pictures; they live in :mod:`mmseg_uda.deploy.visualize` (torch-free, shared with
the ONNX runner) and are re-exported here for the inference API."""

from ..deploy.visualize import colorize, heatmap, overlay, panel  # noqa: F401
