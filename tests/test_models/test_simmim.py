"""SimMIM masked image modelling for MiT: masks, loss, training signal, exported weights."""

import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS

from helpers import REPO, tiny_pretrain_model, write_dataset
from mmseg_uda.models.pretrain import (
    SimMIM,
    masked_l1,
    random_patch_mask,
    token_mask,
    upsample_mask,
    valid_pixels,
)
from mmseg_uda.models.weights import MiTWeightsError, load_mit_weights, save_mit_weights
from mmseg_uda.utils import load_config

B0_PRETRAIN = osp.join(REPO, "configs", "pretrain", "simmim_mit-b0_cpu.py")


def tiny_simmim(seed=0, **kw):
    return tiny_pretrain_model("simmim_mit-b0_cpu.py", seed, **kw)


# ----------------------------------------------------------------------------- functions
def test_random_patch_mask_masks_the_ratio_of_every_image():
    gen = torch.Generator().manual_seed(0)
    mask = random_patch_mask(3, (256, 192), 32, 0.6, generator=gen)
    assert mask.shape == (3, 1, 8, 6)
    assert set(mask.unique().tolist()) == {0.0, 1.0}
    assert mask.flatten(1).sum(1).tolist() == [round(0.6 * 48)] * 3
    assert not torch.equal(mask[0], mask[1])  # each image its own mask
    # a partial patch at the border counts as a patch
    assert random_patch_mask(1, (70, 64), 32, 0.5).shape == (1, 1, 3, 2)
    with pytest.raises(ValueError, match="mask ratio"):
        random_patch_mask(1, (64, 64), 32, 1.0)


def test_upsample_token_and_valid_masks():
    mask = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]]])
    full = upsample_mask(mask, (60, 64), 32)
    assert full.shape == (1, 1, 60, 64)
    assert full[0, 0, :32, :32].eq(1).all() and full[0, 0, :32, 32:].eq(0).all()
    tokens = token_mask(mask, (16, 16))  # MiT stage 1: stride 4
    assert tokens.shape == (1, 256, 1) and tokens.sum() == 128
    valid = valid_pixels(2, (8, 8), [(8, 8), (4, 6)])
    assert valid[0].sum() == 64 and valid[1].sum() == 24 and valid[1, 0, 4:].sum() == 0


def test_masked_l1_counts_only_weighted_pixels():
    target = torch.zeros(1, 3, 4, 4)
    prediction = torch.zeros(1, 3, 4, 4)
    weight = torch.zeros(1, 1, 4, 4)
    weight[..., :2, :] = 1
    prediction[..., 2:, :] = 100.0  # outside the weight: no effect
    assert masked_l1(prediction, target, weight).item() == 0.0
    prediction[..., :2, :] = 2.0
    assert masked_l1(prediction, target, weight).item() == pytest.approx(2.0)
    assert masked_l1(prediction, target, torch.zeros_like(weight)).item() == 0.0


# ----------------------------------------------------------------------------- model
def test_simmim_mask_token_replaces_masked_tokens_only():
    model = tiny_simmim().eval()
    torch.manual_seed(1)
    x = torch.randn(2, 3, 64, 64)
    mask = torch.zeros(2, 1, 2, 2)
    plain = model.backbone(x)
    unmasked = model.encode(x, mask)
    for a, b in zip(plain, unmasked):  # no mask: exactly the backbone's own forward
        torch.testing.assert_close(a, b)
    mask[:, :, 0, 0] = 1
    masked = model.encode(x, mask)
    # a masked patch's content no longer reaches the features, except its 3-pixel rim that
    # the overlapping 7x7 / stride-4 patch embedding of the next (visible) tokens sees
    x2 = x.clone()
    x2[..., :28, :28] = torch.randn(2, 3, 28, 28)
    assert not torch.allclose(masked[-1], plain[-1])
    torch.testing.assert_close(model.encode(x2, mask)[-1], masked[-1])


def test_simmim_outputs_and_errors():
    model = tiny_simmim()
    x = torch.randn(2, 3, 64, 64)
    assert model(x, mode="tensor").shape == x.shape
    losses = model(x, None, mode="loss")
    assert set(losses) == {"loss_mim"} and losses["loss_mim"].requires_grad
    out = model(x, None, mode="predict")
    assert len(out) == 2 and out[0]["reconstruction"].shape == (3, 64, 64)
    assert out[0]["mask"].mean().item() == pytest.approx(0.5)  # 4 patches, ratio 0.6 -> 2
    with pytest.raises(ValueError, match="multiple of the encoder's output stride"):
        tiny_simmim(mask_patch_size=48)
    with pytest.raises(ValueError, match="mask_ratio"):
        tiny_simmim(mask_ratio=0.0)


