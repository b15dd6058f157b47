import os
import os.path as osp

import cv2
import numpy as np
import pytest

from helpers import write_dataset
from mmseg_uda.datasets import DatasetError, DefectDataset

PIPELINE = [dict(type="LoadImageFromFile"), dict(type="LoadAnnotations"),
            dict(type="PackSegInputs")]


def build(root, **kwargs):
    kwargs.setdefault("pipeline", PIPELINE)
    return DefectDataset(data_root=root, **kwargs)


def test_loads_split_and_all_images(crack_dataset):
    train = build(crack_dataset, split="train.txt")
    test = build(crack_dataset, split="test.txt", test_mode=True)
    everything = build(crack_dataset)
    assert (len(train), len(test), len(everything)) == (6, 3, 9)
    assert train.metainfo["classes"] == ("background", "crack")
    sample = test[0]
    assert tuple(sample["inputs"].shape) == (3, 64, 64)
    assert tuple(sample["data_samples"].gt_sem_seg.data.shape) == (1, 64, 64)
    assert 0 < train.class_pixel_fraction[1] < 0.5


def test_unlabeled_target_needs_no_masks(tmp_path):
    root = write_dataset(str(tmp_path / "target"), num=4, with_masks=False, ext=".jpg")
    ds = build(root, split="train.txt", with_masks=False,
               pipeline=[dict(type="LoadImageFromFile"), dict(type="PackSegInputs")])
    assert len(ds) == 2
    assert "seg_map_path" not in ds.get_data_info(0)
    assert ds[0]["inputs"].shape[0] == 3


def test_mixed_extensions_and_split_names_with_extension(tmp_path):
    root = write_dataset(str(tmp_path / "d"), num=3, splits={})
    img = cv2.imread(osp.join(root, "images", "0001.png"))
    os.remove(osp.join(root, "images", "0001.png"))
    cv2.imwrite(osp.join(root, "images", "0001.bmp"), img)
    with open(osp.join(root, "train.txt"), "w") as f:
        f.write("0000.png\n# a comment\n\n0001\n")
    ds = build(root, split="train.txt")
    assert [osp.basename(d["img_path"]) for d in ds.load_data_list()] == ["0000.png", "0001.bmp"]


def test_custom_classes_and_palette(tmp_path):
    root = write_dataset(str(tmp_path / "mc"), num=3, num_classes=4, splits={})
    ds = build(root, metainfo=dict(classes=("bg", "crack", "spot", "scratch")))
    assert len(ds.metainfo["palette"]) == 4
    with pytest.raises(ValueError, match="palette has 2 colours for 4 classes"):
        build(root, metainfo=dict(classes=("bg", "a", "b", "c"), palette=[[0, 0, 0], [1, 1, 1]]))


@pytest.mark.parametrize("case,match", [
    ("missing_root", "dataset folder not found"),
    ("missing_images", "image folder not found"),
    ("empty_images", "no images in"),
    ("missing_mask_dir", "mask folder not found"),
    ("image_without_mask", r"has no mask: expected .*0002\.png"),
    ("size_mismatch", r"mask .*0001\.png' is 32x64 \(WxH\) but its image"),
    ("bad_values", r"mask .*0000\.png' has values \[7\] outside the 2 classes"),
    ("binary_255", "looks like black-and-white masks"),
    ("unreadable_image", r"unreadable image file .*0003\.png"),
    ("unreadable_mask", r"unreadable mask file .*0003\.png"),
    ("rgb_mask", "has 3 channels"),
    ("missing_split_name", r"have no image in .* e\.g\. \['nope'\]"),
    ("missing_split_file", "split file not found"),
])
def test_bad_input_is_reported_with_the_file(tmp_path, case, match):
    root = write_dataset(str(tmp_path / "bad"), num=6)
    img_dir, mask_dir = osp.join(root, "images"), osp.join(root, "masks")
    split = "train.txt"
    if case == "missing_root":
        root = str(tmp_path / "does_not_exist")
    elif case == "missing_images":
        os.rename(img_dir, img_dir + "_x")
    elif case == "empty_images":
        for f in os.listdir(img_dir):
            os.remove(osp.join(img_dir, f))
    elif case == "missing_mask_dir":
        os.rename(mask_dir, mask_dir + "_x")
    elif case == "image_without_mask":
        os.remove(osp.join(mask_dir, "0002.png"))
    elif case == "size_mismatch":
        cv2.imwrite(osp.join(mask_dir, "0001.png"), np.zeros((64, 32), np.uint8))
    elif case == "bad_values":
        m = np.zeros((64, 64), np.uint8)
        m[3, 3] = 7
        cv2.imwrite(osp.join(mask_dir, "0000.png"), m)
    elif case == "binary_255":
        for f in os.listdir(mask_dir):  # every mask 0/255 instead of 0/1
            m = cv2.imread(osp.join(mask_dir, f), cv2.IMREAD_UNCHANGED)
            cv2.imwrite(osp.join(mask_dir, f), (m > 0).astype(np.uint8) * 255)
    elif case == "unreadable_image":
        with open(osp.join(img_dir, "0003.png"), "wb") as f:
            f.write(b"not an image")
    elif case == "unreadable_mask":
        with open(osp.join(mask_dir, "0003.png"), "wb") as f:
            f.write(b"\x89PNG broken")
    elif case == "rgb_mask":
        cv2.imwrite(osp.join(mask_dir, "0000.png"), np.zeros((64, 64, 3), np.uint8))
    elif case == "missing_split_name":
        with open(osp.join(root, "train.txt"), "a") as f:
            f.write("nope\n")
    elif case == "missing_split_file":
        split = "val.txt"
    with pytest.raises(DatasetError, match=match):
        build(root, split=split)


def test_ignore_label_alongside_classes_is_fine(tmp_path):
    root = write_dataset(str(tmp_path / "b"), num=2, splits={})
    m = cv2.imread(osp.join(root, "masks", "0000.png"), cv2.IMREAD_UNCHANGED)
    m[:4] = 255  # an ignored band in a mask that also has crack pixels elsewhere
    cv2.imwrite(osp.join(root, "masks", "0000.png"), m)
    assert len(build(root)) == 2


def test_validate_levels(tmp_path):
    root = write_dataset(str(tmp_path / "v"), num=3, splits={})
    with open(osp.join(root, "images", "0001.png"), "ab") as f:
        f.truncate(200)  # header still readable, pixel data broken
    with pytest.raises(DatasetError, match="0001.png"):
        build(root, validate="full")
    assert len(build(root, validate="header")) == 3
    with pytest.raises(ValueError, match="validate must be one of"):
        build(root, validate="everything")


def test_rejects_mmseg_only_arguments(crack_dataset):
    with pytest.raises(TypeError, match="does not take 'img_suffix'"):
        build(crack_dataset, img_suffix=".jpg")
