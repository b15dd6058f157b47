"""tools/dataset_converters/mosaic.py: photos tiled into large images, split by split."""

import json
import os
import os.path as osp
import sys

import cv2
import numpy as np
import pytest

from helpers import REPO

sys.path.insert(0, REPO)

from mmseg_uda.datasets import DefectDataset  # noqa: E402
from tools.dataset_converters import mosaic  # noqa: E402

# name -> (height, width); train: 5 photos, test: 3 (one of another size).
TRAIN = [(f"tr{i}", (6, 8)) for i in range(5)]
TEST = [("te0", (6, 8)), ("te1", (4, 8)), ("te2", (6, 8))]


def write_set(root):
    rng = np.random.default_rng(0)
    os.makedirs(osp.join(root, "images"))
    os.makedirs(osp.join(root, "masks"))
    for name, (h, w) in TRAIN + TEST:
        cv2.imwrite(osp.join(root, "images", name + ".png"),
                    rng.integers(1, 255, (h, w, 3), dtype=np.uint8))
        cv2.imwrite(osp.join(root, "masks", name + ".png"),
                    rng.integers(0, 2, (h, w), dtype=np.uint8))
    for split, items in (("train.txt", TRAIN), ("test.txt", TEST)):
        with open(osp.join(root, split), "w") as f:
            f.write("\n".join(n for n, _ in items) + "\n")
    with open(osp.join(root, "classes.txt"), "w") as f:
        f.write("0 background\n1 crack\n")
    return root


def read(root, folder, name, flags=cv2.IMREAD_UNCHANGED):
    return cv2.imread(osp.join(root, folder, name + ".png"), flags)


def test_photos_and_masks_land_where_the_index_says(tmp_path):
    src = write_set(str(tmp_path / "src"))
    dst = str(tmp_path / "dst")
    mosaic.main([src, dst, "--grid", "2x2"])
    with open(osp.join(dst, "train.txt")) as f:
        assert f.read().split() == ["train_000", "train_001"]
    with open(osp.join(dst, "test.txt")) as f:
        assert f.read().split() == ["test_000"]
    with open(osp.join(dst, "mosaics.json")) as f:
        index = json.load(f)["mosaics"]
    # 4 photos -> 2x2 of 8x6; the fifth alone; the test split never mixes with train.
    assert index["train_000"]["size"] == [16, 12] and index["train_001"]["size"] == [8, 6]
    assert [p["name"] for p in index["test_000"]["photos"]] == ["te0", "te1", "te2"]
    for name in ("train_000", "train_001", "test_000"):  # test_000 last: `covered` below
        entry = index[name]
        image, mask = read(dst, "images", name), read(dst, "masks", name)
        covered = np.zeros(mask.shape, bool)
        for photo in entry["photos"]:
            x, y, w, h = photo["box"]
            np.testing.assert_array_equal(image[y:y + h, x:x + w],
                                          read(src, "images", photo["name"]))
            np.testing.assert_array_equal(mask[y:y + h, x:x + w],
                                          read(src, "masks", photo["name"]))
            covered[y:y + h, x:x + w] = True
        # Everything no photo covers (the empty fourth cell, te1's short cell) is ignored.
        assert (mask[~covered] == 255).all() and (image[~covered] == 0).all()
    assert (~covered).sum() == 2 * 8 + 6 * 8  # test_000: te1's 2 missing rows + empty cell
    with open(osp.join(dst, "classes.txt")) as a, open(osp.join(src, "classes.txt")) as b:
        assert a.read() == b.read()
    # The result is a labeled set the project reads.
    ds = DefectDataset(data_root=dst, split="test.txt", metainfo=dict(classes=("bg", "crack")))
    assert len(ds) == 1


def test_bad_input_is_refused_before_writing(tmp_path):
    src = write_set(str(tmp_path / "src"))
    dst = tmp_path / "dst"
    dst.mkdir()
    (dst / "keep.txt").write_text("user data")
    with pytest.raises(SystemExit, match="refusing to write"):
        mosaic.main([src, str(dst)])
    assert (dst / "keep.txt").read_text() == "user data"
    out = tmp_path / "out"
    for grid in ("3", "1x1", "0x2", "axb"):
        with pytest.raises(SystemExit, match="--grid"):
            mosaic.main([src, str(out), "--grid", grid])
    cv2.imwrite(osp.join(src, "masks", "te2.png"), np.zeros((5, 8), np.uint8))
    with pytest.raises(SystemExit, match=r"te2.png.*8x5.*8x6"):
        mosaic.main([src, str(out)])
    os.remove(osp.join(src, "masks", "te2.png"))
    with pytest.raises(SystemExit, match="no mask for 'te2'"):
        mosaic.main([src, str(out)])
    with pytest.raises(SystemExit, match="split file not found.*val.txt"):
        mosaic.main([src, str(out), "--splits", "val.txt"])
    assert not out.exists()  # every check runs before the first write
