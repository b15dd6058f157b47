import math

import pytest
import torch

from mmseg_uda.models.adaptation import (
    CORALAlignment,
    DANNAlignment,
    MMDAlignment,
    block_mask,
    coral_loss,
    dann_coefficient,
    entropy,
    grad_reverse,
    masked_feature_distance,
    mmd_loss,
)


def test_grl_flips_and_scales_the_gradient():
    x = torch.randn(3, 4, requires_grad=True)
    w = torch.randn(3, 4)
    (grad_reverse(x, 0.3) * w).sum().backward()
    torch.testing.assert_close(x.grad, -0.3 * w)
    y = torch.randn(2, requires_grad=True)
    out = grad_reverse(y, 2.0)
    torch.testing.assert_close(out, y)  # identity forward
    out.sum().backward()
    torch.testing.assert_close(y.grad, torch.full((2,), -2.0))


def test_dann_schedule():
    assert dann_coefficient(0.0) == 0.0
    assert dann_coefficient(0.5) == pytest.approx(2 / (1 + math.exp(-5)) - 1)
    expected = 0.5 * (2 / (1 + math.exp(-10)) - 1)
    assert dann_coefficient(1.0, max_coeff=0.5) == pytest.approx(expected)
    assert dann_coefficient(7.0) == dann_coefficient(1.0)  # clamped


def test_coral_zero_for_identical_and_grows_with_shift():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(500, 8, generator=g)
    assert coral_loss(a, a).item() == pytest.approx(0.0, abs=1e-9)
    b = torch.randn(500, 8, generator=g)  # same distribution, other samples: small
    c = b * torch.linspace(0.5, 3.0, 8)  # rescaled channels: larger covariance gap
    d = b * torch.linspace(0.5, 6.0, 8)
    small, mid, big = coral_loss(a, b).item(), coral_loss(a, c).item(), coral_loss(a, d).item()
    assert small < mid < big
    # spatial maps: pixels are samples
    assert coral_loss(torch.randn(2, 8, 5, 5), torch.randn(3, 8, 4, 4)).dim() == 0


def test_mmd_near_zero_for_identical_and_grows_with_shift():
    g = torch.Generator().manual_seed(1)
    a = torch.randn(300, 6, generator=g)
    b = torch.randn(300, 6, generator=g)
    assert mmd_loss(a, a.clone(), unbiased=False).item() == pytest.approx(0.0, abs=1e-6)
    assert abs(mmd_loss(a, a.clone()).item()) < 0.05  # U-statistic: about -2k(0)/n
    other = mmd_loss(a, b).item()
    shifted = [mmd_loss(a, b + s).item() for s in (0.5, 1.0, 2.0)]
    assert abs(other) < 0.02
    assert other < shifted[0] < shifted[1] < shifted[2]


def test_mmd_is_differentiable_and_subsamples():
    a = torch.randn(2, 4, 40, 40, requires_grad=True)
    loss = mmd_loss(a, torch.randn(2, 4, 40, 40) + 1, max_samples=100,
                    generator=torch.Generator().manual_seed(0))
    loss.backward()
    assert a.grad is not None and a.grad.abs().sum() > 0


def test_block_mask_ratio_and_blocks():
    g = torch.Generator().manual_seed(0)
    m = block_mask(64, 128, 96, block_size=16, mask_ratio=0.7, generator=g)
    assert m.shape == (64, 1, 128, 96)
    assert set(m.unique().tolist()) <= {0.0, 1.0}
    assert (1 - m.mean()).item() == pytest.approx(0.7, abs=0.02)  # stated masked fraction
    block = m[0, 0, :16, :16]
    assert block.min() == block.max()  # constant inside a block
    assert block_mask(1, 10, 10, 4, 0.0).min() == 1 and block_mask(1, 10, 10, 4, 1.0).max() == 0
    with pytest.raises(ValueError, match="mask_ratio"):
        block_mask(1, 4, 4, 2, 1.5)


def test_masked_feature_distance():
    s = torch.zeros(1, 2, 2, 2)
    f = torch.zeros(1, 2, 2, 2)
    f[0, 0, 0, 0] = 3.0
    f[0, 1, 0, 0] = 4.0  # distance 5 at feature pixel (0, 0)
    assert masked_feature_distance(s, f).item() == pytest.approx(5 / 4)
    label = torch.zeros(1, 4, 4, dtype=torch.long)
    label[0, :2, :2] = 1  # class 1 covers exactly feature pixel (0, 0)
    assert masked_feature_distance(s, f, label, classes=[1]).item() == pytest.approx(5.0)
    assert masked_feature_distance(s, f, label, classes=[0]).item() == pytest.approx(0.0)
    assert masked_feature_distance(s, f, label, classes=[2]).item() == 0.0


def test_entropy_bounds():
    uniform = torch.zeros(1, 4, 2, 2)
    assert torch.allclose(entropy(uniform), torch.full((1, 2, 2), math.log(4)))
    peaked = torch.tensor([100.0, 0, 0, 0]).view(1, 4, 1, 1)
    assert entropy(peaked).item() < 1e-6


def test_alignment_modules():
    torch.manual_seed(0)
    src = [torch.randn(2, 8, 4, 4, requires_grad=True)]
    tgt = [torch.randn(2, 8, 4, 4) + 2]
    dann = DANNAlignment(in_channels=8, hidden_channels=16, loss_weight=0.5)
    out = dann(src, tgt, progress=0.5)
    assert set(out) == {"loss_dann", "dann_disc_acc", "dann_coeff"}
    out["loss_dann"].backward()
    assert src[0].grad is not None  # reaches the features (reversed)
    assert all(p.grad is not None for p in dann.discriminator.parameters())
    assert CORALAlignment(loss_weight=2.0)(src, tgt)["loss_coral"] >= 0
    assert MMDAlignment(max_samples=16)(src, tgt)["loss_mmd"] > 0
    with pytest.raises(IndexError, match="in_index 3"):
        CORALAlignment(in_index=3)(src, tgt)
