import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from helpers import tiny_segmentor
from mmseg_uda.models import WeightedCrossEntropyLoss, weighted_cross_entropy
from mmseg_uda.models.losses.cross_entropy import class_balanced_cross_entropy
from mmseg_uda.models.segmentors import split_groups


def test_weighted_ce_equals_torch_ce_without_weights():
    logits = torch.randn(2, 3, 5, 6)
    label = torch.randint(0, 3, (2, 5, 6))
    label[0, 0, :] = 255
    ours = weighted_cross_entropy(logits, label)
    per_pixel = F.cross_entropy(logits, label, ignore_index=255, reduction="none")
    torch.testing.assert_close(ours, per_pixel.sum() / label.numel())  # mean over ALL pixels
    torch.testing.assert_close(weighted_cross_entropy(logits, label, avg_non_ignore=True),
                               F.cross_entropy(logits, label, ignore_index=255))


def test_weighted_ce_pixel_and_class_weights():
    logits = torch.randn(2, 2, 4, 4)
    label = torch.randint(0, 2, (2, 4, 4))
    label[1, 2, 2] = 255  # class weights must not index with the ignore label
    weight = torch.rand(2, 4, 4)
    cw = torch.tensor([1.0, 5.0])
    per_pixel = F.cross_entropy(logits, label, weight=cw, ignore_index=255, reduction="none")
    torch.testing.assert_close(
        weighted_cross_entropy(logits, label, pixel_weight=weight, class_weight=cw),
        (per_pixel * weight).sum() / label.numel())
    # a per-sample weight broadcasts over pixels
    sample_w = torch.tensor([0.0, 1.0])
    torch.testing.assert_close(
        weighted_cross_entropy(logits, label, pixel_weight=sample_w),
        F.cross_entropy(logits[1:], label[1:], ignore_index=255, reduction="sum") / label.numel())
    with pytest.raises(ValueError, match="do not match"):
        weighted_cross_entropy(logits, label[:, :2])


def test_class_balanced_ce_weighs_each_present_class_equally():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 4, 5, requires_grad=True)
    label = torch.zeros(2, 4, 5, dtype=torch.long)
    label[0, 0, 0] = 2                      # one pixel of class 2, no class 1
    label[1, 3, :] = 255                    # ignored
    per_px = F.cross_entropy(logits, label, ignore_index=255, reduction="none")
    bg = (label == 0)
    expected = (per_px[bg].mean() + per_px[label == 2].mean()) / 2
    loss = class_balanced_cross_entropy(logits, label)
    torch.testing.assert_close(loss, expected)
    # the single class-2 pixel pulls as hard as all the background pixels together
    loss.backward()
    grad = logits.grad.abs().sum(1)
    assert grad[0, 0, 0] > 10 * grad[bg].mean()
    # pixel weights scale each class's term; the module wraps the function
    w = torch.full((2,), 0.5)
    module = WeightedCrossEntropyLoss(class_balanced=True, loss_weight=2.0)
    torch.testing.assert_close(module(logits, label, weight=w), expected)
    assert class_balanced_cross_entropy(logits, torch.full_like(label, 255)) == 0
    with pytest.raises(ValueError, match="class_balanced"):
        WeightedCrossEntropyLoss(class_balanced=True, class_weight=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="class 7"):
        class_balanced_cross_entropy(logits, torch.full_like(label, 7))


