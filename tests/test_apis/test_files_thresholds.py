"""Input listing, image reading, the --out guard and the threshold sources."""

import json

import cv2
import numpy as np
import pytest

from mmseg_uda.apis import (
    CalibrationError,
    ImageReadError,
    Thresholds,
    list_images,
    load_calibration,
    load_image,
    prepare_output_dir,
    resolve_thresholds,
    unique_stems,
)


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "imgs"
    (d / "sub").mkdir(parents=True)
    img = np.zeros((8, 8, 3), np.uint8)
    for name in ("b.png", "a.JPG", "sub/c.bmp"):
        cv2.imwrite(str(d / name), img)
    (d / "notes.txt").write_text("not an image")
    return d


def test_list_images_file_folder_glob(folder):
    assert [p.split("/")[-1] for p in list_images(str(folder))] == ["a.JPG", "b.png"]
    assert len(list_images(str(folder), recursive=True)) == 3
    assert [p.split("/")[-1] for p in list_images(str(folder / "*.png"))] == ["b.png"]
    assert len(list_images(str(folder / "**" / "*.bmp"))) == 1
    assert list_images(str(folder / "notes.txt")) == [str(folder / "notes.txt")]


def test_list_images_errors_name_the_input(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing_dir"):
        list_images(str(tmp_path / "missing_dir"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="no images in folder .*empty"):
        list_images(str(empty))
    with pytest.raises(FileNotFoundError, match="glob pattern"):
        list_images(str(tmp_path / "*.png"))


def test_load_image_errors(tmp_path):
    grey = tmp_path / "grey.png"
    cv2.imwrite(str(grey), np.full((5, 7), 9, np.uint8))
    assert load_image(str(grey)).shape == (5, 7, 3)
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "junk.jpg").write_text("hello")
    with pytest.raises(ImageReadError, match="empty.png"):
        load_image(str(tmp_path / "empty.png"))
    with pytest.raises(ImageReadError, match="cannot decode .*junk.jpg"):
        load_image(str(tmp_path / "junk.jpg"))
    with pytest.raises(ImageReadError, match="not found"):
        load_image(str(tmp_path / "gone.png"))


def test_output_folder_guard(tmp_path):
    out = tmp_path / "out"
    prepare_output_dir(str(out))
    prepare_output_dir(str(out))            # empty: fine
    (out / "x.png").write_bytes(b"1")
    with pytest.raises(FileExistsError, match="not empty.*--overwrite"):
        prepare_output_dir(str(out))
    prepare_output_dir(str(out), overwrite=True)
    with pytest.raises(FileExistsError, match="is a file"):
        prepare_output_dir(str(out / "x.png"), overwrite=True)


def test_unique_stems():
    names = unique_stems(["a/x.png", "b/x.jpg", "c/x.png", "y.tif"])
    assert list(names.values()) == ["x", "x_2", "x_3", "y"]


def test_threshold_precedence(tmp_path):
    ckpt = tmp_path / "run" / "iter_10.pth"
    ckpt.parent.mkdir()
    assert resolve_thresholds(str(ckpt)) == Thresholds()           # no file: defaults
    (ckpt.parent / "calibration.json").write_text(json.dumps(
        dict(pixel_threshold=0.3, min_area=40, target_recall=0.95)))
    beside = resolve_thresholds(str(ckpt))
    assert (beside.pixel_threshold, beside.min_area) == (0.3, 40)
    assert beside.source.endswith("calibration.json")
    other = tmp_path / "other.json"
    other.write_text(json.dumps(dict(pixel_threshold=0.7, min_area=5)))
    explicit = resolve_thresholds(str(ckpt), str(other))
    assert (explicit.pixel_threshold, explicit.min_area) == (0.7, 5)
    cli = resolve_thresholds(str(ckpt), None, min_area=100)
    assert (cli.pixel_threshold, cli.min_area) == (0.3, 100)
    assert "command line (min_area)" in cli.source


def test_bad_calibration_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="cal.json"):
        load_calibration(str(tmp_path / "cal.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(CalibrationError, match="bad.json.*not valid JSON"):
        load_calibration(str(bad))
    bad.write_text(json.dumps(dict(pixel_threshold=0.5)))
    with pytest.raises(CalibrationError, match="no min_area"):
        load_calibration(str(bad))
    bad.write_text(json.dumps(dict(pixel_threshold=2.0, min_area=3)))
    with pytest.raises(CalibrationError, match=r"pixel_threshold must be in \[0, 1\]"):
        load_calibration(str(bad))
    with pytest.raises(ValueError, match="min_area"):
        Thresholds(min_area=0)
