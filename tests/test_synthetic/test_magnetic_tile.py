"""The magnetic-tile defect types, the ferrite surface and the magnetic_tile style."""

import json

import cv2
import numpy as np
import pytest

import synthetic
from synthetic import cli
from synthetic.compose import labels_from_coverage
from synthetic.defects import class_names, get_defect

TILE_TYPES = ("blowhole", "break", "crack", "fray", "uneven")
NEW_TYPES = ("blowhole", "break", "fray", "uneven")
SIZE = (96, 128)  # (width, height): tall like the tiles


def rerendered_coverage(params, types, size_hw):
    """Per-class coverage of an image's recorded defects, rendered again from meta params."""
    h, w = size_hw
    cov = [np.zeros((h, w), np.float32) for _ in types]
    for d in params["defects"]:
        if not d["visible"]:
            continue
        p = {k: v for k, v in d.items() if k not in ("type", "class_id", "visible")}
        r = get_defect(d["type"]).render(p, size_hw, frozenset(params["disabled"]))
        if r is not None:
            view = cov[d["class_id"] - 1][r.region.slices]
            np.maximum(view, r.coverage, out=view)
    return cov


@pytest.mark.parametrize("name", NEW_TYPES)
def test_each_new_type_labels_its_class_only_where_it_draws(name):
    dtype = get_defect(name)
    assert dtype.class_name == name and name in synthetic.defect_names()
    labelled = 0
    for index in range(6):
        img, mask, params = synthetic.render_sample(3, index, (name,), SIZE, "magnetic_tile")
        assert set(np.unique(mask)) <= {0, 1}
        # The mask is the labeling rule applied to the recorded geometry (perspective is off
        # in this style), so it lies exactly where the instances were drawn...
        cov = rerendered_coverage(params, (name,), mask.shape)
        np.testing.assert_array_equal(mask, labels_from_coverage(cov))
        labelled += int(mask.sum())
        # ...and every labelled pixel is changed by the instance's appearance.
        for d in params["defects"]:
            p = {k: v for k, v in d.items() if k not in ("type", "class_id", "visible")}
            r = dtype.render(p, mask.shape, frozenset(params["disabled"]))
            if r is None:
                continue
            flat = np.full((3,) + mask.shape, 100.0, np.float32)
            r.apply(flat)
            inside = np.zeros(mask.shape, bool)
            inside[r.region.slices] = r.coverage >= 0.5
            assert (np.abs(flat[0] - 100.0)[inside] > 0.5).all(), name
    assert labelled > 0, f"{name}: no pixel labelled in 6 images"


@pytest.mark.parametrize("name", NEW_TYPES)
def test_new_types_are_deterministic_per_seed(name):
    a = synthetic.render_sample(5, 2, (name,), SIZE, "magnetic_tile")
    b = synthetic.render_sample(5, 2, (name,), SIZE, "magnetic_tile")
    c = synthetic.render_sample(6, 2, (name,), SIZE, "magnetic_tile")
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert json.dumps(a[2]) == json.dumps(b[2])
    assert not np.array_equal(a[0], c[0])


def test_class_ids_follow_type_order_and_meta_names_the_classes(tmp_path):
    order = ("uneven", "crack", "blowhole", "fray", "break")
    meta = synthetic.generate_dataset(tmp_path / "mt", types=order, num=8, size=SIZE, seed=1,
                                      style="magnetic_tile", progress=False)
    assert meta["classes"] == ["background", *order] == class_names(order)
    saved = json.loads((tmp_path / "mt" / "meta.json").read_text())
    assert saved["classes"] == meta["classes"] and saved["version"] == synthetic.__version__
    seen = set()
    for name, p in saved["images"].items():
        for d in p["defects"]:
            assert d["class_id"] == order.index(d["type"]) + 1
        mask = cv2.imread(str(tmp_path / "mt" / "masks" / f"{name}.png"), cv2.IMREAD_UNCHANGED)
        for cls, pixels in p["class_pixels"].items():
            assert int((mask == order.index(cls) + 1).sum()) == pixels
            if pixels:
                seen.add(cls)
        drawn = {d["class_id"] for d in p["defects"] if d["visible"]}
        assert set(np.unique(mask)) - {0} <= drawn
    assert len(seen) >= 3, f"only {seen} labelled in 8 images"


def test_every_class_is_present_in_the_stated_share():
    style = synthetic.get_style("magnetic_tile")
    p, n = style.class_presence, len(TILE_TYPES)
    expected = p + (1 - p) ** n / n  # the docstring of Style.class_presence
    present = np.zeros(n)
    non_empty = 0
    for index in range(300):
        _, _, params = synthetic.render_sample(0, index, TILE_TYPES, 32, "magnetic_tile",
                                               disable=("texture",))
        if params["empty"]:
            continue
        non_empty += 1
        for k in {d["class_id"] - 1 for d in params["defects"]}:
            present[k] += 1
    share = present / non_empty
    assert non_empty > 250  # empty_fraction 0.05
    assert np.all(np.abs(share - expected) < 0.08), (share, expected)


def test_magnetic_tile_style_is_grey_with_a_ferrite_surface():
    img, _, params = synthetic.render_sample(2, 0, TILE_TYPES, SIZE, "magnetic_tile")
    assert params["material"]["material"] == "ferrite"
    assert (img[..., 0] == img[..., 1]).all() and (img[..., 1] == img[..., 2]).all()
    # 'mixed' keeps the materials of surfaces.py (its images render as before).
    assert "ferrite" not in synthetic.get_style("mixed").materials
    with pytest.raises(ValueError, match="class_presence"):
        synthetic.Style(name="x", description="x", materials={"ferrite": 1.0},
                        class_presence=0.0).validate()


def test_list_shows_the_new_types_and_the_style(capsys):
    cli.main(["list"])
    out = capsys.readouterr().out
    for name in (*NEW_TYPES, "magnetic_tile"):
        assert f"  {name}" in out
