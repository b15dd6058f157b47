"""tools/dataset_converters/dev_split.py: a stratified dev split of the train photos only."""

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
from tools.dataset_converters import dev_split  # noqa: E402

# train: 8 photos of dominant class 1, 4 of class 2 (with some class-1 pixels), 1 of class 3,
# 2 defect-free; test: 3 photos that must never reach the dev set.
TRAIN = ([(f"a{i}", 1) for i in range(8)] + [(f"b{i}", 2) for i in range(4)]
         + [("c0", 3), ("n0", 0), ("n1", 0)])
TEST = [("t0", 1), ("t1", 2), ("t2", 3)]


def write_set(root, classes=True):
    os.makedirs(osp.join(root, "images"))
    os.makedirs(osp.join(root, "masks"))
    for name, cls in TRAIN + TEST:
        cv2.imwrite(osp.join(root, "images", name + ".jpg"), np.full((6, 8, 3), 100, np.uint8))
        mask = np.zeros((6, 8), np.uint8)
        if cls:
            mask[:3] = cls
            mask[5, :2] = 1  # a minority of class 1 everywhere: the dominant class wins
            mask[5, 7] = 255  # ignore is no class
        cv2.imwrite(osp.join(root, "masks", name + ".png"), mask)
    for split, items in (("train.txt", TRAIN), ("test.txt", TEST)):
        with open(osp.join(root, split), "w") as f:
            f.write("\n".join(n for n, _ in items) + "\n")
    if classes:
        with open(osp.join(root, "classes.txt"), "w") as f:
            f.write("0 background\n1 pit\n2 break\n3 crack\n")
    return root


def names(root, split):
    with open(osp.join(root, split)) as f:
        return f.read().split()


def test_holds_out_a_stratified_share_of_the_train_photos_only(tmp_path):
    src = write_set(str(tmp_path / "src"))
    dst = str(tmp_path / "dst")
    dev_split.main([src, dst, "--fraction", "0.25", "--seed", "3"])
    train, test = names(dst, "train.txt"), names(dst, "test.txt")
    everything = [n for n, _ in TRAIN]
    assert sorted(train + test) == sorted(everything) and not set(train) & set(test)
    # round(0.25 * 8) = 2 of class 1, 1 of the 4 of class 2, at least 1 of the 2 defect-free;
    # a class with one photo stays in train (it cannot be in both halves).
    assert sum(n.startswith("a") for n in test) == 2
    assert sum(n.startswith("b") for n in test) == 1
    assert sum(n.startswith("n") for n in test) == 1
    assert "c0" in train
    # SRC's test photos are not even linked into DST.
    linked = {osp.splitext(f)[0] for f in os.listdir(osp.join(dst, "images"))}
    assert linked == set(everything)
    assert osp.islink(osp.join(dst, "images", "a0.jpg"))
    with open(osp.join(dst, "dev_split.json")) as f:
        record = json.load(f)
    assert record["groups"]["pit"] == dict(photos=8, held_out=2)
    assert record["groups"]["crack"] == dict(photos=1, held_out=0)
    assert record["held_out"] == test and record["seed"] == 3
    # The result is a dataset the project reads, split by split.
    for split, listed in (("train.txt", train), ("test.txt", test)):
        dataset = DefectDataset(data_root=dst, split=split,
                                metainfo=dict(classes=("background", "pit", "break", "crack")))
        assert len(dataset) == len(listed)


def test_split_files_are_read_as_the_dataset_reads_them(tmp_path):
    # Comment lines, blank lines and image extensions: the dataset accepts such a train.txt,
    # so the converter must too (and hold out the same photos as from the plain file).
    plain = write_set(str(tmp_path / "plain"))
    commented = write_set(str(tmp_path / "commented"))
    with open(osp.join(commented, "train.txt"), "w") as f:
        f.write("# train photos\n" + "\n\n".join(n + ".jpg" for n, _ in TRAIN) + "\n# end\n")
    for src in (plain, commented):
        dev_split.main([src, src + "_dev", "--seed", "4"])
    assert names(plain + "_dev", "test.txt") == names(commented + "_dev", "test.txt")
    assert len(DefectDataset(data_root=commented, split="train.txt",
                             metainfo=dict(classes=("background", "pit", "break", "crack")))
               ) == len(TRAIN)


def test_the_hold_out_is_deterministic_per_seed(tmp_path):
    src = write_set(str(tmp_path / "src"))
    picks = []
    for i, seed in enumerate((0, 0, 1, 2, 5)):
        dst = str(tmp_path / f"dst{i}")
        dev_split.main([src, dst, "--seed", str(seed), "--copy"])
        assert not osp.islink(osp.join(dst, "masks", "a0.png"))
        picks.append(names(dst, "test.txt"))
    assert picks[0] == picks[1]
    assert any(p != picks[0] for p in picks[2:])


def test_bad_input_is_refused_before_anything_is_written(tmp_path):
    src = write_set(str(tmp_path / "src"))
    for args, message in ((["--fraction", "1.0"], "between 0 and 1"),
                          (["--fraction", "0"], "between 0 and 1"),
                          (["--split", "val.txt"], "split file not found")):
        with pytest.raises(SystemExit, match=message):
            dev_split.main([src, str(tmp_path / "out")] + args)
        assert not osp.exists(tmp_path / "out")
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine")
    with pytest.raises(SystemExit, match="refusing to write"):
        dev_split.main([src, str(taken)])
    assert os.listdir(taken) == ["keep.txt"]
    os.remove(osp.join(src, "masks", "b2.png"))
    with pytest.raises(SystemExit, match="no mask for 'b2'"):
        dev_split.main([src, str(tmp_path / "out")])
    cv2.imwrite(osp.join(src, "masks", "b2.png"), np.zeros((5, 8), np.uint8))
    with pytest.raises(SystemExit, match="is 8x5 but image"):
        dev_split.main([src, str(tmp_path / "out")])
    assert not osp.exists(tmp_path / "out")
    with open(osp.join(src, "train.txt"), "a") as f:
        f.write("a3\n")
    with pytest.raises(SystemExit, match=r"lists \['a3'\] more than once"):
        dev_split.main([src, str(tmp_path / "out")])
    assert not osp.exists(tmp_path / "out")
