"""A generated multi-class source (magnetic tiles): class names checked, DACS trains on it."""

import glob
import os.path as osp
import shutil

import pytest
from mmengine.runner import Runner
from test_uda.uda_testing import tiny_uda_config

import synthetic
from helpers import REPO
from mmseg_uda.datasets.defect_dataset import DatasetError, DefectDataset

DACS_MT = osp.join(REPO, "configs", "dacs_magnetic_tile_cpu.py")
TYPES = ("blowhole", "break", "crack", "fray", "uneven")
CLASSES = ("background", *TYPES)


@pytest.fixture(scope="module")
def tiles(tmp_path_factory):
    """Generated tiles as source, and a second generated set as the (labeled) target."""
    root = tmp_path_factory.mktemp("magnetic_tile")
    src, tgt = root / "source", root / "target"
    synthetic.generate_dataset(src, types=TYPES, num=12, size=96, seed=0,
                               style="magnetic_tile", progress=False)
    synthetic.generate_dataset(tgt, types=TYPES, num=6, size=96, seed=1,
                               style="magnetic_tile", progress=False)
    shutil.copy(tgt / "train.txt", tgt / "test.txt")  # the target's evaluation split
    return dict(source=str(src), target=str(tgt))


def test_generated_class_names_must_match_the_config(tiles):
    ds = DefectDataset(data_root=tiles["source"], split="train.txt",
                       metainfo=dict(classes=CLASSES))
    assert len(ds) == 11  # 12 images, 1 in val.txt
    swapped = ("background", "break", "blowhole", "crack", "fray", "uneven")
    with pytest.raises(DatasetError, match=r"meta\.json.*names the classes.*metainfo.classes"):
        DefectDataset(data_root=tiles["source"], split="train.txt",
                      metainfo=dict(classes=swapped))
    # The converter of the real tiles writes capitalised names: the same classes.
    capitalised = ("background", "Blowhole", "Break", "Crack", "Fray", "Uneven")
    DefectDataset(data_root=tiles["source"], split="train.txt",
                  metainfo=dict(classes=capitalised))
    # An unlabeled folder is not checked (its masks are not read).
    DefectDataset(data_root=tiles["source"], split="train.txt", with_masks=False,
                  metainfo=dict(classes=swapped))


def test_dacs_trains_on_the_multiclass_source_with_rare_class_sampling(tiles, tmp_path):
    work = str(tmp_path / "run")
    cfg = tiny_uda_config(work, tiles, config=DACS_MT, iters=3)
    assert tuple(cfg.train_dataloader.dataset.source.metainfo.classes) == CLASSES
    assert cfg.train_dataloader.dataset.rare_class_sampling == dict(temperature=0.01)
    runner = Runner.from_cfg(cfg)
    rcs = runner.train_dataloader.dataset.rcs
    assert rcs is not None and len(rcs["class_probabilities"]) == 6
    # The rarest classes by pixel share (blowholes, cracks) are drawn far more often than
    # the large fray / uneven regions.
    p = dict(zip(CLASSES, rcs["class_probabilities"]))
    assert min(p["blowhole"], p["crack"]) > 10 * max(p["fray"], p["uneven"], p["background"])
    runner.train()
    assert osp.isfile(osp.join(work, "iter_3.pth"))
    with open(glob.glob(osp.join(work, "*", "*.log"))[0]) as f:
        log = f.read()
    assert "src.decode.loss_ce" in log and "mix.decode.loss_ce" in log  # DACS, not source-only
    for name in TYPES:
        assert f"IoU.{name}" in log


def test_debug_panel_names_the_colours_of_six_classes():
    import numpy as np
    import torch

    from mmseg_uda.engine.hooks.uda_debug_hook import render_debug_panel

    palette = [[0, 0, 0], [255, 0, 0], [0, 200, 0], [0, 120, 255], [255, 200, 0], [200, 0, 255]]
    outputs = dict(image=torch.rand(2, 3, 32, 32), label=torch.randint(0, 6, (2, 32, 32)))
    plain = render_debug_panel(outputs, palette)
    legend = render_debug_panel(outputs, palette, class_names=CLASSES)
    assert legend.shape[1] == plain.shape[1] and legend.shape[0] > plain.shape[0]
    np.testing.assert_array_equal(legend[:plain.shape[0]], plain)
    strip = legend[plain.shape[0]:]
    for colour in palette[1:]:  # a swatch of every class colour
        assert (strip == colour).all(axis=-1).any(), colour
