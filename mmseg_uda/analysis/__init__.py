"""Analysis: threshold calibration and domain-gap statistics (pure numpy / scikit-learn).

Only :mod:`~mmseg_uda.analysis.plots` writes files; everything else maps arrays to numbers.
"""

from .calibration import (
    best_f1_point,
    curve_for_json,
    pr_curve,
    pr_curve_from_histograms,
    probability_histograms,
    recall_point,
    tile_boxes,
    verdict_items,
)
from .domain_gap import (
    coral_distance,
    domain_classifier_accuracy,
    domain_gap_statistics,
    embed_2d,
    median_bandwidth,
    mmd2_unbiased,
    mmd_permutation_test,
    umap_available,
)
from .linear_probe import cell_labels, fit_probe, probe_scores

__all__ = [
    "best_f1_point", "cell_labels", "coral_distance", "curve_for_json",
    "domain_classifier_accuracy", "domain_gap_statistics", "embed_2d", "fit_probe",
    "median_bandwidth", "mmd2_unbiased", "mmd_permutation_test", "pr_curve",
    "pr_curve_from_histograms", "probability_histograms", "probe_scores", "recall_point",
    "tile_boxes", "umap_available", "verdict_items",
]
