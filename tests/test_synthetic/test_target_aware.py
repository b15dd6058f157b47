"""Target-aware source data: fitted styles, style files, defects rendered into real photos."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from synthetic import generate_dataset, render_sample
from synthetic.backgrounds import apply_crop, check_backgrounds, halo_px
from synthetic.cli import main as cli_main
from synthetic.fit import TOLERANCE, _within, fit_style
from synthetic.measure import (
    image_stats,
    jpeg_quality,
    list_images,
    noise_sigma,
    read_image,
    summarize_stats,
)
from synthetic.styles import get_style, load_style, style_from_dict, style_to_dict

# A target of known imaging: grey-blue, mild gradient, clear noise, JPEG quality 70.
KNOWN = {
    "name": "known-target", "base": "lab",
    "imaging": {"illumination": {"p": 1.0, "gradient": [0.08, 0.12], "blotch": [0.0, 0.0]},
                "noise": {"p": 1.0, "sigma": [4.0, 5.0], "shot": [0.0, 0.0],
                          "chroma": [0.0, 0.0]},
                "blur": {"p": 1.0, "sigma": [0.6, 0.7]},
                "color_cast": {"p": 1.0, "strength": 0.05},
                "tone": {"p": 1.0, "gamma": [1.0, 1.0], "contrast": [1.0, 1.0],
                         "exposure": [0.7, 0.8]}},
}


def _write_photos(folder: Path, n: int = 6, size=(160, 120), quality: int | None = None,
                  style=KNOWN, seed: int = 7) -> Path:
    (folder / "images").mkdir(parents=True)
    for i in range(n):
        img, _, _ = render_sample(seed, i, ("crack",), size, style, disable="imaging")
        if quality is None:
            cv2.imwrite(str(folder / "images" / f"p{i:02d}.png"), img)
        else:
            img, _, _ = render_sample(seed, i, ("crack",), size, style)
            cv2.imwrite(str(folder / "images" / f"p{i:02d}.jpg"), img,
                        [cv2.IMWRITE_JPEG_QUALITY, quality])
    return folder


def _assert_refused(args: list, out: Path, expect: str, capsys) -> None:
    """The CLI stops with a usage error (exit 2) naming ``expect``, and writes no ``out``."""
    with pytest.raises(SystemExit) as exc:
        cli_main(args + ["--out", str(out)])
    assert exc.value.code == 2
    assert expect in capsys.readouterr().err
    assert not out.exists()


# ----------------------------------------------------------------------------- measurement
@pytest.mark.parametrize("quality", [30, 70, 95])
def test_jpeg_quality_read_from_the_quantisation_table(quality):
    img = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok and jpeg_quality(buf.tobytes()) == quality
    ok, png = cv2.imencode(".png", img)
    assert jpeg_quality(png.tobytes()) is None


def test_noise_estimator_recovers_added_noise():
    rng = np.random.default_rng(1)
    flat = np.full((200, 200), 120.0, np.float32)
    for sigma in (2.0, 6.0):
        est = noise_sigma(flat + rng.normal(0, sigma, flat.shape).astype(np.float32))
        assert abs(est - sigma) < 0.1 * sigma


def test_read_image_scales_16_bit_by_its_bit_depth(tmp_path):
    twelve = np.full((8, 8), 4095, np.uint16)  # 12-bit data at full scale
    cv2.imwrite(str(tmp_path / "a.png"), twelve)
    assert read_image(tmp_path / "a.png").min() == 255


# ----------------------------------------------------------------------------- fitting
def test_fitted_style_reproduces_a_known_target(tmp_path):
    """The statistics of images generated with the fitted style match the target's."""
    target = tmp_path / "target"
    (target / "images").mkdir(parents=True)
    truth = []
    for i in range(10):
        img, _, _ = render_sample(3, i, ("crack",), (160, 120), KNOWN)
        cv2.imwrite(str(target / "images" / f"t{i:02d}.jpg"), img,
                    [cv2.IMWRITE_JPEG_QUALITY, 70])
        truth.append(image_stats(cv2.imread(str(target / "images" / f"t{i:02d}.jpg"))))
    style = fit_style(target, log=None, probe_images=16)
    assert fit_style(target, log=None, probe_images=16) == style  # deterministic
    assert style["fit"]["jpeg_quality"] == [70] * 10
    assert style["imaging"]["jpeg"]["p"] == 1.0
    lo, hi = style["imaging"]["jpeg"]["quality"]
    assert lo <= 70 <= hi
    want = summarize_stats(truth)["summary"]
    got = summarize_stats([image_stats(render_sample(11, i, ("crack",), (160, 120), style)[0])
                           for i in range(16)])["summary"]
    assert set(TOLERANCE) == {"mean", "std", "gradient", "noise", "sharpness",
                              "texture_scale", "roughness"}
    for stat in TOLERANCE:  # every statistic fit-style reports a tolerance for
        assert _within(stat, got[stat]["median"], want[stat]["median"]), (
            stat, got[stat]["median"], want[stat]["median"], TOLERANCE[stat])
    # The colour balance of the target (a cast) is the generated images' too.
    bal_t = np.median([s["balance"] for s in truth], axis=0)
    gen = [image_stats(render_sample(11, i, ("crack",), (160, 120), style)[0])
           for i in range(8)]
    bal_g = np.median([s["balance"] for s in gen], axis=0)
    assert np.abs(bal_t - bal_g).max() < 0.03


