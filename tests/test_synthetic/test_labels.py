"""The labeling rule: mask == (area coverage >= 0.5), and image and mask agree."""

import cv2
import numpy as np
import pytest

import synthetic
from synthetic import raster
from synthetic.defects import get_defect


def _capsule_coverage(points, widths, shape, samples=32):
    """Reference coverage by brute-force point sampling of the distance to the polyline."""
    h, w = shape
    ys, xs = np.mgrid[0:h * samples, 0:w * samples]
    px = (xs + 0.5) / samples - 0.5
    py = (ys + 0.5) / samples - 0.5
    inside = np.zeros(px.shape, bool)
    for i in range(len(points) - 1):
        a, b = points[i], points[i + 1]
        r = 0.25 * (widths[i] + widths[i + 1])
        d = b - a
        t = np.clip(((px - a[0]) * d[0] + (py - a[1]) * d[1]) / float(d @ d), 0.0, 1.0)
        dist = np.hypot(px - a[0] - t * d[0], py - a[1] - t * d[1])
        inside |= dist <= r
    return inside.reshape(h, samples, w, samples).mean(axis=(1, 3))


def test_mask_follows_half_coverage_rule_on_constructed_crack():
    # A bent, tapering crack with widths from 0.3 px (tip) to 4 px.
    pts = np.array([[0.6, 21.0], [3.2, 20.3], [12.7, 14.1], [22.1, 17.8], [31.6, 9.4],
                    [44.9, 12.2], [55.3, 25.6]])
    wid = np.array([0.3, 0.4, 2.2, 4.0, 3.1, 1.6, 0.6])
    shape = (32, 60)
    cov = raster.coverage([(pts, wid)], [], raster.Region(0, 0, *shape))
    ref = _capsule_coverage(pts, wid, shape)
    mask = synthetic.labels_from_coverage([cov])
    # 16 samples per pixel resolve coverage to 1/16 (+ one sample of edge jitter).
    assert np.abs(cov - ref).max() <= 0.125 + 1e-6
    disagree = (mask == 1) != (ref >= 0.5)
    # Any disagreement must be a pixel whose true coverage is within sampling error of 0.5.
    assert np.all(np.abs(ref[disagree] - 0.5) <= 0.125 + 1e-6)
    assert disagree.sum() <= 0.1 * (ref >= 0.5).sum()
    # The thin tip (0.35 px wide segment) is visible (coverage > 0) but not labelled.
    tip_cov, tip_mask = cov[19:23, 1:3], mask[19:23, 1:3]
    assert 0 < tip_cov.max() < 0.5 and not tip_mask.any()
    # The labelled area matches the geometric area of the stroke within 3 %.
    assert abs(int(mask.sum()) - float(ref.sum())) < 0.03 * float(ref.sum()) + 4


def test_coverage_is_exact_for_axis_aligned_band():
    # A 2 px wide horizontal band centred on y = 10 covers row 10 fully and rows 9 and 11
    # half (pixel 9 spans [8.5, 9.5)).
    pts = np.array([[-5.0, 10.0], [50.0, 10.0]])
    cov = raster.coverage([(pts, np.array([2.0, 2.0]))], [], raster.Region(0, 0, 20, 40))
    np.testing.assert_allclose(cov[8:13, 20], [0.0, 0.5, 1.0, 0.5, 0.0])
    mask = synthetic.labels_from_coverage([cov])
    assert mask[8:13, 20].tolist() == [0, 1, 1, 1, 0]


def test_sample_mask_equals_rule_applied_to_recorded_geometry():
    # End to end: re-render the crack from the parameters recorded for the image; with
    # no occlusion and no perspective the mask must be exactly coverage >= 0.5.
    off = ("occlusion", "perspective")
    for index in range(3):
        img, mask, params = synthetic.render_sample(7, index, ("crack",), 160, "lab", off)
        h, w = mask.shape
        cov = np.zeros((h, w), np.float32)
        crack = get_defect("crack")
        for d in params["defects"]:
            r = crack.render(d, (h, w), frozenset(off))
            if r is not None:
                view = cov[r.region.slices]
                np.maximum(view, r.coverage, out=view)
        np.testing.assert_array_equal(mask, (cov >= 0.5).astype(np.uint8))


@pytest.mark.parametrize("style", ["lab", "pavement"])
def test_crack_pixels_are_darker_than_their_neighbourhood(style):
    diffs = []
    for index in range(6):
        img, mask, params = synthetic.render_sample(3, index, ("crack",), 192, style,
                                                    ("empty_images", "occlusion"))
        if mask.sum() < 20:
            continue
        grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float32)
        ring = cv2.dilate(mask, np.ones((7, 7), np.uint8)) > 0
        ring &= mask == 0
        diffs.append(grey[ring].mean() - grey[mask == 1].mean())
    assert len(diffs) >= 4
    # Clearly darker on average, and darker in every image of the clean style.
    assert np.mean(diffs) > (15.0 if style == "lab" else 6.0)
    if style == "lab":
        assert min(diffs) > 5.0


def test_mask_follows_perspective_warp():
    # With a perspective warp the crack must still sit on dark pixels (same homography).
    found = 0
    for index in range(12):
        img, mask, params = synthetic.render_sample(11, index, ("crack",), 160, "asphalt_road",
                                                    ("occlusion", "distractors"))
        if "perspective" not in params["imaging"] or mask.sum() < 30:
            continue
        found += 1
        grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float32)
        ring = (cv2.dilate(mask, np.ones((7, 7), np.uint8)) > 0) & (mask == 0)
        shifted = np.roll(mask, 6, axis=1) > 0
        assert grey[mask == 1].mean() < grey[ring].mean()
        assert grey[mask == 1].mean() < grey[shifted & (mask == 0)].mean()
    assert found >= 2


def test_images_without_defects_have_empty_masks():
    empties = 0
    for index in range(40):
        img, mask, params = synthetic.render_sample(5, index, ("crack",), 64, "metal_line")
        if params["empty"]:
            empties += 1
            assert not mask.any()
            assert params["defects"] == []
        else:
            assert params["defects"]
    assert empties >= 1  # metal_line has 15% defect-free images
