"""Every config under configs/ loads, passes the key checks, and builds its model."""

import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmseg.registry import MODELS

from helpers import REPO
from mmseg_uda.utils import check_top_level_keys

TOP_CONFIGS = sorted(p for p in glob.glob(osp.join(REPO, "configs", "**", "*.py"), recursive=True)
                     if "_base_" not in p and f"{osp.sep}benchmarks{osp.sep}" not in p)
BASE_CONFIGS = sorted(glob.glob(osp.join(REPO, "configs", "_base_", "**", "*.py"),
                                recursive=True))


def _rel(path):
    return osp.relpath(path, REPO)


@pytest.mark.parametrize("path", BASE_CONFIGS, ids=_rel)
def test_base_config_loads(path):
    Config.fromfile(path)


@pytest.mark.parametrize("path", TOP_CONFIGS, ids=_rel)
def test_config_loads_and_builds_model(path):
    cfg = Config.fromfile(path)
    check_top_level_keys(cfg, source=path)
    for key in ("model", "train_dataloader", "train_cfg", "optim_wrapper", "default_scope"):
        assert key in cfg, f"{_rel(path)} has no {key!r}"
    assert cfg.default_scope == "mmseg"
    assert "mmseg_uda" in cfg.custom_imports["imports"]
    model = MODELS.build(cfg.model)
    assert sum(p.numel() for p in model.parameters()) > 0


def test_there_are_configs():
    assert len(TOP_CONFIGS) >= 2 and len(BASE_CONFIGS) >= 8