def test_fit_style_cli_writes_a_loadable_file_and_refuses_to_overwrite(tmp_path, capsys):
    target = _write_photos(tmp_path / "t", n=4)
    (target / "train.txt").write_text("p00\np01\np02\n")
    out = tmp_path / "style.json"
    assert cli_main(["fit-style", "--target", str(target), "--split", "train.txt",
                     "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "noise" in text and "generated" in text and "levels from 3 photos" in text
    data = json.loads(out.read_text())
    assert data["fit"]["images"] == ["p00.png", "p01.png", "p02.png"]
    assert data["imaging"]["jpeg"]["p"] == 0.0  # lossless photos: no JPEG
    # A fitted style file (levels exemplars, fit record) round-trips and is data: the file
    # and its content as a dict give the same images.
    style = load_style(out)
    written = style_to_dict(style)
    assert style_to_dict(style_from_dict(json.loads(json.dumps(written)))) == written
    generate_dataset(tmp_path / "a", num=2, size=(96, 64), style=str(out), progress=False)
    generate_dataset(tmp_path / "b", num=2, size=(96, 64), style=data, progress=False)
    for sub in ("images", "masks"):
        for p in sorted((tmp_path / "a" / sub).iterdir()):
            assert p.read_bytes() == (tmp_path / "b" / sub / p.name).read_bytes()
    with pytest.raises(SystemExit):
        cli_main(["fit-style", "--target", str(target), "--out", str(out)])
    # Without --size the file's images have the photos' median size (160x120); --size wins.
    assert data["fit"]["median_size"] == [160, 120]
    assert cli_main(["generate", "--style", str(out), "--num", "1", "--quiet",
                     "--out", str(tmp_path / "c")]) == 0
    assert cv2.imread(str(tmp_path / "c/images/000000.png")).shape[:2] == (120, 160)
    assert cli_main(["generate", "--style", str(out), "--num", "1", "--quiet", "--size", "64",
                     "--out", str(tmp_path / "d")]) == 0
    assert cv2.imread(str(tmp_path / "d/images/000000.png")).shape[:2] == (64, 64)


@pytest.mark.parametrize("case", ["missing", "empty", "corrupt", "split"])
def test_fit_style_bad_target_stops_before_writing(tmp_path, case, capsys):
    target = tmp_path / "t"
    args = ["fit-style", "--target", str(target)]
    if case == "missing":
        expect = "image folder not found"
    else:
        _write_photos(target, n=2)
    if case == "empty":
        for p in (target / "images").iterdir():
            p.unlink()
        expect = "no images"
    elif case == "corrupt":
        (target / "images" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
        expect = "broken.jpg"
    elif case == "split":
        (target / "train.txt").write_text("p00\nmissing\n")
        args += ["--split", "train.txt"]
        expect = "'missing'"
    _assert_refused(args, tmp_path / "style.json", expect, capsys)


# ----------------------------------------------------------------------------- style files
def test_style_file_round_trip_and_same_images(tmp_path):
    pav = get_style("pavement")
    data = style_to_dict(pav)
    back = style_from_dict(json.loads(json.dumps(data)))
    assert style_to_dict(back) == data
    path = tmp_path / "pavement_copy.json"
    path.write_text(json.dumps(data))
    a = generate_dataset(tmp_path / "a", num=3, size=96, style=str(path), progress=False)
    generate_dataset(tmp_path / "b", num=3, size=96, style=data, progress=False)
    for name in ("000000", "000001", "000002"):
        assert (tmp_path / "a/images" / f"{name}.png").read_bytes() == \
            (tmp_path / "b/images" / f"{name}.png").read_bytes()
    assert a["style"]["name"] == "pavement" and a["args"]["style_file"] == str(path.resolve())


# Each message names the key and the bad value (the test also checks the file is named).
@pytest.mark.parametrize("bad, message", [
    ({"name": "x", "base": "pavement", "colour": 1}, "unknown key(s) ['colour']"),
    ({"name": "x", "base": "nope"}, "unknown base style 'nope'"),
    ({"name": "x", "base": "pavement", "imaging": {"noise": {"p": 1.5}}},
     "imaging.noise.p must be a probability in [0, 1], got 1.5"),
    ({"name": "x", "base": "pavement", "imaging": {"jpeg": {"quality": [10, 300]}}},
     "imaging.jpeg.quality must be in [1, 100], got [10, 300]"),
    ({"name": "x", "base": "pavement", "imaging": {"blur": {"sigma": [1.0, 0.5]}}},
     "imaging.blur.sigma: low > high in [1.0, 0.5]"),
    ({"name": "x", "base": "pavement", "zoom": [2.0, 1.0]}, "zoom must be 0 < low <= high, got"),
    ({"name": "x", "base": "pavement", "defects": {"crack": {"widht": 2}}},
     "'crack' has no option 'widht'"),
    ({"name": "x", "base": "pavement", "imaging": {"levels": {"exemplars": [{"mean": 1}]}}},
     "exemplars[0] must be dict(mean=0..255"),
    ({"name": "x", "base": "pavement", "fit": {"median_size": [0, 96]}},
     "fit.median_size must be [width, height] in pixels, got [0, 96]"),
])
def test_bad_style_file_stops_before_writing(tmp_path, bad, message, capsys):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exc:
        cli_main(["generate", "--style", str(path), "--num", "2", "--out", str(out)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and str(path) in err
    assert not out.exists()


def test_style_file_that_is_not_json(tmp_path, capsys):
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    with pytest.raises(SystemExit):
        cli_main(["generate", "--style", str(path), "--num", "2", "--out", str(tmp_path / "o")])
    assert "not valid JSON" in capsys.readouterr().err


# ----------------------------------------------------------------------------- backgrounds
def _photos(tmp_path: Path, n: int = 3, size=(200, 150)) -> Path:
    folder = tmp_path / "photos"
    (folder / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        img = cv2.GaussianBlur(rng.integers(60, 200, (size[1], size[0], 3)).astype(np.uint8),
                               (0, 0), 1.5)
        cv2.imwrite(str(folder / "images" / f"bg{i}.png"), img)
    return folder


def test_backgrounds_change_only_pixels_near_the_rendered_defects(tmp_path):
    photos = _photos(tmp_path)
    meta = generate_dataset(tmp_path / "out", num=6, size=(128, 96), seed=2,
                            backgrounds=photos, progress=False)
    assert meta["backgrounds"][0]["name"] == "bg0"
    checked_defects = 0
    for name, params in meta["images"].items():
        bg = params["background"]
        photo = cv2.imread(str(photos / "images" / f"{bg['name']}.png"))
        crop = apply_crop(photo, bg, (96, 128))
        img = cv2.imread(str(tmp_path / "out/images" / f"{name}.png"))
        mask = cv2.imread(str(tmp_path / "out/masks" / f"{name}.png"), cv2.IMREAD_UNCHANGED)
        changed = np.abs(img.astype(int) - crop.astype(int)).max(axis=2) > 0
        sigma = params["imaging"].get("blur", {}).get("sigma", 0.0)
        # Stated halo: 4 sigma of the layer's blur + one 16-px JPEG block, + 2 px of the
        # anti-aliased rim that stays below the 50 % label threshold.
        r = halo_px(sigma) + 2
        near = cv2.dilate((mask == 1).astype(np.uint8), np.ones((2 * r + 1, 2 * r + 1)))
        assert not (changed & (near == 0)).any(), name
        if mask.any():
            checked_defects += 1
            assert changed[mask == 1].mean() > 0.9  # the labeled pixels were drawn
        else:
            assert not changed.any()
    assert checked_defects >= 3


def test_backgrounds_are_deterministic_and_worker_independent(tmp_path):
    photos = _photos(tmp_path)
    generate_dataset(tmp_path / "a", num=4, size=96, seed=5, backgrounds=photos, progress=False)
    generate_dataset(tmp_path / "b", num=4, size=96, seed=5, backgrounds=photos, workers=2,
                     progress=False)
    for sub in ("images", "masks"):
        for p in sorted((tmp_path / "a" / sub).iterdir()):
            assert p.read_bytes() == (tmp_path / "b" / sub / p.name).read_bytes()
    assert (tmp_path / "a/meta.json").read_bytes() == (tmp_path / "b/meta.json").read_bytes()


def test_ignore_masks_are_labeled_255_where_no_defect_is_drawn(tmp_path):
    photos = _photos(tmp_path)
    ign = tmp_path / "ignore"
    ign.mkdir()
    for i in range(3):
        m = np.zeros((150, 200), np.uint8)
        cv2.circle(m, (100, 75), 30, 1, -1)
        cv2.imwrite(str(ign / f"bg{i}.png"), m)
    meta = generate_dataset(tmp_path / "out", num=5, size=(128, 96), seed=1,
                            backgrounds=photos, ignore_masks=ign, progress=False)
    assert meta["ignore_index"] == 255
    for name, params in meta["images"].items():
        bg = params["background"]
        truth = apply_crop(cv2.imread(str(ign / f"{bg['name']}.png"), 0), bg, (96, 128),
                           nearest=True)
        mask = cv2.imread(str(tmp_path / "out/masks" / f"{name}.png"), cv2.IMREAD_UNCHANGED)
        assert set(np.unique(mask)) <= {0, 1, 255}
        assert ((mask == 255) == ((truth > 0) & (mask != 1))).all()
        assert params["ignore_pixels"] == int((mask == 255).sum())


def test_ignore_from_a_model_writes_its_masks_and_uses_them(tmp_path):
    import torch

    import mmseg_uda  # noqa: F401
    from helpers import CPU_CONFIG
    from mmseg_uda.apis import init_model
    from synthetic.ignore import predict_ignore_masks

    with pytest.raises(ValueError, match="config, checkpoint"):
        predict_ignore_masks(["only-one"], [])
    torch.manual_seed(0)
    # A randomly initialised MiT-b0 of the CPU config whose head is biased to see a defect
    # everywhere in the photos: every pixel no rendered crack covers must become 255.
    state = init_model(CPU_CONFIG, None).state_dict()
    state["decode_head.conv_seg.bias"] = torch.tensor([0.0, 10.0])
    ckpt = tmp_path / "model.pth"
    torch.save({"meta": {}, "state_dict": state}, ckpt)
    photos = _photos(tmp_path, n=2, size=(128, 96))
    meta = generate_dataset(tmp_path / "out", num=3, size=(128, 96), seed=0,
                            backgrounds=photos, ignore_from=(CPU_CONFIG, str(ckpt)),
                            ignore_threshold=0.3, progress=False)
    written = sorted(p.name for p in (tmp_path / "out/ignore_masks").iterdir())
    assert written == ["bg0.png", "bg1.png"]
    assert meta["args"]["ignore"].startswith("model") and meta["ignore_index"] == 255
    assert all(cv2.imread(str(p), 0).min() == 255
               for p in (tmp_path / "out/ignore_masks").iterdir())
    for name, params in meta["images"].items():
        bg = params["background"]
        ign = cv2.imread(str(tmp_path / "out/ignore_masks" / f"{bg['name']}.png"), 0)
        truth = apply_crop(ign, bg, (96, 128), nearest=True)
        mask = cv2.imread(str(tmp_path / "out/masks" / f"{name}.png"), cv2.IMREAD_UNCHANGED)
        assert ((mask == 255) == ((truth > 0) & (mask != 1))).all()


@pytest.mark.parametrize("case", ["small", "corrupt", "empty", "no_mask", "split"])
def test_bad_backgrounds_stop_before_writing(tmp_path, case, capsys):
    photos = _photos(tmp_path, n=2)
    args = ["generate", "--num", "2", "--size", "128x96", "--backgrounds", str(photos)]
    expect = ""
    if case == "small":
        cv2.imwrite(str(photos / "images" / "tiny.png"), np.zeros((40, 50, 3), np.uint8))
        expect = "tiny.png' is 50x40, smaller than the output size 128x96"
    elif case == "corrupt":
        (photos / "images" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
        expect = "broken.jpg"
    elif case == "empty":
        for p in (photos / "images").iterdir():
            p.unlink()
        expect = "no images"
    elif case == "no_mask":
        (tmp_path / "ign").mkdir()
        args += ["--ignore-masks", str(tmp_path / "ign")]
        expect = "no ignore mask for background 'bg0.png'"
    elif case == "split":
        (photos / "train.txt").write_text("bg0\nmissing\n")
        args += ["--backgrounds-split", "train.txt"]
        expect = "'missing'"
    _assert_refused(args, tmp_path / "out", expect, capsys)


def test_check_backgrounds_lists_photos_of_a_split(tmp_path):
    photos = _photos(tmp_path, n=3)
    (photos / "train.txt").write_text("bg2\nbg0\n")
    got = check_backgrounds(photos, (96, 128), "train.txt")
    assert [b["name"] for b in got] == ["bg2", "bg0"]
    assert [p.name for p in list_images(photos)] == ["bg0.png", "bg1.png", "bg2.png"]
