"""The linear probe of backbone features (tools/probe_backbone.py)."""

import json
import os.path as osp
import sys

import numpy as np
import pytest

from helpers import REPO, write_dataset
from mmseg_uda.analysis import cell_labels, fit_probe, probe_scores


def test_cell_labels_any_defect_pixel_and_ignore():
    mask = np.zeros((6, 8), np.uint8)
    mask[0, 0] = 1
    mask[4:, 4:] = 255
    cells = cell_labels(mask, 4)
    assert cells.shape == (2, 2)
    assert cells[0, 0] == 1 and cells[0, 1] == 0 and cells[1, 0] == 0
    assert cells[1, 1] == -1  # ignore pixels and padding only


def test_probe_separates_informative_features_and_not_noise():
    rng = np.random.default_rng(0)
    y = (rng.random(4000) < 0.1).astype(np.int64)
    informative = rng.normal(size=(4000, 8)) + y[:, None] * 2.0
    noise = rng.normal(size=(4000, 8))
    good = fit_probe(informative[:3000], y[:3000])
    bad = fit_probe(noise[:3000], y[:3000])
    good_scores = probe_scores(good.predict_proba(informative[3000:])[:, 1], y[3000:])
    bad_scores = probe_scores(bad.predict_proba(noise[3000:])[:, 1], y[3000:])
    assert good_scores["average_precision"] > 0.95 and good_scores["iou"] > 0.5
    assert bad_scores["average_precision"] < 0.3
    with pytest.raises(ValueError, match="both classes"):
        fit_probe(noise[:10], np.zeros(10, np.int64))


def test_probe_tool_on_a_tiny_labeled_set(tmp_path, capsys):
    sys.path.insert(0, REPO)
    from tools import probe_backbone

    root = write_dataset(str(tmp_path / "cracks"), num=6, size=(64, 64))
    out = str(tmp_path / "probe.json")
    probe_backbone.main(["scratch:0", "--target", root, "--background-cells", "50",
                         "--out", out])
    captured = capsys.readouterr()
    assert "scratch:0: AP" in captured.out
    # a root that is not a dev split: choosing by its test.txt would tune on it
    assert "not a development split" in captured.err
    with open(out) as f:
        result = json.load(f)["results"]["scratch:0"]
    assert 0.0 <= result["average_precision"] <= 1.0 and result["cells"] == 2 * 16 * 16
    with open(osp.join(root, "dev_split.json"), "w") as f:
        json.dump({"source": "elsewhere"}, f)
    probe_backbone.main(["scratch:0", "--target", root, "--background-cells", "50"])
    assert "not a development split" not in capsys.readouterr().err
