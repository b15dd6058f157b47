"""tools/generated_vs_real.py --stats and synthetic.regions on hand-made masks."""

import json
import math

import cv2
import numpy as np
import pytest

from reports_helpers import load_tool
from synthetic import regions

TYPES = "blowhole,break,crack,fray,uneven"


def disc(size=64, radius=8, centre=(32, 32), inside=120, outside=200, k=1):
    image = np.full((size, size), outside, np.uint8)
    mask = np.zeros((size, size), np.uint8)
    cv2.circle(image, centre, radius, inside, -1)
    cv2.circle(mask, centre, radius, k, -1)
    return image, mask


def test_dark_disc():
    image, mask = disc()
    (c,) = regions.region_stats(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR), mask, 1)
    assert c["area"] == pytest.approx(math.pi * 8 ** 2, rel=0.1)
    assert c["eq_diameter"] == pytest.approx(16, rel=0.05)
    assert c["eq_diameter_rel"] == pytest.approx(c["eq_diameter"] / 64)
    assert c["area_fraction"] == pytest.approx(c["area"] / 64 ** 2)
    assert c["elongation"] == pytest.approx(1.0, abs=0.05)
    assert c["grey_in"] == pytest.approx(120, abs=0.5)
    assert c["contrast"] == pytest.approx(-80, abs=0.5)  # darker than its surround
    assert c["ring_width"] == 4  # 0.25 * 16
    assert regions.region_stats(image, mask, 2) == []  # no such class in the image


def test_lines_are_elongated():
    mask = np.zeros((64, 64), np.uint8)
    mask[10, 5:46] = 1  # 41 x 1 px
    mask[30:33, 5:45] = 2  # 40 x 3 px
    mask[50:54, 50:54] = 3  # a square
    image = np.full((64, 64), 100, np.uint8)
    assert regions.region_stats(image, mask, 1)[0]["elongation"] == pytest.approx(41, rel=1e-6)
    assert regions.region_stats(image, mask, 2)[0]["elongation"] == pytest.approx(40 / 3, rel=1e-6)
    assert regions.region_stats(image, mask, 3)[0]["elongation"] == pytest.approx(1.0)
    # a diagonal 1-px line is elongated too (8-connected: one component)
    diag = np.zeros((64, 64), np.uint8)
    np.fill_diagonal(diag[5:45, 5:45], 1)
    (c,) = regions.region_stats(image, diag, 1)
    assert c["area"] == 40 and c["elongation"] > 40


def test_ignored_and_other_defect_pixels_stay_out_of_the_ring():
    image, mask = disc()
    reference = regions.region_stats(image, mask, 1)[0]
    band = np.zeros_like(mask)
    cv2.circle(band, (32, 32), 10, 1, -1)
    ring_zone = (band == 1) & (mask == 0)
    for value in (255, 2):  # ignored, then another class around the disc
        m = mask.copy()
        m[ring_zone] = value
        img = image.copy()
        img[ring_zone] = 0  # would pull the surround down if it counted
        (c,) = regions.region_stats(img, m, 1)
        assert c["contrast"] == pytest.approx(reference["contrast"], abs=0.5)
        assert c["area"] == reference["area"]
    # ignored pixels are no class and are left out of the pixel share
    m = mask.copy()
    m[:32, :] = np.where(m[:32, :] == 0, 255, m[:32, :])
    record = regions.image_record(image, m, 5)
    assert record["valid_pixels"] == int((m != 255).sum())
    assert len(record["components"][1]) == 1 and record["components"][2] == []
    s = regions.summarise([record], 1)
    assert s["pixel_share"] == pytest.approx(reference["area"] / record["valid_pixels"])
    # a component filling its whole neighbourhood has no ring and no contrast
    (full,) = regions.region_stats(image, np.ones_like(mask), 1)
    assert full["contrast"] is None and full["grey_ring"] is None


def test_errors_in_regions():
    image, mask = disc()
    mask[0, 0] = 7
    mask[0, 1] = 9
    with pytest.raises(ValueError, match=r"class ids \[7, 9\] beyond the 5 classes"):
        regions.image_record(image, mask, 5)
    with pytest.raises(ValueError, match="64x64 .* but its mask is 32x64"):
        regions.image_record(image, np.zeros((64, 32), np.uint8), 5)
    with pytest.raises(ValueError, match="single-channel"):
        regions.check_pair(image, np.zeros((64, 64, 3), np.uint8))


def test_summarise():
    a_img, a_mask = disc(radius=5)
    b_img, b_mask = disc(radius=10)
    b_mask[5, 5:30] = 1  # a second component in image b
    empty = regions.image_record(np.zeros((64, 64), np.uint8), np.zeros((64, 64), np.uint8), 2)
    records = [regions.image_record(a_img, a_mask, 2), regions.image_record(b_img, b_mask, 2),
               empty]
    s = regions.summarise(records, 1)
    assert s["images"] == 3 and s["images_with_class"] == 2 and s["components"] == 3
    assert s["components_per_image"] == 1.5
    assert s["area_px"]["p10"] <= s["area_px"]["median"] <= s["area_px"]["p90"]
    none = regions.summarise(records, 2)
    assert none["components"] == 0 and none["area_px"]["median"] is None
    assert none["contrast"] is None and none["pixel_share"] == 0.0


