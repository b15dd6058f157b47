"""UDADataset: pairing, metainfo, checks at build time, rare-class sampling."""

import logging
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.dataset import pseudo_collate
from mmseg.registry import DATASETS

from helpers import write_dataset
from mmseg_uda.datasets import DatasetError, UDADataset, uda_dataset
from mmseg_uda.datasets.uda_dataset import rare_class_coverage, rare_class_probabilities

SOURCE_PIPELINE = [dict(type="LoadImageFromFile"), dict(type="LoadAnnotations"),
                   dict(type="PackSegInputs")]
TARGET_PIPELINE = [dict(type="LoadImageFromFile"), dict(type="PackSegInputs")]
THREE = dict(classes=("background", "scratch", "dent"))


def paired_cfg(source_root, target_root, metainfo=None, **kwargs):
    src = dict(type="DefectDataset", data_root=source_root, split="train.txt",
               pipeline=SOURCE_PIPELINE)
    tgt = dict(type="DefectDataset", data_root=target_root, split="train.txt",
               with_masks=False, pipeline=TARGET_PIPELINE)
    if metainfo:
        src["metainfo"] = tgt["metainfo"] = metainfo
    return dict(type="UDADataset", source=src, target=tgt, **kwargs)


def test_pairs_a_source_item_with_a_random_target_item(tmp_path):
    src = write_dataset(str(tmp_path / "src"), num=6, seed=0)
    tgt = write_dataset(str(tmp_path / "tgt"), num=9, seed=1, with_masks=False)
    ds = DATASETS.build(paired_cfg(src, tgt))
    assert isinstance(ds, UDADataset)
    assert len(ds) == 4 and len(ds.target) == 6
    assert ds.metainfo["classes"] == ("background", "crack")
    np.random.seed(0)
    first = [ds[1]["target"]["data_samples"].img_path for _ in range(12)]
    np.random.seed(0)
    again = [ds[1]["target"]["data_samples"].img_path for _ in range(12)]
    assert first == again and len(set(first)) > 1  # random target, reproducible by seed
    sample = ds[2]
    assert sample["source"]["data_samples"].img_path.endswith("0002.png")
    assert "gt_sem_seg" in sample["source"]["data_samples"]
    assert "gt_sem_seg" not in sample["target"]["data_samples"]
    batch = pseudo_collate([ds[0], ds[1]])
    assert len(batch["source"]["inputs"]) == 2 and len(batch["target"]["data_samples"]) == 2


def test_bad_data_fails_at_build_time_naming_the_path(tmp_path):
    src = write_dataset(str(tmp_path / "src"), num=6, seed=0)
    empty = tmp_path / "empty"
    (empty / "images").mkdir(parents=True)
    with pytest.raises(DatasetError, match=str(empty / "images")):
        DATASETS.build(paired_cfg(src, str(empty)) | {"target": dict(
            type="DefectDataset", data_root=str(empty), with_masks=False,
            pipeline=TARGET_PIPELINE)})
    tgt = write_dataset(str(tmp_path / "tgt"), num=6, seed=1, with_masks=False)
    bad_mask = osp.join(src, "masks", "0001.png")
    cv2.imwrite(bad_mask, np.full((64, 64), 7, np.uint8))
    with pytest.raises(DatasetError, match=bad_mask):
        DATASETS.build(paired_cfg(src, tgt))
    src3 = write_dataset(str(tmp_path / "src3"), num=6, seed=0, num_classes=3)
    with pytest.raises(DatasetError, match="same metainfo.classes"):
        DATASETS.build(dict(paired_cfg(src3, tgt), source=dict(
            type="DefectDataset", data_root=src3, split="train.txt", metainfo=THREE,
            pipeline=SOURCE_PIPELINE)))


def test_rare_class_probabilities_formula():
    freq = [0.9, 0.09, 0.01]
    p = rare_class_probabilities(freq, 0.1)
    logits = (1 - np.array(freq)) / 0.1
    np.testing.assert_allclose(p, np.exp(logits) / np.exp(logits).sum())
    np.testing.assert_allclose(rare_class_probabilities(freq, 1e6), [1 / 3] * 3, rtol=1e-5)
    p = rare_class_probabilities(freq, 0.01, available=[True, True, False])
    assert p[2] == 0 and p.sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="temperature"):
        rare_class_probabilities(freq, 0.0)
    # 'uniform' is the limit T -> inf: each available class equally, whatever its share.
    np.testing.assert_allclose(rare_class_probabilities(freq, "uniform"), [1 / 3] * 3)
    np.testing.assert_allclose(rare_class_probabilities(freq, "uniform", [True, False, True]),
                               [0.5, 0.0, 0.5])
    for bad in ("hot", -1.0, True, None):
        with pytest.raises(ValueError, match="temperature must be"):
            rare_class_probabilities(freq, bad)


def _write_three_class_source(root, num=20):
    """Images 0..num-1: class 1 in every image, class 2 (rare) only in images 0, 1 and 2."""
    os.makedirs(osp.join(root, "images"))
    os.makedirs(osp.join(root, "masks"))
    names = []
    for i in range(num):
        mask = np.zeros((32, 32), np.uint8)
        mask[8:20, :] = 1
        if i < 3:
            mask[0:2, 0:4] = 2
        mask[31, :] = 255
        name = f"{i:03d}"
        cv2.imwrite(osp.join(root, "images", name + ".png"), np.full((32, 32, 3), 100, np.uint8))
        cv2.imwrite(osp.join(root, "masks", name + ".png"), mask)
        names.append(name)
    with open(osp.join(root, "train.txt"), "w") as f:
        f.write("\n".join(names))
    return root


