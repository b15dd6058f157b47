"""Factory-variation augmentations: shape/dtype kept, labels untouched, p=0 identity."""

import copy

import numpy as np
import pytest
from mmcv.transforms import Compose
from mmseg.registry import TRANSFORMS

from mmseg_uda.datasets.transforms import (
    RandomJPEGCompression,
    RandomLighting,
    RandomLowContrast,
    RandomMotionBlur,
    RandomOcclusion,
    RandomSpecularHighlight,
)
from mmseg_uda.datasets.transforms.factory.random_motion_blur import motion_kernel

IMAGE_ONLY = [RandomLighting, RandomMotionBlur, RandomLowContrast, RandomSpecularHighlight,
              RandomJPEGCompression]
ALL = IMAGE_ONLY + [RandomOcclusion]


def results(dtype=np.uint8, seed=0, grey=False):
    rng = np.random.default_rng(seed)
    shape = (40, 48) if grey else (40, 48, 3)
    img = rng.integers(30, 220, shape).astype(dtype)
    img[10:12, :] = 20  # a dark "crack"
    seg = np.zeros((40, 48), np.uint8)
    seg[10:12, :] = 1
    seg[0, 0] = 255
    return dict(img=img, gt_seg_map=seg, seg_fields=["gt_seg_map"], img_shape=(40, 48))


@pytest.mark.parametrize("cls", ALL)
def test_probability_zero_is_identity(cls):
    r = results()
    before = copy.deepcopy(r)
    out = cls(prob=0.0)(r)
    assert np.array_equal(out["img"], before["img"])
    assert np.array_equal(out["gt_seg_map"], before["gt_seg_map"])


@pytest.mark.parametrize("cls", ALL)
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_applied_changes_image_keeps_shape_dtype_and_is_seeded(cls, dtype):
    r = results(dtype)
    np.random.seed(3)
    out = cls(prob=1.0)(copy.deepcopy(r))
    assert out["img"].shape == r["img"].shape and out["img"].dtype == r["img"].dtype
    assert not np.array_equal(out["img"], r["img"])
    assert out["img"].min() >= 0 and out["img"].max() <= 255
    np.random.seed(3)
    again = cls(prob=1.0)(copy.deepcopy(r))
    assert np.array_equal(out["img"], again["img"])  # deterministic under the global seed
    if cls is not RandomOcclusion:
        assert np.array_equal(out["gt_seg_map"], r["gt_seg_map"])  # labels untouched


@pytest.mark.parametrize("cls", IMAGE_ONLY)
def test_greyscale_images(cls):
    r = results(grey=True)
    np.random.seed(0)
    out = cls(prob=1.0)(r)
    assert out["img"].shape == (40, 48) and out["img"].dtype == np.uint8


def test_occlusion_relabels_exactly_the_occluded_pixels():
    r = results()
    r["gt_seg_map"][5:35] = 1  # a large defect, so that the occluder hides part of it
    np.random.seed(5)
    out = RandomOcclusion(prob=1.0, area_range=(0.2, 0.3))(copy.deepcopy(r))
    changed = np.any(out["img"] != r["img"], axis=2)
    relabeled = out["gt_seg_map"] != r["gt_seg_map"]
    assert relabeled.any()
    assert not (relabeled & ~changed).any()  # only painted pixels change label ...
    assert (out["gt_seg_map"][relabeled] == 0).all()  # ... and they become background
    np.random.seed(5)
    ignore = RandomOcclusion(prob=1.0, area_range=(0.2, 0.3), occluded_label=255)(
        copy.deepcopy(r))
    assert (ignore["gt_seg_map"][relabeled] == 255).all()
    np.random.seed(5)
    keep = RandomOcclusion(prob=1.0, area_range=(0.2, 0.3), occluded_label=None)(
        copy.deepcopy(r))
    assert np.array_equal(keep["gt_seg_map"], r["gt_seg_map"])


def test_effects_go_the_right_way():
    r = results(np.float32)
    np.random.seed(0)
    low = RandomLowContrast(prob=1.0, contrast_range=(0.5, 0.5))(copy.deepcopy(r))
    assert low["img"].std() == pytest.approx(0.5 * r["img"].std(), rel=1e-4)
    np.random.seed(0)
    bright = RandomLighting(prob=1.0, brightness_range=(1.2, 1.2), gamma_range=(1, 1),
                            gradient_range=(0, 0))(copy.deepcopy(r))
    np.testing.assert_allclose(bright["img"], np.clip(r["img"] * 1.2, 0, 255), rtol=1e-5)
    np.random.seed(0)
    glare = RandomSpecularHighlight(prob=1.0)(copy.deepcopy(r))
    assert (glare["img"] >= r["img"] - 1e-3).all() and glare["img"].mean() > r["img"].mean()
    k = motion_kernel(5, 0.0)
    assert k.sum() == pytest.approx(1.0) and (k > 0).sum() == 5 and k[2].sum() == 1.0


def test_registered_pipeline_and_bad_parameters():
    pipeline = Compose([TRANSFORMS.build(dict(type=c.__name__, prob=1.0)) for c in ALL])
    np.random.seed(0)
    out = pipeline(results())
    assert out["img"].shape == (40, 48, 3)
    with pytest.raises(ValueError, match="prob"):
        RandomLighting(prob=1.5)
    with pytest.raises(ValueError, match="quality_range"):
        RandomJPEGCompression(quality_range=(50, 10))
    with pytest.raises(ValueError, match="shapes"):
        RandomOcclusion(shapes=("star",))
    with pytest.raises(ValueError, match="occluded_label"):
        RandomOcclusion(occluded_label=300)