def test_simmim_loss_falls_on_a_tiny_generated_set(tmp_path):
    """A few Adam steps on 6 generated surfaces: the masked-pixel loss must fall clearly
    (it does not when the gradient does not reach the encoder and decoder)."""
    root = write_dataset(str(tmp_path / "photos"), num=6, size=(64, 64), with_masks=False)
    imgs = [cv2.imread(osp.join(root, "images", f"{i:04d}.png"))[..., ::-1] for i in range(6)]
    batch = torch.from_numpy(np.stack(imgs).astype(np.float32)).permute(0, 3, 1, 2)
    mean = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)
    std = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)
    batch = (batch - mean) / std
    model = tiny_simmim(seed=0).train()
    optim = torch.optim.AdamW(model.parameters(), lr=2e-3)
    torch.manual_seed(0)
    losses = []
    for _ in range(30):
        loss = model(batch, None, mode="loss")["loss_mim"]
        optim.zero_grad()
        loss.backward()
        optim.step()
        losses.append(loss.item())
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last < 0.7 * first, losses


# ----------------------------------------------------------------------------- weights
def b0_dacs_config(options=None):
    return load_config(osp.join(REPO, "configs", "dacs_cracks_cpu.py"), options)


def test_exported_backbone_loads_strictly_into_a_mit_b0_segmentor(tmp_path):
    cfg = Config.fromfile(B0_PRETRAIN)
    torch.manual_seed(5)
    simmim = MODELS.build(dict(cfg.model, data_preprocessor=None))
    simmim.init_weights()
    path = str(tmp_path / "backbone.pth")
    assert save_mit_weights(simmim.backbone.state_dict(), path, dict(iterations=3)) == "mit_b0"
    saved = torch.load(path, weights_only=True)  # what MiTPretrained reads
    assert saved["meta"]["architecture"] == "mit_b0" and saved["meta"]["iterations"] == 3

    def build(options):
        torch.manual_seed(0)
        model = MODELS.build(b0_dacs_config(options).model)
        model.init_weights()
        return model

    scratch = build(None)
    prefix = "model.segmentor.backbone.init_cfg"
    started = build({f"{prefix}.type": "MiTPretrained", f"{prefix}.checkpoint": path})
    for key, value in simmim.backbone.state_dict().items():
        torch.testing.assert_close(started.student.backbone.state_dict()[key], value,
                                   rtol=0, atol=0)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        a = scratch.student.backbone.eval()(x)[-1]
        b = started.student.backbone.eval()(x)[-1]
        c = simmim.backbone.eval()(x)[-1]
    assert not torch.allclose(a, b)
    torch.testing.assert_close(b, c)


def test_wrong_architecture_names_both_sizes(tmp_path):
    from mmseg.models.backbones import MixVisionTransformer

    cfg = Config.fromfile(B0_PRETRAIN)
    simmim = MODELS.build(dict(cfg.model, data_preprocessor=None))
    path = str(tmp_path / "backbone.pth")
    save_mit_weights(simmim.backbone.state_dict(), path)
    b5 = MixVisionTransformer(embed_dims=64, num_layers=[3, 6, 40, 3])
    with pytest.raises(MiTWeightsError, match="holds a mit_b0 encoder but the config's "
                                              "backbone is a mit_b5"):
        load_mit_weights(b5, path)
    # not a MiT at all: nothing is written
    with pytest.raises(MiTWeightsError, match="not a MiT encoder"):
        save_mit_weights({"decoder.0.weight": torch.zeros(1)}, str(tmp_path / "x.pth"))
    assert not osp.exists(tmp_path / "x.pth")


def test_simmim_needs_a_mit_backbone():
    with pytest.raises(TypeError, match="MixVisionTransformer"):
        SimMIM(backbone=dict(type="ResNetV1c", depth=18))


def test_patch_normalize_standardises_each_square_over_valid_pixels():
    from mmseg_uda.models.pretrain import patch_normalize

    torch.manual_seed(0)
    x = torch.randn(1, 3, 8, 8) * 5 + 3
    out = patch_normalize(x, 4)
    for r in (0, 4):
        for c in (0, 4):
            sq = out[..., r:r + 4, c:c + 4]
            assert abs(sq.mean().item()) < 1e-5 and abs(sq.std(unbiased=False).item() - 1) < 1e-3
    valid = torch.ones(1, 1, 8, 8)
    valid[..., 6:, :] = 0  # padding rows: not in the statistics
    x2 = x.clone()
    x2[..., 6:, :] = 1000.0
    torch.testing.assert_close(patch_normalize(x2, 4, valid)[..., :6, :],
                               patch_normalize(x, 4, valid)[..., :6, :])


def test_simmim_norm_target_predicts_standardised_patches():
    plain, normed = tiny_simmim(), tiny_simmim(norm_target=True)
    x = torch.randn(2, 3, 64, 64) * 2 + 1
    assert plain.target(x) is x
    target = normed.target(x)
    assert abs(target[..., :32, :32].mean().item()) < 1e-5
    torch.manual_seed(0)
    a = plain(x, None, mode="loss")["loss_mim"]
    torch.manual_seed(0)
    b = normed(x, None, mode="loss")["loss_mim"]
    assert not torch.isclose(a, b)