def write_real(root, bad_value=None, mismatch=False):
    """Three 64x64 grey tiles: a blowhole, a crack, an edge break with ignored pixels."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rng = np.random.default_rng(0)
    pics = []
    image, mask = disc(radius=5, inside=60, outside=150)
    pics.append(("a_blowhole", image, mask))
    image = np.full((64, 64), 140, np.uint8)
    mask = np.zeros((64, 64), np.uint8)
    image[20:22, 10:50] = 70
    mask[20:22, 10:50] = 3
    pics.append(("b_crack", image, mask))
    image = np.full((64, 64), 130, np.uint8)
    mask = np.zeros((64, 64), np.uint8)
    image[50:, :20] = 40
    mask[50:, :20] = 2
    mask[:4, :] = 255
    pics.append(("c_break", image, mask))
    for name, image, mask in pics:
        noisy = np.clip(image + rng.normal(0, 2, image.shape), 0, 255).astype(np.uint8)
        cv2.imwrite(str(root / "images" / f"{name}.jpg"), noisy)
        cv2.imwrite(str(root / "masks" / f"{name}.png"), mask)
    if bad_value is not None:
        mask = pics[1][2].copy()
        mask[0, 0] = bad_value
        cv2.imwrite(str(root / "masks" / "b_crack.png"), mask)
    if mismatch:
        cv2.imwrite(str(root / "images" / "c_break.jpg"), np.zeros((48, 64), np.uint8))
    (root / "train.txt").write_text("".join(p[0] + "\n" for p in pics))
    return root


def base_args(real):
    return ["--real", str(real), "--split", "train.txt", "--type", TYPES,
            "--style", "magnetic_tile", "--size", "64x64"]


def test_stats_end_to_end(tmp_path, capsys):
    tool = load_tool("generated_vs_real")
    real = write_real(tmp_path / "real")
    out = tmp_path / "stats.json"
    sheet = tmp_path / "sheet.jpg"
    assert tool.main(base_args(real) + ["--num", "4", "--stats-out", str(out),
                                         "--out", str(sheet), "--height", "64"]) == 0
    assert cv2.imread(str(sheet)) is not None  # the sheet mode still works alongside
    report = json.loads(out.read_text())
    assert set(report) == {"classes", "ignore_index", "domains", "definitions", "rows"}
    assert report["classes"] == TYPES.split(",")
    assert report["domains"]["generated"]["num_images"] == 4
    assert report["domains"]["generated"]["source"] == "render_sample"
    assert report["domains"]["real"]["num_images"] == 3
    assert report["domains"]["real"]["image_size"]["distinct"] == 1
    rows = report["rows"]
    assert len(rows) == 10
    assert [(r["class"], r["domain"]) for r in rows[:2]] == [("blowhole", "generated"),
                                                             ("blowhole", "real")]
    keys = {"class_id", "class", "domain", "images", "images_with_class", "components",
            "components_per_image", "area_px", "area_fraction", "eq_diameter_px",
            "eq_diameter_rel", "pixel_share", "elongation", "contrast", "contrast_components",
            "grey_in"}
    assert all(set(r) == keys for r in rows)
    by = {(r["class"], r["domain"]): r for r in rows}
    blow = by["blowhole", "real"]
    assert blow["images_with_class"] == 1 and blow["contrast"] < -60
    assert by["crack", "real"]["elongation"] > 10
    # the break's image has 4 ignored rows: its share counts the 3 * 64 * 64 - 4 * 64 others
    assert by["break", "real"]["pixel_share"] == pytest.approx(14 * 20 / (3 * 64 * 64 - 256))
    assert by["fray", "real"]["components"] == 0 and by["fray", "real"]["elongation"] is None
    table = capsys.readouterr().out
    lines = [ln for ln in table.splitlines() if ln.startswith("| ")]
    assert len(lines) == 11  # the header and one row per class x domain
    assert "| blowhole | real | 1 / 3 |" in table and "| fray | real | 0 / 3 | – |" in table

    # refuses to overwrite, unless asked
    with pytest.raises(SystemExit, match="exists; pass --overwrite"):
        tool.main(base_args(real) + ["--num", "1", "--stats-out", str(out)])
    # an already generated folder as the generated domain (here: the real set itself)
    assert tool.main(base_args(real) + ["--generated", str(real), "--stats-out", str(out),
                                        "--overwrite"]) == 0
    report = json.loads(out.read_text())
    rows = report["rows"]
    assert report["domains"]["generated"]["source"] == "folder"
    for gen, rl in zip(rows[::2], rows[1::2]):
        assert {**gen, "domain": "real"} == rl


def test_stats_errors(tmp_path):
    tool = load_tool("generated_vs_real")
    with pytest.raises(SystemExit) as e:  # neither --out nor --stats: argparse error
        tool.main(base_args(tmp_path))
    assert e.value.code == 2
    with pytest.raises(SystemExit, match="split file not found: .*nope.txt"):
        tool.main(base_args(tmp_path) + ["--stats", "--split", "nope.txt"])
    bad = write_real(tmp_path / "bad", bad_value=9)
    with pytest.raises(SystemExit, match=r"b_crack.png: class ids \[9\] beyond the 5 classes"):
        tool.main(base_args(bad) + ["--stats", "--num", "1"])
    size = write_real(tmp_path / "size", mismatch=True)
    with pytest.raises(SystemExit, match=r"c_break.png' is 64x64 but image .*' is 64x48"):
        tool.main(base_args(size) + ["--stats", "--num", "1"])
    missing = write_real(tmp_path / "missing")
    (missing / "images" / "b_crack.jpg").unlink()
    with pytest.raises(SystemExit, match="no image for 'b_crack'"):
        tool.main(base_args(missing) + ["--stats", "--num", "1"])
    (missing / "images" / "b_crack.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(SystemExit, match="unreadable image .*b_crack.jpg"):
        tool.main(base_args(missing) + ["--stats", "--num", "1"])
    (missing / "meta.json").write_text(json.dumps({"args": {"types": ["crack"]}}))
    with pytest.raises(SystemExit, match="generated with types"):
        tool.main(base_args(write_real(tmp_path / "good")) + ["--stats", "--generated",
                                                              str(missing)])
