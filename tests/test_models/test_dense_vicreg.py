"""Dense VICReg pretraining: the two-view transform, the cell matching, the loss terms, the
training signal and the exported weights."""

import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmseg.registry import TRANSFORMS
from mmseg.structures import SegDataSample

from helpers import tiny_pretrain_model, write_dataset
from mmseg_uda.models.pretrain import (
    DenseVICReg,
    covariance_term,
    variance_term,
    view_grid,
)


def tiny_vicreg(seed=0, **kw):
    kw.setdefault("expander_channels", 16)
    return tiny_pretrain_model("vicreg_mit-b0_cpu.py", seed, **kw)


def coordinate_image(height, width):
    """A float image whose channels are the pixel's own x and y: any resampling of it tells
    where each output pixel came from."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    return np.stack([xs + 0.5, ys + 0.5, np.zeros_like(xs)], axis=-1)


# ----------------------------------------------------------------------------- transform
@pytest.mark.parametrize("seed", range(6))
def test_two_views_record_where_they_lie(seed):
    """Sampling view 2 where view_grid says view 1's pixels are gives back view 1's pixels
    (flips, scales and boxes all accounted for), and every view overlaps the other."""
    np.random.seed(seed)
    crop = (32, 48)
    transform = TRANSFORMS.build(dict(type="TwoViewCrops", crop_size=crop,
                                      ratio_range=(0.5, 2.0), flip_prob=0.5))
    img = coordinate_image(90, 130)
    out = transform(dict(img=img.copy(), img_shape=img.shape[:2]))
    assert out["img"].shape == (32, 96, 3) and out["img_shape"] == (32, 96)
    assert out["views"].shape == (2, 6) and out["ori_view_shape"] == (90, 130)
    views = torch.from_numpy(out["views"])
    for x0, y0, w, h, _, _ in out["views"]:
        assert x0 >= 0 and x0 + w <= 130 and y0 >= 0 and y0 + h <= 90
    first = torch.from_numpy(np.ascontiguousarray(out["img"][:, :48])).permute(2, 0, 1)
    second = torch.from_numpy(np.ascontiguousarray(out["img"][:, 48:])).permute(2, 0, 1)
    # the centre of view 1's pixel (i, j) in original pixels equals its (x, y) channels
    coords, inside = view_grid(views[None, 0], views[None, 1], crop, crop)
    assert inside.any(), "the views must share part of the image"
    sampled = F.grid_sample(second[None], coords, padding_mode="border",
                            align_corners=False)[0]
    keep = inside[0]
    # bilinear resampling of a linear ramp is exact up to the boxes' integer rounding
    err = (sampled[:2, keep] - first[:2, keep]).abs()
    assert err.max() < 1.5, err.max()
    # and the matching is not trivially satisfied: shifted by 7 px it breaks
    shifted = F.grid_sample(second[None], coords + 0.3, padding_mode="border",
                            align_corners=False)[0]
    assert (shifted[:2, keep] - first[:2, keep]).abs().max() > 2


def test_two_views_run_their_own_photometric_pipeline_and_check_sizes():
    np.random.seed(0)
    transform = TRANSFORMS.build(dict(
        type="TwoViewCrops", crop_size=16, ratio_range=(1.0, 1.0), flip_prob=0.0,
        view_pipeline=[dict(type="RandomLighting", prob=1.0)]))
    img = np.full((40, 40, 3), 120, np.uint8)
    out = transform(dict(img=img, img_shape=(40, 40)))
    left, right = out["img"][:, :16], out["img"][:, 16:]
    assert not np.array_equal(left, right)  # each view its own lighting
    # a small image is upscaled so that the box fits (never a box outside the image)
    out = transform(dict(img=np.zeros((10, 12, 3), np.uint8), img_shape=(10, 12)))
    assert out["img"].shape == (16, 32, 3) and out["views"][:, 2:4].max() <= 12
    bad = TRANSFORMS.build(dict(type="TwoViewCrops", crop_size=16,
                                view_pipeline=[dict(type="RandomCrop", crop_size=8)]))
    with pytest.raises(ValueError, match="keep the view's size"):
        bad(dict(img=img, img_shape=(40, 40)))
    with pytest.raises(ValueError, match="ratio_range"):
        TRANSFORMS.build(dict(type="TwoViewCrops", crop_size=16, ratio_range=(2.0, 1.0)))


# ----------------------------------------------------------------------------- matching
def test_view_grid_identity_flip_and_disjoint_views():
    box = torch.tensor([[10.0, 20.0, 64.0, 32.0, 0.0, 0.0]])
    coords, inside = view_grid(box, box, (4, 8), (32, 64))
    assert inside.all()
    xs = (torch.arange(8) + 0.5) / 8 * 2 - 1
    torch.testing.assert_close(coords[0, 0, :, 0], xs)
    flipped = box.clone()
    flipped[0, 4] = 1.0  # the same box, mirrored: column j is column 7 - j
    coords, inside = view_grid(box, flipped, (4, 8), (32, 64))
    torch.testing.assert_close(coords[0, 0, :, 0], xs.flip(0))
    far = box.clone()
    far[0, 0] = 200.0
    assert not view_grid(box, far, (4, 8), (32, 64))[1].any()
    half = box.clone()
    half[0, 0] = 42.0  # shifted by half its width: the right half of the cells is shared
    inside = view_grid(box, half, (4, 8), (32, 64))[1]
    assert inside[0, :, 4:].all() and not inside[0, :, :4].any()


def test_variance_and_covariance_terms():
    torch.manual_seed(0)
    spread = torch.randn(4000, 8) * 3
    assert variance_term(spread).item() == 0.0  # every std above 1: no penalty
    collapsed = torch.ones(100, 8)
    assert variance_term(collapsed).item() == pytest.approx(1.0, abs=0.02)
    assert covariance_term(torch.randn(4000, 8)).item() < 0.05
    redundant = torch.randn(4000, 1).repeat(1, 8)  # 8 copies of one dimension
    assert covariance_term(redundant).item() > 5
    with pytest.raises(ValueError, match="N >= 2"):
        variance_term(torch.ones(1, 8))


# ----------------------------------------------------------------------------- model
def pair_batch(root, num, crop=32, seed=0):
    """``num`` packed view pairs of the images of ``root`` through the config's transform
    (without its photometric pipeline), normalised as the segmentors do."""
    import cv2

    np.random.seed(seed)
    transform = TRANSFORMS.build(dict(type="TwoViewCrops", crop_size=crop,
                                      ratio_range=(0.75, 1.5)))
    imgs, samples = [], []
    for i in range(num):
        img = cv2.imread(osp.join(root, "images", f"{i:04d}.png"))[..., ::-1].astype(np.float32)
        out = transform(dict(img=img, img_shape=img.shape[:2]))
        imgs.append(torch.from_numpy(np.ascontiguousarray(out["img"])).permute(2, 0, 1))
        samples.append(SegDataSample(metainfo=dict(views=out["views"])))
    mean = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)
    std = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)
    return (torch.stack(imgs) - mean) / std, samples


def test_dense_vicreg_outputs_and_errors(tmp_path):
    model = tiny_vicreg()
    root = write_dataset(str(tmp_path / "photos"), num=2, size=(64, 64), with_masks=False)
    inputs, samples = pair_batch(root, 2)
    losses = model(inputs, samples, mode="loss")
    assert set(losses) == {"loss_invariance", "loss_variance", "loss_covariance"}
    assert all(v.requires_grad and torch.isfinite(v) for v in losses.values())
    assert model(inputs[..., :32], mode="tensor").shape == (2, 16, 4, 4)  # stride 8
    with pytest.raises(ValueError, match="'views'"):
        model(inputs, [SegDataSample(), SegDataSample()], mode="loss")
    with pytest.raises(ValueError, match="odd width"):
        model(inputs[..., :63], samples, mode="loss")
    with pytest.raises(TypeError, match="MixVisionTransformer"):
        DenseVICReg(backbone=dict(type="ResNetV1c", depth=18))


def test_dense_vicreg_loss_falls_on_a_tiny_generated_set(tmp_path):
    """A few Adam steps on generated surfaces: the total loss must fall clearly (it does not
    when the gradient reaches neither the encoder nor the expander)."""
    root = write_dataset(str(tmp_path / "photos"), num=6, size=(64, 64), with_masks=False)
    inputs, samples = pair_batch(root, 6)
    model = tiny_vicreg(seed=0).train()
    optim = torch.optim.AdamW(model.parameters(), lr=3e-3)
    torch.manual_seed(0)
    losses = []
    for _ in range(30):
        loss = sum(model(inputs, samples, mode="loss").values())
        optim.zero_grad()
        loss.backward()
        optim.step()
        losses.append(loss.item())
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last < 0.7 * first, losses


def test_dense_vicreg_with_masked_image_modelling(tmp_path):
    """mim_weight > 0: the first views are masked (only they), their masked squares are
    reconstructed, and the loss falls; the second views are encoded as the plain backbone."""
    root = write_dataset(str(tmp_path / "photos"), num=6, size=(96, 96), with_masks=False)
    inputs, samples = pair_batch(root, 6, crop=64)  # 2 x 2 mask squares per view
    model = tiny_vicreg(mim_weight=25.0).train()
    assert model.mask_token.shape == (1, 1, 8) and hasattr(model, "decoder")
    assert not hasattr(tiny_vicreg(), "mask_token")  # plain VICReg: nothing of MIM
    losses = model(inputs, samples, mode="loss")
    assert set(losses) == {"loss_invariance", "loss_variance", "loss_covariance", "loss_mim"}
    # which views are masked: record the encoder's input tokens of the loss's forward pass
    seen = {}

    def record(module, args):
        seen.setdefault("tokens", args[0].detach().clone())

    model.backbone.layers[0][1][0].register_forward_pre_hook(record)
    torch.manual_seed(3)
    model(inputs, samples, mode="loss")
    tokens = seen["tokens"]  # (2B, N, C): first views, then second views
    plain, _ = model.backbone.layers[0][0](torch.cat(DenseVICReg.split_views(inputs)))
    batch = inputs.shape[0]
    torch.testing.assert_close(tokens[batch:], plain[batch:])  # second views untouched
    replaced = (tokens[:batch] - model.mask_token).abs().amax(-1) < 1e-6
    assert replaced.float().mean().item() == pytest.approx(0.5)  # 2 of 4 squares per view
    optim = torch.optim.AdamW(model.parameters(), lr=3e-3)
    history = []
    for _ in range(30):
        losses = model(inputs, samples, mode="loss")
        optim.zero_grad()
        sum(losses.values()).backward()
        optim.step()
        history.append(losses["loss_mim"].item())
    assert sum(history[-3:]) / 3 < 0.8 * sum(history[:3]) / 3, history
    with pytest.raises(ValueError, match="mim_weight"):
        tiny_vicreg(mim_weight=-1.0)
    with pytest.raises(ValueError, match="multiple of the encoder's output stride"):
        tiny_vicreg(mim_weight=1.0, mask_patch_size=48)
