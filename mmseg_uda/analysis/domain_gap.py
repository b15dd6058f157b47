"""Domain-gap statistics between two sets of embeddings (source vs target).

* :func:`domain_classifier_accuracy` — cross-validated accuracy of a logistic regression that
  tells the domains apart (≈ chance, i.e. 50 % for equal sets, when the domains are aligned);
* :func:`mmd2_unbiased` — squared maximum mean discrepancy with an RBF kernel whose bandwidth is
  the median pairwise distance (unbiased estimator: ≈ 0, possibly slightly negative, for equal
  distributions), with a permutation test in :func:`mmd_permutation_test`;
* :func:`coral_distance` — the CORAL distance ‖C_s − C_t‖²_F / (4 d²) between covariances
  (Sun & Saenko, Deep CORAL, 2016);
* :func:`embed_2d` — t-SNE (scikit-learn) or UMAP (if ``umap-learn`` is installed) coordinates.
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
from scipy.spatial.distance import cdist, pdist
from sklearn.linear_model import LogisticRegression
from sklearn.manifold import TSNE
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def _check(x: np.ndarray, y: np.ndarray, min_rows: int = 2) -> Tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"expected two (n, d) arrays with the same d, got {x.shape} and "
                         f"{y.shape}")
    if len(x) < min_rows or len(y) < min_rows:
        raise ValueError(f"need at least {min_rows} samples per domain, got {len(x)} and "
                         f"{len(y)}")
    return x, y


def median_bandwidth(z: np.ndarray) -> float:
    """Median heuristic: the median Euclidean distance between distinct rows of ``z``.

    Args:
        z (np.ndarray): (n, d) pooled samples of both domains.

    Returns:
        float: the RBF bandwidth σ (1.0 if all rows coincide).
    """
    d = pdist(np.asarray(z, np.float64))
    d = d[d > 0]
    return float(np.median(d)) if len(d) else 1.0


def _rbf(d2: np.ndarray, bandwidth: float) -> np.ndarray:
    return np.exp(-d2 / (2.0 * bandwidth ** 2))


def _mmd2_from_kernel(k: np.ndarray, n_x: int) -> float:
    kxx, kyy, kxy = k[:n_x, :n_x], k[n_x:, n_x:], k[:n_x, n_x:]
    m, n = kxx.shape[0], kyy.shape[0]
    sum_xx = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    sum_yy = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(sum_xx + sum_yy - 2.0 * kxy.mean())


def mmd2_unbiased(x: np.ndarray, y: np.ndarray,
                  bandwidth: Optional[float] = None) -> Tuple[float, float]:
    """Unbiased estimate of MMD² with an RBF kernel k(a, b) = exp(−‖a − b‖² / (2σ²)).

    Args:
        x (np.ndarray): (m, d) source samples, m >= 2.
        y (np.ndarray): (n, d) target samples, n >= 2.
        bandwidth (float, optional): σ; the median pairwise distance of the pooled samples
            when omitted. Default: None.

    Returns:
        tuple[float, float]: ``(mmd2, bandwidth)``.
    """
    x, y = _check(x, y)
    z = np.concatenate([x, y])
    sigma = bandwidth if bandwidth is not None else median_bandwidth(z)
    k = _rbf(cdist(z, z, "sqeuclidean"), sigma)
    return _mmd2_from_kernel(k, len(x)), float(sigma)


def mmd_permutation_test(x: np.ndarray, y: np.ndarray, num_permutations: int = 500,
                         seed: int = 0, bandwidth: Optional[float] = None) -> dict:
    """MMD² and the p-value of "same distribution" by permuting the domain labels.

    Args:
        x (np.ndarray): (m, d) source samples.
        y (np.ndarray): (n, d) target samples.
        num_permutations (int): random relabellings. Default: 500.
        seed (int): random seed. Default: 0.
        bandwidth (float, optional): RBF σ (median heuristic when omitted). Default: None.

    Returns:
        dict: ``mmd2``, ``bandwidth``, ``p_value`` ((1 + #{perm >= observed}) / (1 + P)),
        ``permutations``.
    """
    x, y = _check(x, y)
    z = np.concatenate([x, y])
    sigma = bandwidth if bandwidth is not None else median_bandwidth(z)
    k = _rbf(cdist(z, z, "sqeuclidean"), sigma)
    observed = _mmd2_from_kernel(k, len(x))
    rng = np.random.default_rng(seed)
    exceed = 0
    for _ in range(num_permutations):
        p = rng.permutation(len(z))
        exceed += _mmd2_from_kernel(k[np.ix_(p, p)], len(x)) >= observed
    return dict(mmd2=observed, bandwidth=float(sigma),
                p_value=(1 + exceed) / (1 + num_permutations), permutations=num_permutations)


def coral_distance(x: np.ndarray, y: np.ndarray) -> float:
    """CORAL distance ‖C_x − C_y‖²_F / (4 d²) between the feature covariances.

    Args:
        x (np.ndarray): (m, d) source samples, m >= 2.
        y (np.ndarray): (n, d) target samples, n >= 2.
    """
    x, y = _check(x, y)
    d = x.shape[1]
    diff = np.cov(x, rowvar=False) - np.cov(y, rowvar=False)
    return float((diff ** 2).sum() / (4.0 * d * d))


def domain_classifier_accuracy(x: np.ndarray, y: np.ndarray, folds: int = 5, seed: int = 0,
                               c: float = 1.0) -> dict:
    """Cross-validated accuracy of a logistic regression separating the two domains.

    Features are standardised inside each fold (scikit-learn pipeline); folds are stratified.

    Args:
        x (np.ndarray): (m, d) source samples.
        y (np.ndarray): (n, d) target samples.
        folds (int): number of folds (reduced to the smaller domain's size if needed, >= 2).
            Default: 5.
        seed (int): shuffling seed of the folds. Default: 0.
        c (float): inverse L2 regularisation strength of the logistic regression. Default: 1.

    Returns:
        dict: ``accuracy`` and ``accuracy_std`` over folds, ``balanced_accuracy`` (mean recall
        of both domains, 0.5 = chance whatever the set sizes), ``chance`` (the majority-class
        accuracy), ``folds``.
    """
    x, y = _check(x, y)
    folds = max(2, min(folds, len(x), len(y)))
    data = np.concatenate([x, y])
    domain = np.concatenate([np.zeros(len(x), int), np.ones(len(y), int)])
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    res = cross_validate(clf, data, domain, cv=cv, scoring=("accuracy", "balanced_accuracy"))
    return dict(accuracy=float(res["test_accuracy"].mean()),
                accuracy_std=float(res["test_accuracy"].std()),
                balanced_accuracy=float(res["test_balanced_accuracy"].mean()),
                chance=float(max(len(x), len(y)) / len(data)), folds=int(folds))


def umap_available() -> bool:
    """Whether ``umap-learn`` is importable."""
    try:
        import umap  # noqa: F401
    except ImportError:
        return False
    return True


def embed_2d(z: np.ndarray, method: str = "tsne", seed: int = 0,
             perplexity: Optional[float] = None) -> np.ndarray:
    """2-D coordinates of the rows of ``z`` for plotting (standardised features).

    Args:
        z (np.ndarray): (n, d) pooled embeddings, n >= 4.
        method (str): ``'tsne'`` (scikit-learn) or ``'umap'`` (needs ``umap-learn``).
            Default: ``'tsne'``.
        seed (int): random seed. Default: 0.
        perplexity (float, optional): t-SNE perplexity; ``min(30, (n - 1) / 3)`` when
            omitted. Default: None.

    Returns:
        np.ndarray: (n, 2) coordinates.
    """
    z = StandardScaler().fit_transform(np.asarray(z, np.float64))
    n = len(z)
    if n < 4:
        raise ValueError(f"need at least 4 embeddings for a 2-D map, got {n}")
    if method == "tsne":
        perplexity = perplexity or max(1.0, min(30.0, (n - 1) / 3.0))
        return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed
                    ).fit_transform(z)
    if method == "umap":
        import umap

        return umap.UMAP(n_components=2, n_neighbors=min(15, n - 1), random_state=seed
                         ).fit_transform(z)
    raise ValueError(f"method must be 'tsne' or 'umap', got {method!r}")


def domain_gap_statistics(x: np.ndarray, y: np.ndarray, folds: int = 5, seed: int = 0,
                          permutations: int = 500) -> dict:
    """All statistics of one pair of embedding sets.

    Args:
        x (np.ndarray): (m, d) source embeddings.
        y (np.ndarray): (n, d) target embeddings.
        folds (int): folds of the domain classifier. Default: 5.
        seed (int): random seed (folds, permutations). Default: 0.
        permutations (int): permutations of the MMD test (0 = no test). Default: 500.

    Returns:
        dict: ``domain_classifier`` (see :func:`domain_classifier_accuracy`), ``mmd``
        (``mmd2``, ``bandwidth``, ``p_value``), ``coral``, ``mean_distance`` (‖μ_x − μ_y‖).
    """
    x, y = _check(x, y)
    if permutations > 0:
        mmd = mmd_permutation_test(x, y, permutations, seed)
    else:
        mmd2, sigma = mmd2_unbiased(x, y)
        mmd = dict(mmd2=mmd2, bandwidth=sigma, p_value=None, permutations=0)
    return dict(domain_classifier=domain_classifier_accuracy(x, y, folds, seed), mmd=mmd,
                coral=coral_distance(x, y),
                mean_distance=float(np.linalg.norm(x.mean(0) - y.mean(0))))
