"""Defect registry, styles and feature switches."""

import dataclasses

import cv2
import numpy as np
import pytest

import synthetic
from synthetic import raster, shapes
from synthetic.defects import base as defect_base


def test_register_new_defect_type_and_use_it():
    @synthetic.register_defect
    class Dent(synthetic.DefectType):
        name = "test_dent"
        description = "round dent for the test"
        default_options = {"count": (1, 1), "radius": (4.0, 6.0)}

        def sample_params(self, rng, size, zoom, options, disable):
            h, w = size
            return {"centre": [w / 2, h / 2], "radius": float(rng.uniform(*options["radius"]))}

        def render(self, params, size, disable):
            outline = shapes.radial_blob(np.random.default_rng(0), tuple(params["centre"]),
                                         params["radius"], irregularity=0.0)
            region = raster.bounding_region([], [outline], size)
            cov = raster.coverage([], [outline], region)
            return synthetic.DefectRender(region, cov, darkness=0.5 * cov)

    try:
        assert "test_dent" in synthetic.defect_names()
        img, mask, params = synthetic.render_sample(0, 0, ("crack", "test_dent"), 64, "lab",
                                                    ("empty_images",))
        dents = [d for d in params["defects"] if d["type"] == "test_dent"]
        if dents:
            assert (mask == 2).sum() > 40  # ~ pi * 4.5**2 pixels of class 2
        with pytest.raises(ValueError, match="already registered"):
            synthetic.register_defect(Dent)
    finally:
        defect_base._REGISTRY.pop("test_dent", None)
    assert "test_dent" not in synthetic.defect_names()


def test_every_style_renders_and_is_documented():
    assert synthetic.DEFAULT_STYLE == "pavement"
    assert {"lab", "field", "asphalt_road", "metal_line", "pavement"} <= set(synthetic.STYLES)
    for name, style in synthetic.STYLES.items():
        assert len(style.description) > 30
        img, mask, params = synthetic.render_sample(1, 0, ("crack", "scratch", "spot"), 64, name)
        assert img.shape == (64, 64, 3) and params["style"] == name
    grey, _, _ = synthetic.render_sample(1, 1, "crack", 64, "metal_line")
    assert (grey[..., 0] == grey[..., 1]).all() and (grey[..., 1] == grey[..., 2]).all()


def test_source_and_target_styles_differ():
    def summary(style):
        coarse, effects, distractors = [], [], []
        for i in range(10):
            img, _, params = synthetic.render_sample(0, i, "crack", 128, style)
            # Illumination gradients, shadows and stains survive an 8x8 area average;
            # thin cracks do not.
            grey = cv2.resize(img.astype(np.float32).mean(axis=2), (8, 8),
                              interpolation=cv2.INTER_AREA)
            coarse.append(grey.std())
            effects.append(len(params["imaging"]))
            distractors.append(len(params["distractors"]))
        return np.mean(coarse), np.mean(effects), np.mean(distractors)

    lab, field, road = summary("lab"), summary("field"), summary("asphalt_road")
    for target in (field, road):
        assert target[0] > 1.8 * lab[0]
        assert target[1] >= lab[1] + 3 and target[2] >= lab[2] + 1


def test_every_feature_can_be_disabled_and_changes_something():
    base_img, _, base_p = synthetic.render_sample(4, 2, ("crack",), 96, "mixed")
    for feature in synthetic.FEATURES:
        img, mask, params = synthetic.render_sample(4, 2, ("crack",), 96, "mixed", (feature,))
        assert params["disabled"] == [feature]
    # Switching imaging off must not move the crack geometry (independent streams).
    _, m_off, p_off = synthetic.render_sample(4, 2, ("crack",), 96, "mixed",
                                              ("imaging", "occlusion"))
    _, m_geo, p_geo = synthetic.render_sample(4, 2, ("crack",), 96, "mixed",
                                              ("occlusion", "perspective"))
    assert [d["start"] for d in p_off["defects"]] == [d["start"] for d in base_p["defects"]]
    assert (m_off == m_geo).all()
    assert p_off["imaging"] == {}


def test_disabled_distractors_and_texture_are_gone():
    _, _, p = synthetic.render_sample(0, 3, "crack", 64, "field", "distractors")
    assert p["distractors"] == []
    off = ("imaging", "empty_images", "stains", "occlusion")
    flat, m1, _ = synthetic.render_sample(0, 3, "crack", 96, "lab", off + ("texture",))
    tex, m2, _ = synthetic.render_sample(0, 3, "crack", 96, "lab", off)
    assert (m1 == m2).all()  # same geometry: only the texture differs

    # Pixel-to-pixel variation away from the crack.
    away = cv2.dilate(m1, np.ones((9, 9), np.uint8))[:, 1:] == 0

    def fine_detail(img):
        g = img.astype(np.float32).mean(axis=2)
        return np.abs(np.diff(g, axis=1))[away].mean()

    assert fine_detail(flat) < 0.25 * fine_detail(tex)


@pytest.mark.parametrize("feature", ["branching", "spalls"])
def test_removing_geometry_features_keeps_the_rest_of_the_crack(feature):
    # Each crack feature has its own random stream: without branches (or spalls) the
    # mask is a subset of the full mask, never a different crack.
    strictly_smaller = 0
    for index in range(6):
        _, full, _ = synthetic.render_sample(2, index, "crack", 128, "asphalt_road",
                                             ("occlusion", "empty_images"))
        _, part, _ = synthetic.render_sample(2, index, "crack", 128, "asphalt_road",
                                             ("occlusion", "empty_images", feature))
        assert not (part & ~full).any()
        strictly_smaller += int(part.sum() < full.sum())
    assert strictly_smaller >= 2


def test_features_a_style_leaves_off():
    """``Style.off`` acts exactly like ``disable``: same images, recorded in the params."""
    style = synthetic.get_style("pavement")
    assert style.off  # the CFD preset leaves the features its ablation rejected off
    img, mask, params = synthetic.render_sample(5, 1, "crack", 96, "pavement")
    img2, mask2, params2 = synthetic.render_sample(5, 1, "crack", 96, "pavement",
                                                   sorted(style.off))
    assert (img == img2).all() and (mask == mask2).all()
    assert params["disabled"] == params2["disabled"] == sorted(style.off)
    _, _, more = synthetic.render_sample(5, 1, "crack", 96, "pavement", "jpeg")
    assert more["disabled"] == sorted(set(style.off) | {"jpeg"})
    # switched back on: the style as it was before it left them off (pavement 1.0.0)
    _, _, back = synthetic.render_sample(5, 1, "crack", 96, "pavement", (), sorted(style.off))
    assert back["disabled"] == []
    _, _, some = synthetic.render_sample(5, 1, "crack", 96, "pavement", "jpeg", "rims")
    assert some["disabled"] == sorted((set(style.off) - {"rims"}) | {"jpeg"})
    with pytest.raises(ValueError, match="both disabled and enabled"):
        synthetic.render_sample(5, 1, "crack", 96, "pavement", "rims", "rims")
    with pytest.raises(ValueError, match="unknown feature 'nope' to enable"):
        synthetic.render_sample(5, 1, "crack", 96, "pavement", (), "nope")
    bad = dataclasses.replace(style, name="bad_off", off=frozenset({"no_such_feature"}))
    with pytest.raises(KeyError, match="no_such_feature"):
        bad.validate()
