"""Evaluation metrics registered into mmseg's METRICS registry."""

from .metrics import DefectMetric, confusion_matrix, scores_from_confusion

__all__ = ["DefectMetric", "confusion_matrix", "scores_from_confusion"]
