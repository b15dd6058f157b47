import importlib.machinery
import sys
import types

import pytest
import torch
import torch.nn.functional as F

from mmseg_uda.compat import mmcv_ops


def test_fallback_is_active_with_mmcv_lite():
    # This environment has mmcv-lite: no compiled extension, so the fallback is in place.
    assert not mmcv_ops.compiled_ops_available()
    assert mmcv_ops.is_installed()
    import mmcv.ops

    assert getattr(mmcv.ops, mmcv_ops.FALLBACK_FLAG)


def test_mmseg_modules_with_unguarded_ops_imports_load():
    # The four mmseg modules that import mmcv.ops at import time.
    import mmseg.models.decode_heads.san_head  # noqa: F401
    import mmseg.models.losses.focal_loss  # noqa: F401
    import mmseg.models.utils.point_sample  # noqa: F401
    import mmseg.utils.mask_classification  # noqa: F401
    from mmengine.runner import Runner  # noqa: F401


def test_install_does_nothing_when_real_ops_exist(monkeypatch):
    """Simulate a source-built mmcv: mmcv._ext importable and no mmcv.ops imported yet."""
    fake_ext = types.ModuleType("mmcv._ext")
    fake_ext.__spec__ = importlib.machinery.ModuleSpec("mmcv._ext", loader=None)
    monkeypatch.setitem(sys.modules, "mmcv._ext", fake_ext)
    monkeypatch.delitem(sys.modules, "mmcv.ops")
    assert mmcv_ops.compiled_ops_available()
    assert mmcv_ops.install() is False
    assert "mmcv.ops" not in sys.modules  # nothing was put in place
    assert not mmcv_ops.is_installed()


def test_install_keeps_an_already_imported_real_module(monkeypatch):
    real = types.ModuleType("mmcv.ops")  # stands for a real, compiled mmcv.ops
    monkeypatch.setitem(sys.modules, "mmcv.ops", real)
    assert mmcv_ops.install() is False
    assert sys.modules["mmcv.ops"] is real


def test_install_is_idempotent():
    module = sys.modules["mmcv.ops"]
    assert mmcv_ops.install() is True
    assert sys.modules["mmcv.ops"] is module


def test_placeholder_importable_but_refuses_use():
    from mmcv.ops import DeformConv2d

    class Sub(DeformConv2d):  # subclassing (as some libraries do at import) must work
        pass

    with pytest.raises(RuntimeError, match="DeformConv2d needs mmcv's compiled ops"):
        DeformConv2d(3, 3, 3)
    with pytest.raises(RuntimeError, match="compiled ops"):
        Sub()


def test_submodule_import_raises_module_not_found():
    # mmcv.cnn guards `from mmcv.ops.multi_scale_deform_attn import ...` with ImportError.
    with pytest.raises(ModuleNotFoundError):
        import mmcv.ops.multi_scale_deform_attn  # noqa: F401


def test_point_sample_matches_grid_sample():
    torch.manual_seed(0)
    feat = torch.randn(2, 3, 8, 10)
    points = torch.rand(2, 5, 2)
    out = mmcv_ops.point_sample(feat, points)
    ref = F.grid_sample(feat, (2 * points - 1).unsqueeze(2), align_corners=False).squeeze(3)
    assert out.shape == (2, 3, 5)
    torch.testing.assert_close(out, ref)
    # corners of a 1x1 grid with align_corners=True read the exact corner values
    corner = mmcv_ops.point_sample(feat, torch.tensor([[[0.0, 0.0], [1.0, 1.0]]]).repeat(2, 1, 1),
                                   align_corners=True)
    torch.testing.assert_close(corner[:, :, 0], feat[:, :, 0, 0])
    torch.testing.assert_close(corner[:, :, 1], feat[:, :, -1, -1])


@pytest.mark.parametrize("alpha,gamma", [(0.25, 2.0), (0.5, 1.0), (0.75, 0.0)])
def test_sigmoid_focal_loss_equals_mmseg_python_version(alpha, gamma):
    from mmseg.models.losses.focal_loss import py_sigmoid_focal_loss

    torch.manual_seed(1)
    logits = torch.randn(50, 4)
    target = torch.randint(0, 5, (50,))  # 4 = "no class": all negatives
    one_hot = F.one_hot(target, 5)[:, :4]
    ours = mmcv_ops.sigmoid_focal_loss(logits, target, gamma, alpha, None, "none")
    ref = py_sigmoid_focal_loss(logits, one_hot, gamma=gamma, alpha=alpha, reduction="none")
    assert (ours - ref).abs().max() < 1e-6
    weight = torch.rand(50)
    torch.testing.assert_close(mmcv_ops.sigmoid_focal_loss(logits, target, gamma, alpha, weight,
                                                           "sum"), (ref * weight[:, None]).sum())


def test_mmseg_focal_loss_gpu_branch_uses_fallback(monkeypatch):
    """mmseg's FocalLoss calls mmcv's op on CUDA tensors; on CPU we call its branch directly."""
    from mmseg.models.losses import focal_loss as fl

    logits = torch.randn(6, 3)
    target = torch.randint(0, 3, (6,))
    out = fl.sigmoid_focal_loss(logits, target, one_hot_target=F.one_hot(target, 3),
                                gamma=2.0, alpha=0.5, reduction="mean")
    ref = fl.py_sigmoid_focal_loss(logits, F.one_hot(target, 3), gamma=2.0, alpha=0.5,
                                   reduction="mean")
    torch.testing.assert_close(out, ref)
