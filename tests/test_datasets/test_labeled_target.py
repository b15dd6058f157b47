"""A few labeled target images in the supervised stream (UDADataset ``labeled_target``) and
their choice by the adaptation benchmark (``labeled_target=N`` / ``--labeled-target N``)."""

import os.path as osp
import sys

import cv2
import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmseg.registry import DATASETS, MODELS
from test_uda.uda_testing import DACS_CPU, tiny_options

from helpers import REPO, write_dataset
from mmseg_uda.datasets import DatasetError
from mmseg_uda.datasets.uda_dataset import choose_labeled_target
from mmseg_uda.utils import check_data, data_provenance, load_config

sys.path.insert(0, osp.join(REPO, "tools"))
import benchmark_adaptation as ba  # noqa: E402

SOURCE_PIPELINE = [dict(type="LoadImageFromFile"), dict(type="LoadAnnotations"),
                   dict(type="PackSegInputs")]
TARGET_PIPELINE = [dict(type="LoadImageFromFile"), dict(type="PackSegInputs")]
SIZE = 32


def _split(root, name="train.txt"):
    with open(osp.join(root, name)) as f:
        return [line.strip() for line in f if line.strip()]


def _data(tmp_path, target_masks=True):
    """Source: 4 train images; target: 12 images, train.txt = 0..7, test.txt = 8..11."""
    src = write_dataset(str(tmp_path / "src"), num=6, size=(SIZE, SIZE), seed=0)
    tgt = write_dataset(str(tmp_path / "tgt"), num=12, size=(SIZE, SIZE), seed=1,
                        with_masks=target_masks)
    return src, tgt


def _uda_cfg(src, tgt, **labeled):
    return dict(type="UDADataset",
                source=dict(type="DefectDataset", data_root=src, split="train.txt",
                            pipeline=SOURCE_PIPELINE),
                target=dict(type="DefectDataset", data_root=tgt, split="train.txt",
                            with_masks=False, pipeline=TARGET_PIPELINE),
                labeled_target=labeled or None)


def _name(item):
    return osp.splitext(osp.basename(item["data_samples"].img_path))[0]


def test_choice_is_seeded_nested_and_bounded():
    names = [f"img{i:02d}" for i in range(72)]
    five = choose_labeled_target(names, 5, seed=0)
    assert five == choose_labeled_target(names, 5, seed=0) and len(set(five)) == 5
    assert choose_labeled_target(names, 10, seed=0)[:5] == five  # nested per seed
    assert set(choose_labeled_target(names, 5, seed=1)) != set(five)
    with pytest.raises(DatasetError, match="between 1 and the 72 images"):
        choose_labeled_target(names, 73)


def test_labeled_items_are_an_exact_share_of_the_supervised_stream(tmp_path):
    src, tgt = _data(tmp_path)
    ds = DATASETS.build(_uda_cfg(src, tgt, split="train.txt", num=3, ratio=0.5, seed=2))
    train = _split(tgt)
    assert ds.labeled_target_names == choose_labeled_target(train, 3, seed=2)
    np.random.seed(0)
    pairs = [[ds[i % len(ds)] for i in (2 * b, 2 * b + 1)] for b in range(30)]
    seen_labeled, seen_target = set(), set()
    for pair in pairs:
        # one of the 2 source items of every batch is a labeled target image, with its mask
        labeled = [it["source"] for it in pair
                   if it["source"]["data_samples"].img_path.startswith(tgt)]
        assert len(labeled) == 1 and "gt_sem_seg" in labeled[0]["data_samples"]
        mask = cv2.imread(osp.join(tgt, "masks", _name(labeled[0]) + ".png"), 0)
        assert np.array_equal(labeled[0]["data_samples"].gt_sem_seg.data[0].numpy(), mask)
        seen_labeled.add(_name(labeled[0]))
        seen_target.update(_name(it["target"]) for it in pair)
        batch = pseudo_collate(pair)
        assert len(batch["source"]["data_samples"]) == 2
    assert seen_labeled == set(ds.labeled_target_names)
    # the unlabeled (pseudo-label) stream still draws from the whole train split
    assert seen_target == set(train)
    # ratio 0.25: one labeled item in every 4
    ds = DATASETS.build(_uda_cfg(src, tgt, split="train.txt", num=3, ratio=0.25))
    flags = [ds[0]["source"]["data_samples"].img_path.startswith(tgt) for _ in range(16)]
    assert sum(flags) == 4 and all(sum(flags[i:i + 4]) == 1 for i in range(0, 16, 4))


