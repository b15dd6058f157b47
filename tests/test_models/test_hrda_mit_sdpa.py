"""The fused-attention MiT (MixVisionTransformerSDPA) against mmseg's stock MiT."""

import pytest
import torch
from mmseg.models.backbones import MixVisionTransformer
from mmseg.registry import MODELS

from mmseg_uda.models.backbones import MixVisionTransformerSDPA, SDPAEfficientAttention

KW = dict(embed_dims=8, num_layers=[1, 2, 1, 1], num_heads=[1, 2, 5, 8], drop_path_rate=0.0)


def pair(**kw):
    torch.manual_seed(0)
    stock = MixVisionTransformer(**{**KW, **kw})
    stock.init_weights()
    fused = MixVisionTransformerSDPA(**{**KW, **kw})
    fused.load_state_dict(stock.state_dict(), strict=True)  # identical keys and shapes
    return stock, fused


def test_same_parameters_and_every_block_fused():
    stock, fused = pair()
    assert list(stock.state_dict()) == list(fused.state_dict())
    blocks = [b for stage in fused.layers for b in stage[1]]
    assert len(blocks) == 5 and all(isinstance(b.attn, SDPAEfficientAttention) for b in blocks)
    assert isinstance(MODELS.build(dict(type="MixVisionTransformerSDPA", **KW)),
                      MixVisionTransformerSDPA)


@pytest.mark.parametrize("size", [(64, 64), (101, 77)])
def test_forward_matches_stock_mit(size):
    stock, fused = pair()
    stock.eval()
    fused.eval()
    x = torch.randn(2, 3, *size)
    with torch.no_grad():
        for a, b in zip(stock(x), fused(x)):
            torch.testing.assert_close(b, a, atol=1e-5, rtol=1e-4)


def test_gradients_match_stock_mit():
    stock, fused = pair()
    x = torch.randn(2, 3, 64, 64)
    for model in (stock, fused):
        model.train()
        sum(o.square().mean() for o in model(x)).backward()
    for (name, p), q in zip(stock.named_parameters(), fused.parameters()):
        torch.testing.assert_close(q.grad, p.grad, atol=1e-5, rtol=1e-4, msg=name)


def test_attention_dropout_only_in_training():
    _, fused = pair(attn_drop_rate=0.5)
    x = torch.randn(1, 3, 64, 64)
    fused.eval()
    with torch.no_grad():
        torch.testing.assert_close(fused(x)[0], fused(x)[0])
    fused.train()
    with torch.no_grad():
        assert not torch.allclose(fused(x)[0], fused(x)[0])
