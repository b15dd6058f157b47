"""Linear probe of frozen backbone features: how well a pixel-wise linear classifier on an
encoder's features separates a defect from the background (pure numpy / scikit-learn).

The standard check of a self-supervised encoder without fine-tuning: the features of every
stage, upsampled to the first stage's grid (stride 4) and concatenated, are one sample per
cell; a cell is a defect when any of its pixels is (ignore cells are left out). A logistic
regression (balanced class weights, standardised features) is fitted on the cells of training
images and scored on those of other images: average precision (threshold-free) and the IoU at
probability 0.5.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def cell_labels(mask: np.ndarray, stride: int, defect: int = 1,
                ignore: int = 255) -> np.ndarray:
    """(h, w) cell labels of a (H, W) mask: 1 if any pixel of the cell is ``defect``, else 0;
    -1 where every pixel is ``ignore``. h = ceil(H / stride)."""
    h, w = -(-mask.shape[0] // stride), -(-mask.shape[1] // stride)
    padded = np.full((h * stride, w * stride), ignore, mask.dtype)
    padded[:mask.shape[0], :mask.shape[1]] = mask
    cells = padded.reshape(h, stride, w, stride).transpose(0, 2, 1, 3).reshape(h, w, -1)
    out = (cells == defect).any(-1).astype(np.int64)
    out[(cells == ignore).all(-1)] = -1
    return out


def fit_probe(train_x: np.ndarray, train_y: np.ndarray, seed: int = 0, c: float = 1.0):
    """A logistic regression (balanced class weights, standardised features) on the cells.

    Args:
        train_x (np.ndarray): (n, d) features.
        train_y (np.ndarray): (n,) labels in {0, 1} (ignore cells removed).
        seed (int): seed of the solver. Default: 0.
        c (float): inverse L2 regularisation strength. Default: 1.

    Returns:
        a fitted scikit-learn pipeline (``predict_proba``).
    """
    if train_y.sum() == 0 or train_y.sum() == len(train_y):
        raise ValueError("the probe's training cells need both classes")
    clf = make_pipeline(StandardScaler(), LogisticRegression(
        C=c, class_weight="balanced", max_iter=300, random_state=seed))
    return clf.fit(train_x, train_y)


def probe_scores(prob: np.ndarray, labels: np.ndarray) -> dict:
    """Average precision, and IoU / precision / recall at 0.5, of defect probabilities.

    Args:
        prob (np.ndarray): (n,) the probe's defect probability of each test cell.
        labels (np.ndarray): (n,) labels in {0, 1}.
    """
    pred = prob >= 0.5
    tp = float((pred & (labels == 1)).sum())
    fp = float((pred & (labels == 0)).sum())
    fn = float((~pred & (labels == 1)).sum())
    return dict(average_precision=float(average_precision_score(labels, prob)),
                iou=tp / max(tp + fp + fn, 1.0), precision=tp / max(tp + fp, 1.0),
                recall=tp / max(tp + fn, 1.0), cells=int(len(labels)),
                defect_fraction=float(labels.mean()))
