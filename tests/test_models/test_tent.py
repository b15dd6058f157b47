import pytest
import torch

from helpers import tiny_segmentor
from mmseg_uda.models.adaptation import configure_tent, entropy, norm_parameter_names, tent_adapt


def test_configure_tent_selects_only_norm_affine_parameters():
    model = tiny_segmentor()
    params = configure_tent(model)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == set(norm_parameter_names(model))
    assert len(params) == len(trainable) > 0
    assert any("norm" in n for n in trainable) and any(".bn." in n for n in trainable)
    # dropout / drop-path off, BN normalises with batch statistics
    assert not model.decode_head.dropout.training
    assert model.decode_head.fusion_conv.bn.training


def test_tent_changes_only_norm_parameters_and_lowers_entropy():
    model = tiny_segmentor(seed=3)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    g = torch.Generator().manual_seed(0)
    batch = torch.randn(4, 3, 64, 64, generator=g)
    with torch.no_grad():
        configure_tent(model)
        start = entropy(model.inference_logits(batch)).mean().item()
    history = tent_adapt(model, [batch] * 20, forward=model.inference_logits, lr=5e-3)
    norm_names = set(norm_parameter_names(model))
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert changed and changed <= norm_names
    with torch.no_grad():
        configure_tent(model)
        end = entropy(model.inference_logits(batch)).mean().item()
    assert history["entropy"][0] == pytest.approx(start, rel=1e-4)
    assert end < start * 0.95, (start, end)
    assert not model.training  # left in eval mode

