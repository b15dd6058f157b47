"""Readable inspection pictures: few labels on speckled photos, colour bars, palette masks."""

import cv2
import numpy as np
import pytest
from PIL import Image

from mmseg_uda.apis import Thresholds
from mmseg_uda.apis.batch import write_pictures
from mmseg_uda.apis.visualize import (
    default_label_min_area,
    overlay,
    readable_overlay,
    with_colour_bar,
    write_palette_png,
)
from mmseg_uda.deploy.postprocess import defect_regions

PALETTE = [[0, 0, 0], [255, 0, 0]]


def speckled(h=300, w=400, specks=60, seed=0):
    """A grey photo with one long crack and many 4x4-pixel specks (class 1)."""
    rng = np.random.default_rng(seed)
    img = np.full((h, w, 3), 128, np.uint8)
    mask = np.zeros((h, w), np.uint8)
    cv2.line(mask, (20, 150), (380, 170), 1, 6)
    for _ in range(specks):
        y, x = rng.integers(0, h - 40), rng.integers(0, w - 4)
        if y < 130 or y > 190:
            mask[y:y + 4, x:x + 4] = 1
    probs = np.stack([1.0 - 0.9 * mask, 0.9 * mask]).astype(np.float32)
    return img, mask, defect_regions(mask, probs, ["background", "crack"], min_area=16)


def label_pixels(picture, img, mask):
    """Pixels changed beyond the tint: boxes, labels and the verdict line."""
    tinted = overlay(img, mask, PALETTE)
    return int((np.abs(picture.astype(int) - tinted.astype(int)).sum(-1) > 0).sum())


def test_specks_are_counted_once_not_labelled_each():
    img, mask, regions = speckled()
    assert len(regions) > 40  # one region per speck, the crack the largest
    label_min = default_label_min_area(*mask.shape, min_area=16)
    assert label_min == 64
    every = overlay(img, mask, PALETTE, regions, "defect")
    readable = readable_overlay(img, mask, PALETTE, regions, "defect", label_min_area=label_min)
    assert readable.shape == img.shape
    # far fewer label/box pixels than one label per speck
    defect = mask > 0
    assert label_pixels(readable, img, mask) < 0.5 * label_pixels(every, img, mask)
    # every defect pixel is still tinted red-ish somewhere under the labels
    assert (readable[defect][:, 2] > readable[defect][:, 0]).mean() > 0.5


def test_at_most_max_labels_and_the_largest_first():
    img, mask, regions = speckled(specks=30)
    few = readable_overlay(img, mask, PALETTE, regions, "defect", label_min_area=0,
                           max_labels=1)
    none = readable_overlay(img, mask, PALETTE, regions, None, label_min_area=10 ** 9)
    assert label_pixels(none, img, mask) == 0  # no label, no box, no verdict line
    assert 0 < label_pixels(few, img, mask) < label_pixels(
        readable_overlay(img, mask, PALETTE, regions, "defect", label_min_area=0,
                         max_labels=100), img, mask)


def test_colour_bar_keeps_the_height_and_adds_a_scale():
    heat = np.zeros((120, 160, 3), np.uint8)
    out = with_colour_bar(heat, "defect probability")
    assert out.shape[0] == 120 and out.shape[1] > 160
    margin = out[:, 160:]
    # the JET ramp: red at the top of the bar, blue at its bottom
    column = margin[:, margin.shape[1] // 8]
    coloured = column[(column != 255).any(-1)]
    assert coloured[0][2] > coloured[0][0] and coloured[-1][0] > coloured[-1][2]


def test_palette_png_keeps_the_ids(tmp_path):
    mask = np.zeros((10, 12), np.uint8)
    mask[2:5, 3:9] = 1
    path = tmp_path / "m" / "a.png"
    write_palette_png(str(path), mask, PALETTE)
    image = Image.open(path)
    assert image.mode == "P" and image.getpalette()[:6] == [0, 0, 0, 255, 0, 0]
    assert np.array_equal(np.array(image), mask)


def test_palette_png_more_ids_than_colours_and_bad_masks(tmp_path):
    mask = np.arange(12, dtype=np.uint8).reshape(3, 4) % 3  # id 2 has no palette colour
    path = tmp_path / "b.png"
    write_palette_png(str(path), mask, PALETTE)
    image = Image.open(path)
    assert image.mode == "P" and np.array_equal(np.array(image), mask)
    assert image.getpalette()[6:9] == [0, 0, 0]  # black
    colours = cv2.imread(str(path))  # OpenCV expands the palette (BGR)
    assert colours[0, 1].tolist() == [0, 0, 255]
    for bad in (mask.astype(np.int32), mask[None], np.zeros((0, 4), np.uint8)):
        with pytest.raises(ValueError, match="uint8 class-id mask"):
            write_palette_png(str(path), bad, PALETTE)


def test_write_pictures_mask_formats(tmp_path):
    img, mask, regions = speckled(120, 160, specks=5)
    probs = np.stack([1.0 - 0.9 * mask, 0.9 * mask]).astype(np.float32)
    result = dict(mask=mask, defect_prob=probs[1], attention=np.full(mask.shape, 0.3, np.float32),
                  regions=regions, verdict="defect")
    ids = write_pictures(img, result, str(tmp_path / "a"), "x", PALETTE, Thresholds(),
                         save_panels=True)
    grey = cv2.imread(str(tmp_path / "a" / ids["mask"]), cv2.IMREAD_UNCHANGED)
    assert grey.ndim == 2 and np.array_equal(grey, mask)  # --mask-format ids
    pal = write_pictures(img, result, str(tmp_path / "b"), "x", PALETTE, Thresholds(),
                         mask_palette=True)
    assert np.array_equal(np.array(Image.open(tmp_path / "b" / pal["mask"])), mask)
    assert set(ids) == {"mask", "overlay", "heatmap", "attention", "panel"}
    for kind in ("heatmap", "attention"):
        picture = cv2.imread(str(tmp_path / "a" / ids[kind]))
        assert picture.shape[0] == 120 and picture.shape[1] > 160
