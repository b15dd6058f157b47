"""Domain-gap statistics: ≈ 0 / chance for identical sets, larger for shifted ones."""

import numpy as np
import pytest

from mmseg_uda.analysis import (
    coral_distance,
    domain_classifier_accuracy,
    domain_gap_statistics,
    embed_2d,
    median_bandwidth,
    mmd2_unbiased,
    mmd_permutation_test,
)


@pytest.fixture
def sets():
    rng = np.random.default_rng(0)
    return dict(a=rng.normal(size=(80, 12)), b=rng.normal(size=(80, 12)),
                shift=rng.normal(size=(80, 12)) + 1.0, rng=rng)


def test_median_bandwidth():
    z = np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 4.0]])  # distances 5, 4, 3
    assert median_bandwidth(z) == 4.0
    assert median_bandwidth(np.zeros((3, 2))) == 1.0


def test_mmd_identical_and_shifted(sets):
    a, b, shift = sets["a"], sets["b"], sets["shift"]
    same_set, _ = mmd2_unbiased(a, a)
    assert abs(same_set) < 2.0 / len(a)      # unbiased: exactly (2/n)(mean off-diag k - 1)
    same_dist, sigma = mmd2_unbiased(a, b)
    far, _ = mmd2_unbiased(a, shift)
    farther, _ = mmd2_unbiased(a, shift + 1.0)
    assert abs(same_dist) < 0.02 and sigma > 0
    assert far > 10 * abs(same_dist) and farther > far
    # manual unbiased estimator with a fixed bandwidth
    x, y = a[:5], shift[:4]

    def k(p, q):
        return np.exp(-((p - q) ** 2).sum() / (2 * 2.0 ** 2))

    kxx = np.mean([k(x[i], x[j]) for i in range(5) for j in range(5) if i != j])
    kyy = np.mean([k(y[i], y[j]) for i in range(4) for j in range(4) if i != j])
    kxy = np.mean([k(p, q) for p in x for q in y])
    assert mmd2_unbiased(x, y, bandwidth=2.0)[0] == pytest.approx(kxx + kyy - 2 * kxy)


def test_mmd_permutation_p_values(sets):
    same = mmd_permutation_test(sets["a"], sets["b"], 100, seed=1)
    diff = mmd_permutation_test(sets["a"], sets["shift"], 100, seed=1)
    assert same["p_value"] > 0.05
    assert diff["p_value"] == pytest.approx(1 / 101)


def test_coral(sets):
    a = sets["a"]
    assert coral_distance(a, a) == 0.0
    scaled = coral_distance(a, a * 3.0)
    d = a.shape[1]
    cov = np.cov(a, rowvar=False)
    assert scaled == pytest.approx(((9 * cov - cov) ** 2).sum() / (4 * d * d))
    assert coral_distance(a, sets["b"]) < scaled


def test_domain_classifier_chance_and_separable(sets):
    same = domain_classifier_accuracy(sets["a"], sets["b"], folds=5)
    assert 0.3 < same["balanced_accuracy"] < 0.7 and same["chance"] == 0.5
    identical = domain_classifier_accuracy(sets["a"], sets["a"])
    assert identical["accuracy"] <= 0.6       # each point appears with both labels
    apart = domain_classifier_accuracy(sets["a"], sets["shift"] + 1.0)
    assert apart["accuracy"] > 0.95
    small = domain_classifier_accuracy(sets["a"][:3], sets["shift"][:20], folds=5)
    assert small["folds"] == 3 and small["chance"] == pytest.approx(20 / 23)
    with pytest.raises(ValueError, match="same d"):
        domain_classifier_accuracy(sets["a"], sets["b"][:, :5])


def test_embed_2d_separates_far_clusters(sets):
    z = np.concatenate([sets["a"][:30], sets["a"][30:60] + 8.0])
    coords = embed_2d(z, "tsne", seed=0)
    assert coords.shape == (60, 2)
    c0, c1 = coords[:30].mean(0), coords[30:].mean(0)
    spread = max(coords[:30].std(0).max(), coords[30:].std(0).max())
    assert np.linalg.norm(c0 - c1) > 2 * spread
    with pytest.raises(ValueError, match="method"):
        embed_2d(z, "pca")


def test_statistics_bundle(sets):
    stats = domain_gap_statistics(sets["a"], sets["shift"], folds=3, permutations=20)
    assert set(stats) == {"domain_classifier", "mmd", "coral", "mean_distance"}
    assert stats["mean_distance"] > 2.0 and stats["mmd"]["permutations"] == 20
    no_test = domain_gap_statistics(sets["a"], sets["b"], permutations=0)
    assert no_test["mmd"]["p_value"] is None