def test_bad_labeled_target_is_a_clear_error(tmp_path):
    src, tgt = _data(tmp_path)
    with pytest.raises(DatasetError, match="num = 9 but the split file .*train.txt lists only 8"):
        DATASETS.build(_uda_cfg(src, tgt, split="train.txt", num=9))
    with pytest.raises(DatasetError, match=r"takes \('split', 'num', 'ratio', 'seed'\)"):
        DATASETS.build(_uda_cfg(src, tgt, split="train.txt", nmu=3))
    with pytest.raises(DatasetError, match="split required"):
        DATASETS.build(_uda_cfg(src, tgt, split=None, num=3))
    for ratio in (0, 1.5, -0.5, "half"):
        with pytest.raises(DatasetError, match=r"ratio must be in \(0, 1\]"):
            DATASETS.build(_uda_cfg(src, tgt, split="train.txt", num=3, ratio=ratio))
    # an unknown mask value in a chosen image names the mask
    chosen = choose_labeled_target(_split(tgt), 3, seed=0)
    bad = osp.join(tgt, "masks", chosen[0] + ".png")
    cv2.imwrite(bad, np.full((SIZE, SIZE), 7, np.uint8))
    with pytest.raises(DatasetError, match=f"labeled_target: mask {bad!r} has values \\[7\\]"):
        DATASETS.build(_uda_cfg(src, tgt, split="train.txt", num=3))
    # ... but the masks of images not chosen are never read
    other = [n for n in _split(tgt) if n not in chosen][0]
    cv2.imwrite(bad, cv2.imread(osp.join(tgt, "masks", other + ".png"), 0))
    cv2.imwrite(osp.join(tgt, "masks", other + ".png"), np.full((SIZE, SIZE), 7, np.uint8))
    DATASETS.build(_uda_cfg(src, tgt, split="train.txt", num=3))
    # a target without masks
    src2, unlabeled = _data(tmp_path / "two", target_masks=False)
    with pytest.raises(DatasetError, match="has no mask folder .*need their masks"):
        DATASETS.build(_uda_cfg(src2, unlabeled, split="train.txt", num=3))


def _source_loss(ds, seed=0):
    """The supervised loss of one batch of 2 items of ``ds`` on a fixed tiny DACS model."""
    cfg = load_config(DACS_CPU, tiny_options(crop=SIZE))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    np.random.seed(seed)
    data = model.data_preprocessor(pseudo_collate([ds[0], ds[1]]), True)
    return model.loss(data["inputs"], data["data_samples"])["src.decode.loss_ce"].item()


def test_labeled_masks_are_in_the_supervised_loss(tmp_path):
    src, tgt = _data(tmp_path)
    cfg = _uda_cfg(src, tgt, split="train.txt", num=2, ratio=1.0)
    ds = DATASETS.build(cfg)
    before = _source_loss(ds)
    assert _source_loss(DATASETS.build(cfg)) == before
    # masks of target images that are not labeled: the loss stays the same
    others = [n for n in _split(tgt) if n not in ds.labeled_target_names]
    for name in others:
        cv2.imwrite(osp.join(tgt, "masks", name + ".png"), np.zeros((SIZE, SIZE), np.uint8))
    assert _source_loss(DATASETS.build(cfg)) == before
    # the labeled images' masks: it changes
    for name in ds.labeled_target_names:
        path = osp.join(tgt, "masks", name + ".png")
        cv2.imwrite(path, (1 - np.minimum(cv2.imread(path, 0), 1)).astype(np.uint8))
    assert _source_loss(DATASETS.build(cfg)) != pytest.approx(before, rel=1e-3)


def _write_config(tmp_path, src, tgt, **labeled):
    path = tmp_path / "labeled.py"
    keys = ", ".join(f"{k}={v!r}" for k, v in labeled.items())
    path.write_text(
        f"_base_ = ['{DACS_CPU}']\nsource_root = '{src}'\ntarget_root = '{tgt}'\n"
        f"train_dataloader = dict(dataset=dict(labeled_target=dict({keys})))\n")
    return str(path)


def test_config_checks_before_training_and_provenance(tmp_path):
    src, tgt = _data(tmp_path)
    off = load_config(_write_config(tmp_path, src, tgt))
    assert off.train_dataloader.dataset.labeled_target.split is None
    assert "labeled_target" not in data_provenance(off)
    cfg = load_config(_write_config(tmp_path, src, tgt, split="train.txt", num=3))
    check_data(cfg, "train")
    labeled = data_provenance(cfg)["labeled_target"]
    assert labeled["names"] == choose_labeled_target(_split(tgt), 3, seed=0)
    assert labeled["num"] == 3 and labeled["ratio"] == 0.5
    with pytest.raises(DatasetError, match="num = 30 but the split file"):
        check_data(load_config(_write_config(tmp_path, src, tgt, split="train.txt", num=30)),
                   "train")
    # images of the evaluation split are refused, wherever the split file is
    with pytest.raises(DatasetError, match="also in the evaluation split"):
        check_data(load_config(_write_config(tmp_path, src, tgt, split="test.txt", num=2)),
                   "train")
    elsewhere = tmp_path / "chosen.txt"
    elsewhere.write_text("0001\n0009\n")
    with pytest.raises(DatasetError, match=r"1 of the labeled target images .*\['0009'\]"):
        check_data(load_config(_write_config(tmp_path, src, tgt, split=str(elsewhere))),
                   "train")


