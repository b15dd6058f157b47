"""tools/dataset_converters/magnetic_tile.py on a generated copy of the source layout."""

import os
import os.path as osp
import sys

import cv2
import numpy as np
import pytest

from helpers import REPO

sys.path.insert(0, REPO)

from tools.dataset_converters import magnetic_tile  # noqa: E402

SAMPLES = [("Blowhole_exp1_num_1", "Blowhole", (40, 30)), ("Break_exp2_num_7", "Break", (50, 20)),
           ("Crack_exp1_num_3", "Crack", (33, 41)), ("Fray_exp6_num_9", "Fray", (24, 24)),
           ("Uneven_exp3_num_2", "Uneven", (30, 60)), ("Crack_exp1_num_8", "Crack", (20, 28))]


def write_source(root):
    rng = np.random.default_rng(0)
    os.makedirs(osp.join(root, "images"))
    os.makedirs(osp.join(root, "masks"))
    rows = ["name,defect_class,width,height,defect_frac"]
    for name, cls, (h, w) in SAMPLES:
        cv2.imwrite(osp.join(root, "images", name + ".jpg"),
                    rng.integers(0, 255, (h, w), dtype=np.uint8))
        mask = np.zeros((h, w), np.uint8)
        mask[h // 4:h // 2, w // 3:w // 2] = 1
        cv2.imwrite(osp.join(root, "masks", name + ".png"), mask)
        rows.append(f"{name},{cls},{w},{h},{mask.mean():.5f}")
    with open(osp.join(root, "labels.csv"), "w") as f:
        f.write("\n".join(rows) + "\n")
    with open(osp.join(root, "train.txt"), "w") as f:
        f.write("\n".join(s[0] for s in SAMPLES[:4]) + "\n")
    with open(osp.join(root, "test.txt"), "w") as f:
        f.write("\n".join(s[0] for s in SAMPLES[4:]) + "\n")
    return root


def test_class_id_masks_images_and_split_are_written(tmp_path):
    src = write_source(str(tmp_path / "src"))
    dst = str(tmp_path / "dst")
    magnetic_tile.main([src, dst])
    assert magnetic_tile.CLASSES == ("background", "Blowhole", "Break", "Crack", "Fray", "Uneven")
    for name, cls, shape in SAMPLES:
        mask = cv2.imread(osp.join(dst, "masks", name + ".png"), cv2.IMREAD_UNCHANGED)
        binary = cv2.imread(osp.join(src, "masks", name + ".png"), cv2.IMREAD_UNCHANGED)
        assert mask.shape == shape and mask.dtype == np.uint8
        np.testing.assert_array_equal(mask, binary * magnetic_tile.CLASSES.index(cls))
        with open(osp.join(src, "images", name + ".jpg"), "rb") as a, \
                open(osp.join(dst, "images", name + ".jpg"), "rb") as b:
            assert a.read() == b.read()  # images copied unchanged
    for split in ("train.txt", "test.txt"):
        with open(osp.join(src, split)) as a, open(osp.join(dst, split)) as b:
            assert a.read().split() == b.read().split()


def test_a_class_subset_is_renumbered_in_the_order_given(tmp_path, capsys):
    src = write_source(str(tmp_path / "src"))
    dst = str(tmp_path / "crack")
    magnetic_tile.main([src, dst, "--classes", "crack"])  # any case
    assert sorted(os.listdir(osp.join(dst, "masks"))) == ["Crack_exp1_num_3.png",
                                                          "Crack_exp1_num_8.png"]
    for name in ("Crack_exp1_num_3", "Crack_exp1_num_8"):
        binary = cv2.imread(osp.join(src, "masks", name + ".png"), cv2.IMREAD_UNCHANGED)
        mask = cv2.imread(osp.join(dst, "masks", name + ".png"), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(mask, binary)  # a binary crack set: ids 0/1
    with open(osp.join(dst, "train.txt")) as f:
        assert f.read().split() == ["Crack_exp1_num_3"]
    with open(osp.join(dst, "test.txt")) as f:
        assert f.read().split() == ["Crack_exp1_num_8"]
    with open(osp.join(dst, "classes.txt")) as f:
        assert f.read().split("\n")[:2] == ["0 background", "1 Crack"]

    two = str(tmp_path / "two")
    capsys.readouterr()
    magnetic_tile.main([src, two, "--classes", "Uneven,Blowhole"])
    assert "(1 Uneven: 1, 2 Blowhole: 1)" in capsys.readouterr().out  # the summary's ids
    uneven = cv2.imread(osp.join(two, "masks", "Uneven_exp3_num_2.png"), cv2.IMREAD_UNCHANGED)
    blowhole = cv2.imread(osp.join(two, "masks", "Blowhole_exp1_num_1.png"),
                          cv2.IMREAD_UNCHANGED)
    assert set(np.unique(uneven)) == {0, 1} and set(np.unique(blowhole)) == {0, 2}
    for args, match in ((["--classes", "Scratch"], "unknown class 'Scratch'"),
                        (["--classes", "Crack,crack"], "given twice")):
        with pytest.raises(SystemExit, match=match):
            magnetic_tile.main([src, str(tmp_path / "bad"), *args])
    with open(osp.join(src, "train.txt"), "w") as f:  # no Fray image left in either split
        f.write("\n".join(s[0] for s in SAMPLES[:3]) + "\n")
    with pytest.raises(SystemExit, match=r"no image of class\(es\) \['Fray'\]"):
        magnetic_tile.main([src, str(tmp_path / "bad"), "--classes", "Fray"])
    assert not (tmp_path / "bad").exists()


def test_refuses_to_overwrite_and_reports_bad_files(tmp_path):
    src = write_source(str(tmp_path / "src"))
    dst = tmp_path / "dst"
    dst.mkdir()
    (dst / "keep.txt").write_text("user data")
    with pytest.raises(SystemExit, match="refusing to write"):
        magnetic_tile.main([src, str(dst)])
    assert (dst / "keep.txt").read_text() == "user data"

    bad = np.full((20, 28), 128, np.uint8)
    cv2.imwrite(osp.join(src, "masks", "Crack_exp1_num_8.png"), bad)
    out = tmp_path / "out"
    with pytest.raises(SystemExit, match=r"Crack_exp1_num_8.png.*values \[128\]"):
        magnetic_tile.main([src, str(out)])
    assert not out.exists()  # checked before the first write

    with open(osp.join(src, "test.txt"), "a") as f:
        f.write("Crack_unknown\n")
    with pytest.raises(SystemExit, match="test.txt.*absent from labels.csv"):
        magnetic_tile.main([src, str(out)])