def test_rare_class_sampling_distribution(tmp_path):
    src = _write_three_class_source(str(tmp_path / "src"))
    tgt = write_dataset(str(tmp_path / "tgt"), num=6, seed=1, num_classes=3, with_masks=False)
    ds = DATASETS.build(paired_cfg(src, tgt, THREE,
                                   rare_class_sampling=dict(temperature=0.5)))
    rcs = ds.rcs
    counts = rcs["image_class_pixels"]
    assert counts.shape == (20, 3) and counts[:, 2].tolist() == [8] * 3 + [0] * 17
    total = counts.sum(0)
    np.testing.assert_allclose(rcs["class_pixel_fraction"], total / total.sum())
    np.testing.assert_allclose(rcs["class_probabilities"],
                               rare_class_probabilities(total / total.sum(), 0.5))
    assert [list(i) for i in rcs["class_images"]][2] == [0, 1, 2]
    np.random.seed(0)
    draws = [ds.sample_rare_class() for _ in range(6000)]
    classes = np.array([c for c, _ in draws])
    freq = np.bincount(classes, minlength=3) / len(classes)
    np.testing.assert_allclose(freq, rcs["class_probabilities"], atol=0.02)
    for c, idx in draws:
        assert counts[idx, c] >= 1  # the drawn image contains the drawn class
    rare_images = np.bincount([i for c, i in draws if c == 2], minlength=20)
    assert rare_images[3:].sum() == 0 and rare_images[:3].min() > 0.2 * rare_images.sum() / 3
    # sampled items come from the drawn images; min_crop_pixels re-runs the pipeline
    ds2 = DATASETS.build(paired_cfg(src, tgt, THREE, rare_class_sampling=dict(
        temperature=0.01, min_crop_pixels=8)))
    assert ds2.rcs["class_probabilities"][2] > 0.99
    np.random.seed(1)
    names = {ds2[0]["source"]["data_samples"].img_path[-7:-4] for _ in range(10)}
    assert names <= {"000", "001", "002"}
    with pytest.raises(ValueError, match="temperature required"):
        DATASETS.build(paired_cfg(src, tgt, THREE, rare_class_sampling=dict(temp=0.1)))


def test_rare_class_coverage_warns_about_a_class_sampling_hides(tmp_path, monkeypatch):
    """Class 1 large but only in its own images 0-9, class 2 tiny in images 10-12 (as a
    defect type per tile): T=0.01 draws class 2 almost always and hides class 1."""
    src = str(tmp_path / "src")
    os.makedirs(osp.join(src, "images"))
    os.makedirs(osp.join(src, "masks"))
    for i in range(13):
        mask = np.zeros((32, 32), np.uint8)
        if i < 10:
            mask[8:20, :] = 1
        else:
            mask[0:2, 0:4] = 2
        cv2.imwrite(osp.join(src, "images", f"{i:03d}.png"), np.full((32, 32, 3), 90, np.uint8))
        cv2.imwrite(osp.join(src, "masks", f"{i:03d}.png"), mask)
    with open(osp.join(src, "train.txt"), "w") as f:
        f.write("\n".join(f"{i:03d}" for i in range(13)))
    tgt = write_dataset(str(tmp_path / "tgt"), num=4, seed=1, num_classes=3, with_masks=False)
    prob = np.array([0.0, 0.25, 0.75])
    images = [np.arange(13), np.arange(10), np.arange(10, 13)]
    counts = np.zeros((13, 3), np.int64)
    counts[:, 0] = 1
    counts[:10, 1] = 384
    counts[10:, 2] = 8
    np.testing.assert_allclose(rare_class_coverage(prob, images, counts), [1.0, 0.25, 0.75])
    np.testing.assert_allclose(rare_class_coverage(prob, images, counts, min_pixels=10),
                               [0.0, 0.25, 0.0])

    def build(temperature):
        logged = []
        monkeypatch.setattr(uda_dataset, "print_log", lambda msg, logger=None,
                            level=logging.INFO: logged.append((msg, level)))
        ds = DATASETS.build(paired_cfg(src, tgt, THREE, rare_class_sampling=dict(
            temperature=temperature)))
        return ds, [m for m, level in logged if level >= logging.WARNING]

    ds, warnings = build(0.01)
    coverage = ds.rcs["class_coverage"]
    assert coverage[1] < 0.01 and coverage[2] > 0.99 and coverage[0] == pytest.approx(1.0)
    assert len(warnings) == 1 and "'scratch'" in warnings[0] and "T=0.1:" in warnings[0]
    assert "T=uniform:" in warnings[0]
    ds, warnings = build(1.0)  # warm enough: every class is seen, no warning
    assert ds.rcs["class_coverage"].min() > 0.1 and warnings == []
    ds, warnings = build("uniform")  # each class a third of the draws, whatever its pixels
    np.testing.assert_allclose(ds.rcs["class_probabilities"], [1 / 3] * 3)
    # class 1: its own third of the draws, and 10 of the 13 images of the background third
    assert ds.rcs["class_coverage"][1] == pytest.approx(1 / 3 + 10 / 39) and warnings == []