def test_focal_gamma_modulates_each_pixel_by_its_error():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 4, 5)
    label = torch.randint(0, 3, (2, 4, 5))
    label[1, 0, :] = 255
    cw = torch.tensor([1.0, 4.0, 2.0])
    pw = torch.rand(2, 4, 5)
    per_px = F.cross_entropy(logits, label, weight=cw, ignore_index=255, reduction="none")
    p = F.softmax(logits, 1).gather(1, label.clamp(max=2).unsqueeze(1)).squeeze(1)
    expected = (per_px * (1 - p) ** 2 * pw).sum() / label.numel()
    torch.testing.assert_close(
        weighted_cross_entropy(logits, label, pixel_weight=pw, class_weight=cw, focal_gamma=2.0),
        expected)
    assert weighted_cross_entropy(logits, label, focal_gamma=0.0) == weighted_cross_entropy(
        logits, label)
    # a pixel predicted right with confidence loses (almost) all of its weight, a wrong one little
    confident = torch.tensor([[[[8.0]], [[0.0]]]])
    right, wrong = torch.zeros(1, 1, 1, dtype=torch.long), torch.ones(1, 1, 1, dtype=torch.long)
    assert (weighted_cross_entropy(confident, right, focal_gamma=2.0)
            < 1e-6 * weighted_cross_entropy(confident, right))
    assert (weighted_cross_entropy(confident, wrong, focal_gamma=2.0)
            > 0.99 * weighted_cross_entropy(confident, wrong))
    module = WeightedCrossEntropyLoss(class_weight=[1.0, 4.0, 2.0], focal_gamma=2.0,
                                      loss_weight=0.5)
    torch.testing.assert_close(module(logits, label, weight=pw), 0.5 * expected)
    with pytest.raises(ValueError, match="focal_gamma must be >= 0"):
        WeightedCrossEntropyLoss(focal_gamma=-1.0)
    with pytest.raises(ValueError, match="not combined with class_balanced"):
        WeightedCrossEntropyLoss(focal_gamma=2.0, class_balanced=True)


def test_loss_equals_weighted_loss_and_pixel_weight_zero_kills_loss():
    model = tiny_segmentor()
    model.train()
    inputs = torch.randn(2, 3, 64, 64)
    label = torch.randint(0, 2, (2, 64, 64))
    samples = []
    for i in range(2):
        s = SegDataSample()
        s.gt_sem_seg = PixelData(data=label[i][None])
        samples.append(s)
    torch.manual_seed(1)
    a = model.loss(inputs, samples)
    torch.manual_seed(1)
    b = model.weighted_loss(inputs, label)
    torch.testing.assert_close(a["decode.loss_ce"], b["decode.loss_ce"])
    zero = model.weighted_loss(inputs, label, pixel_weight=torch.zeros(2, 64, 64))
    assert zero["decode.loss_ce"].item() == 0.0


def test_groups_equal_separate_forward_passes():
    model = tiny_segmentor(dropout_ratio=0.0)
    model.eval()  # BN statistics must not depend on the batch split for this equality
    inputs = torch.randn(4, 3, 32, 32)
    label = torch.randint(0, 2, (4, 32, 32))
    weight = torch.rand(4, 32, 32)
    joint = model.weighted_loss(inputs, label, weight, groups={"src": 1, "mix": 3})
    src = model.weighted_loss(inputs[:1], label[:1], weight[:1])
    mix = model.weighted_loss(inputs[1:], label[1:], weight[1:])
    torch.testing.assert_close(joint["src.decode.loss_ce"], src["decode.loss_ce"])
    torch.testing.assert_close(joint["mix.decode.loss_ce"], mix["decode.loss_ce"])
    with pytest.raises(ValueError, match="cover 3 samples"):
        split_groups({"a": 1, "b": 2}, 4)


def test_inference_logits_full_resolution():
    model = tiny_segmentor()
    model.eval()
    with torch.no_grad():
        logits = model.inference_logits(torch.randn(2, 3, 40, 56))
    assert logits.shape == (2, 2, 40, 56)


def test_a_loss_that_ignores_pixel_weights_is_refused_on_weighted_pixels():
    model = tiny_segmentor(loss_decode=[
        dict(type="WeightedCrossEntropyLoss"),
        dict(type="LovaszLoss", reduction="none")])
    logits = torch.randn(2, 2, 8, 8)
    label = torch.randint(0, 2, (2, 8, 8))
    # true labels (no weights, or all ones): fine
    ok = model.losses_from_logits(logits, label)
    assert "loss_lovasz" in ok and "loss_ce" in ok
    model.losses_from_logits(logits, label, torch.ones(2, 8, 8))
    with pytest.raises(ValueError, match="LovaszLoss in loss_decode ignores pixel weights"):
        model.losses_from_logits(logits, label, torch.full((2,), 0.5))