def test_benchmark_chooses_from_train_only_per_seed(tmp_path):
    _, tgt = _data(tmp_path)
    with open(osp.join(tgt, "train.txt"), "a") as f:
        f.write("0011\n")  # also in test.txt: never chosen
    picks = {seed: ba.choose_target_labels(tgt, 8, seed) for seed in (0, 1)}
    for names in picks.values():
        assert sorted(names) == _split(tgt)[:8]  # all of train.txt less test.txt
    assert picks[0] != picks[1]
    assert ba.choose_target_labels(tgt, 3, 1) == picks[1][:3]
    with pytest.raises(SystemExit, match="num = 9: choose between 1 and the 8 images"):
        ba.choose_target_labels(tgt, 9, 0)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    opts, record = ba.labeled_target_options(dict(num=3, ratio=0.25), tgt, str(run_dir), 1)
    assert _split(str(run_dir), "labeled_target.txt") == record["names"] == picks[1][:3]
    assert opts == [f"train_dataloader.dataset.labeled_target.split={run_dir}/"
                    "labeled_target.txt", "train_dataloader.dataset.labeled_target.num=3",
                    "train_dataloader.dataset.labeled_target.ratio=0.25"]
    # run dirs say N; a tent method or a bad value is refused
    spec = ba.method_spec("d", dict(config="configs/dacs_cracks_cpu.py", labeled_target=5))
    assert ba.run_dir_of("w", "d", 0, spec["labeled_target"]) == osp.join("w", "d",
                                                                         "seed0_labels5")
    plain = ba.method_spec("s", "configs/dacs_cracks_cpu.py")
    assert ba.run_dir_of("w", "s", 0, ba.method_labels(plain, None)) == osp.join("w", "s",
                                                                               "seed0")
    assert ba.method_labels(plain, 10) == dict(num=10)
    assert ba.method_labels(spec, 10) == dict(num=5)
    for bad in (-1, "5", dict(num=5, share=0.5)):
        with pytest.raises(SystemExit, match="labeled_target must be"):
            ba.method_spec("d", dict(config="configs/dacs_cracks_cpu.py", labeled_target=bad))
    with pytest.raises(SystemExit, match="tent method trains nothing"):
        ba.method_spec("t", dict(config="configs/source_only_cracks_cpu.py", labeled_target=5,
                                 tent=dict(after="s")))
    assert ba.parse_args(["b.py", "--labeled-target", "5"]).labeled_target == 5
    # ignore_from=dict(method=...) finds that method's checkpoint in its labeled run dir
    ckpt = tmp_path / "w" / "d" / "seed0_labels5" / "iter_2.pth"
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(b"")
    specs = dict(d=spec, s=plain)
    assert ba._ignore_model(dict(method="d"), specs, str(tmp_path / "w"), 0,
                            dict(max_iters=2)) == [spec["config"], str(ckpt)]
    with pytest.raises(SystemExit, match="seed0_labels3"):
        ba._ignore_model(dict(method="s"), specs, str(tmp_path / "w"), 0, dict(max_iters=2), 3)


@pytest.mark.slow
def test_benchmark_runs_record_their_labeled_images(tmp_path):
    """run_benchmark end to end (tiny, generated data): split file, run dir, run.json, log and
    test report name the same images of train.txt."""
    import json

    from test_tools.test_demo import tiny_method

    bench = dict(
        target=dict(generate=dict(type="crack", num=10, size=64, seed=1, style="field")),
        source=dict(generate=dict(type="crack", num=6, size=64, seed=0, style="lab")),
        seeds=[0], budget=dict(max_iters=2, val_interval=2),
        methods=dict(dacs_2=dict(tiny_method(DACS_CPU), labeled_target=2)),
        cfg_options=["val_dataloader.dataset.split=val.txt",
                     "test_dataloader.dataset.split=val.txt"])
    work = str(tmp_path / "bench")
    payload = ba.run_benchmark(bench, "tiny", work)
    run = osp.join(work, "dacs_2", "seed0_labels2")
    names = _split(run, "labeled_target.txt")
    target = payload["target"]
    assert names == ba.choose_target_labels(target, 2, 0)
    assert set(names) <= set(_split(target)) and not set(names) & set(_split(target, "val.txt"))
    with open(osp.join(run, "run.json")) as f:
        assert json.load(f)["labeled_target"]["names"] == names
    with open(osp.join(run, "report.json")) as f:
        assert json.load(f)["data"]["labeled_target"]["names"] == names
    with open(osp.join(run, "report.md")) as f:
        assert f"labeled target images (`{run}/labeled_target.txt`, share 0.5 of the source " \
               f"items): {', '.join(names)}" in f.read()
    with open(osp.join(run, "train.log")) as f:
        assert "UDADataset labeled target: 2 images" in f.read()
    assert payload["runs"]["dacs_2"][0]["labeled_target"]["names"] == names
