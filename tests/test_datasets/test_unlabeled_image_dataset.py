"""UnlabeledImageDataset: the photos of self-supervised pretraining, checked up front."""

import os

import pytest

from helpers import write_dataset
from mmseg_uda.datasets import DatasetError, UnlabeledImageDataset

PIPELINE = [dict(type="LoadImageFromFile"), dict(type="PackSegInputs")]


def build(root, **kw):
    return UnlabeledImageDataset(data_root=root, pipeline=PIPELINE, **kw)


def test_reads_train_split_of_every_folder(tmp_path):
    target = write_dataset(str(tmp_path / "target"), num=6, with_masks=True)  # 4 train
    source = write_dataset(str(tmp_path / "source"), num=3, with_masks=True, seed=1,
                           splits={"train.txt": [0, 1, 2]})
    ds = build(target)
    assert len(ds) == 4
    assert all(ds.get_data_info(i)["img_path"].startswith(target) for i in range(4))
    assert "gt_sem_seg" not in ds[0]["data_samples"]  # images only, masks never read
    both = build(target, extra_roots=[source])
    assert len(both) == 7
    assert sum(info["img_path"].startswith(source) for info in
               (both.get_data_info(i) for i in range(7))) == 3


def test_every_image_without_split_files(tmp_path):
    root = write_dataset(str(tmp_path / "photos"), num=5, with_masks=False, splits={})
    assert len(build(root)) == 5


def test_never_the_evaluation_images(tmp_path):
    root = write_dataset(str(tmp_path / "t"), num=6, splits={"test.txt": [0, 1]})
    with pytest.raises(DatasetError, match="has test.txt but no train.txt"):
        build(root)
    with pytest.raises(DatasetError, match="is an evaluation split"):
        build(root, split="test.txt")
    assert len(build(root, split="test.txt", allow_test_images=True)) == 2
    other = write_dataset(str(tmp_path / "o"), num=3, splits={"val.txt": [0]})
    good = write_dataset(str(tmp_path / "g"), num=3, splits={"train.txt": [0]})
    with pytest.raises(DatasetError, match="has val.txt but no train.txt"):
        build(good, extra_roots=[other])


def test_clear_errors_before_training(tmp_path):
    empty = tmp_path / "empty"
    (empty / "images").mkdir(parents=True)
    with pytest.raises(DatasetError, match="no images in"):
        build(str(empty))
    root = write_dataset(str(tmp_path / "s"), num=3, splits={"train.txt": []})
    with pytest.raises(DatasetError, match="lists no images"):
        build(root)
    bad = write_dataset(str(tmp_path / "bad"), num=3, splits={})
    with open(os.path.join(bad, "images", "0001.png"), "wb") as f:
        f.write(b"not an image")
    with pytest.raises(DatasetError, match="0001.png"):
        build(bad)
    with pytest.raises(DatasetError, match="dataset folder not found"):
        build(write_dataset(str(tmp_path / "g2"), num=2),
              extra_roots=[str(tmp_path / "missing")])
    with pytest.raises(TypeError, match="images only"):
        build(str(tmp_path / "s"), with_masks=True)
