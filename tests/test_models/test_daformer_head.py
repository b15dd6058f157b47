"""DAFormerHead: shapes, the separable ASPP structure, use as a plain decode head."""

import copy

import pytest
import torch
from mmcv.cnn import ConvModule, DepthwiseSeparableConvModule
from mmengine.config import Config
from mmseg.registry import MODELS

from helpers import REPO
from mmseg_uda.models import DAFormerHead

IN_CHANNELS = [8, 16, 40, 64]


def head(**kw):
    cfg = dict(in_channels=IN_CHANNELS, in_index=[0, 1, 2, 3], embed_dims=16, channels=24,
               num_classes=5, norm_cfg=dict(type="BN", requires_grad=True))
    cfg.update(kw)
    return DAFormerHead(**cfg)


def stage_features(n=2, size=(64, 96)):
    h, w = size
    return [torch.randn(n, c, -(-h // s), -(-w // s)) for c, s in zip(IN_CHANNELS, (4, 8, 16, 32))]


@pytest.mark.parametrize("fusion", ["aspp", "conv"])
@pytest.mark.parametrize("size", [(64, 96), (100, 76)])
def test_logits_at_first_stage_resolution(fusion, size):
    model = head(fusion=fusion).eval()
    feats = stage_features(size=size)
    out = model(feats)
    assert out.shape == (2, 5, *feats[0].shape[-2:])


def test_embeddings_and_separable_aspp_structure():
    model = head(dilations=(1, 6, 12, 18))
    assert [e.out_channels for e in model.embeds] == [16] * 4
    assert [e.kernel_size for e in model.embeds] == [(1, 1)] * 4
    branches = model.fuse.branches
    assert isinstance(branches[0], ConvModule) and branches[0].conv.kernel_size == (1, 1)
    for branch, d in zip(branches[1:], (6, 12, 18)):
        assert isinstance(branch, DepthwiseSeparableConvModule)
        assert branch.depthwise_conv.conv.dilation == (d, d)
        assert branch.depthwise_conv.conv.groups == 4 * 16  # depthwise over the concat
    assert model.fuse.bottleneck.conv.in_channels == 4 * 24
    light = head(fusion="conv")
    assert sum(p.numel() for p in light.parameters()) < sum(p.numel() for p in model.parameters())
    with pytest.raises(ValueError, match="'aspp' or 'conv'"):
        head(fusion="mlp")


def test_registered_and_trains_as_a_single_scale_decode_head():
    cfg = copy.deepcopy(Config.fromfile(f"{REPO}/configs/_base_/models/daformer_mit_b5.py").model)
    cfg.backbone.update(embed_dims=8, num_layers=[1, 1, 1, 1])
    cfg.decode_head.update(in_channels=IN_CHANNELS, embed_dims=16, channels=16)
    cfg.data_preprocessor = None
    model = MODELS.build(cfg)
    assert isinstance(model.decode_head, DAFormerHead)
    losses = model.weighted_loss(torch.randn(2, 3, 64, 64), torch.randint(0, 2, (2, 64, 64)))
    losses["decode.loss_ce"].backward()
    assert all(p.grad is not None for p in model.decode_head.parameters())
