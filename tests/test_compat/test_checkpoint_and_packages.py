import os.path as osp
import pickle

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint

from mmseg_uda.compat import checkpoint, packages


def _runner_like_checkpoint(path):
    """What a Runner checkpoint pickles: HistoryBuffer, numpy scalars, getattr (via numpy)."""
    state = {
        "meta": {"iter": 3, "seed": np.int64(0)},
        "state_dict": {"w": torch.ones(2)},
        "message_hub": {"log_scalars": {"loss": HistoryBuffer([np.float64(0.5)], [1])}},
    }
    torch.save(state, path)


def test_plain_torch_load_refuses_runner_checkpoint(tmp_path):
    path = str(tmp_path / "iter_3.pth")
    _runner_like_checkpoint(path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path)  # torch >= 2.6 default: weights_only=True


def test_mmengine_local_scheme_loads_runner_checkpoint(tmp_path):
    path = str(tmp_path / "iter_3.pth")
    _runner_like_checkpoint(path)
    assert CheckpointLoader._schemes[""] is checkpoint.load_from_trusted_local
    loaded = _load_checkpoint(path, map_location="cpu")
    assert loaded["meta"]["iter"] == 3
    assert isinstance(loaded["message_hub"]["log_scalars"]["loss"], HistoryBuffer)


def test_missing_checkpoint_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        checkpoint.load_from_trusted_local(str(tmp_path / "nope.pth"))


def test_published_weights_load_with_weights_only(tmp_path):
    path = str(tmp_path / "weights.pth")
    checkpoint.save_weights({"w": torch.arange(3.0)}, path, meta={"arch": "mit_b0"})
    loaded = checkpoint.load_weights_only(path)
    torch.testing.assert_close(loaded["state_dict"]["w"], torch.arange(3.0))
    with pytest.raises(FileExistsError):
        checkpoint.save_weights({"w": torch.zeros(1)}, path)


def test_package_lookup_without_pkg_resources():
    assert packages.is_installed("mmsegmentation")
    assert packages.is_installed("mmseg")
    assert not packages.is_installed("surely_not_a_package_xyz")
    assert packages.package2module("mmsegmentation") == "mmseg"
    path = packages.get_installed_path("mmsegmentation")
    assert osp.isfile(osp.join(path, "__init__.py")) and osp.basename(path) == "mmseg"
    import mmengine.config.config as config_module

    assert config_module.is_installed is packages.is_installed


def test_mmseg_scoped_base_config_resolves(tmp_path, monkeypatch):
    """`_base_ = ['mmseg::...']` goes through the patched lookup, not pkg_resources."""
    import builtins

    real_import = builtins.__import__

    def no_pkg_resources(name, *args, **kwargs):
        if name == "pkg_resources" or name.startswith("pkg_resources."):
            raise ModuleNotFoundError("No module named 'pkg_resources'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pkg_resources)
    cfg_file = tmp_path / "child.py"
    cfg_file.write_text("_base_ = ['mmseg::_base_/schedules/schedule_20k.py']\n")
    cfg = Config.fromfile(str(cfg_file))
    assert cfg.train_cfg.max_iters == 20000
