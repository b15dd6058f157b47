from .defect_metric import DefectMetric, confusion_matrix, scores_from_confusion

__all__ = ["DefectMetric", "confusion_matrix", "scores_from_confusion"]
