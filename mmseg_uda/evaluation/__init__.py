"""Evaluation metrics registered into mmseg's METRICS registry, and their pure helpers."""

from .functional import (
    DEFAULT_MIN_AREA,
    distance_to_mask,
    largest_region_area,
    tile_boxes,
    tile_verdict_counts,
    tolerant_match_counts,
    tolerant_scores,
)
from .metrics import DefectMetric, confusion_matrix, scores_from_confusion
from .report import markdown_table, report_to_markdown, write_csv

__all__ = [
    "DEFAULT_MIN_AREA", "DefectMetric", "confusion_matrix", "distance_to_mask",
    "largest_region_area", "markdown_table", "report_to_markdown", "scores_from_confusion",
    "tile_boxes", "tile_verdict_counts", "tolerant_match_counts", "tolerant_scores", "write_csv",
]
