import pytest
from mmengine.config import Config

from helpers import REPO
from mmseg_uda.utils import (
    ConfigKeyError,
    check_cfg_options,
    check_schedule,
    check_top_level_keys,
    load_config,
)
from mmseg_uda.utils.config import edit_distance

CFG = f"{REPO}/configs/segformer/segformer_mit-b0_4x1k_cracks-256_cpu.py"


def test_edit_distance():
    assert edit_distance("train_cfg", "trian_cfg") == 1  # transposition
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == 3


def test_cfg_options_typos_are_refused_with_suggestion():
    cfg = Config.fromfile(CFG)
    check_cfg_options(cfg, {"train_cfg.max_iters": 5, "model.backbone.init_cfg": None})
    with pytest.raises(ConfigKeyError, match="did you mean 'max_iters'"):
        check_cfg_options(cfg, {"train_cfg.max_iter": 5})
    with pytest.raises(ConfigKeyError, match="has no key 'decode_haed' — did you mean"):
        check_cfg_options(cfg, {"model.decode_haed.num_classes": 3})
    with pytest.raises(ConfigKeyError, match="list of 2 items"):
        check_cfg_options(cfg, {"param_scheduler.5.end": 3})
    check_cfg_options(cfg, {"param_scheduler.1.begin": 3})


def test_top_level_typo_refused_helper_variables_allowed(tmp_path):
    good = tmp_path / "good.py"
    good.write_text(f"_base_ = ['{CFG}']\nmy_crop = (64, 64)\n")
    check_top_level_keys(Config.fromfile(str(good)))
    bad = tmp_path / "bad.py"
    bad.write_text(f"_base_ = ['{CFG}']\ntrian_cfg = dict(max_iters=3)\n")
    with pytest.raises(ConfigKeyError, match="did you mean 'train_cfg'"):
        load_config(str(bad))
    with pytest.raises(FileNotFoundError, match="config file not found"):
        load_config(str(tmp_path / "nope.py"))


def test_schedule_longer_than_training_is_refused():
    cfg = Config.fromfile(CFG)
    cfg.train_cfg.max_iters = 50  # warm-up ends at 100
    with pytest.raises(SystemExit, match=r"param_scheduler\[1\] \(PolyLR\)"):
        check_schedule(cfg)
    cfg.train_cfg.max_iters = 1000
    check_schedule(cfg)


def test_cfg_options_fill_a_none_setting_with_a_dict():
    """``init_cfg=None`` in the CPU configs: ``--cfg-options ...init_cfg.type=...`` makes it a
    dict (MMEngine's merge alone refuses a dict into None)."""
    prefix = "model.segmentor.backbone.init_cfg"
    cfg = load_config(f"{REPO}/configs/dacs_cracks_cpu.py",
                      {f"{prefix}.type": "MiTPretrained", f"{prefix}.checkpoint": "/w.pth"})
    assert cfg.model.segmentor.backbone.init_cfg == dict(type="MiTPretrained",
                                                         checkpoint="/w.pth")
    with pytest.raises(ConfigKeyError, match="has no key 'bakbone'"):
        load_config(f"{REPO}/configs/dacs_cracks_cpu.py",
                    {"model.segmentor.bakbone.init_cfg.type": "MiTPretrained"})
