"""HRDAEncoderDecoder and HRDAHead on a tiny MiT: the training forward, losses, inference."""

import copy

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from helpers import REPO
from mmseg_uda.models import HRDAEncoderDecoder, HRDAHead, weighted_cross_entropy
from mmseg_uda.models.utils import CropBox, fuse_scales, upsample_to

TINY_DECODER = dict(in_channels=[8, 16, 40, 64], embed_dims=16, channels=16, num_classes=3,
                    dropout_ratio=0.0)


BASE = Config.fromfile(f"{REPO}/configs/_base_/models/hrda_daformer_mit_b5.py")


def tiny_hrda(decoder_type="DAFormerHead", **overrides):
    """A tiny HRDA model from the base config: 3 classes, 32x32 detail crops."""
    model = copy.deepcopy(BASE.model)
    model.backbone.update(embed_dims=8, num_layers=[1, 1, 1, 1])
    model.data_preprocessor = None
    head = model.decode_head
    if decoder_type == "SegformerHead":
        segformer = dict(type="SegformerHead", in_channels=[8, 16, 40, 64], in_index=[0, 1, 2, 3],
                         channels=16, num_classes=3, dropout_ratio=0.0,
                         norm_cfg=dict(type="BN", requires_grad=True),
                         loss_decode=dict(type="WeightedCrossEntropyLoss"))
        head.decoder, head.attention_decoder = segformer, copy.deepcopy(segformer)
    else:
        head.decoder.update(TINY_DECODER)
        head.attention_decoder.update(TINY_DECODER)
    model.update(detail_crop_size=(32, 32), detail_stride=(16, 16))
    model["test_cfg"] = overrides.pop("test_cfg", dict(mode="whole"))  # replace, not merge
    model.update(overrides)
    torch.manual_seed(0)
    return MODELS.build(model)


def manual_scales(model, x, box):
    """Context logits, attention and detail logits computed pass by pass, on the fusion grid."""
    ctx_in = F.interpolate(x, scale_factor=0.5, mode="bilinear", align_corners=False)
    ctx_feats = model.extract_feat(ctx_in)
    grid = (x.shape[-2] // 4, x.shape[-1] // 4)
    context = upsample_to(model.decode_head(ctx_feats), grid)
    attention = upsample_to(model.decode_head.attention(ctx_feats), grid)
    detail = model.decode_head(model.extract_feat(box.crop(x)))
    return context, attention, detail


def test_head_proxies_the_decoder_and_builds_the_attention_decoder():
    model = tiny_hrda()
    head = model.decode_head
    assert isinstance(head, HRDAHead)
    assert (head.num_classes, head.out_channels, head.ignore_index) == (3, 3, 255)
    assert head.decoder.fusion == "aspp" and head.attention_decoder.fusion == "conv"
    assert head.attention_decoder.out_channels == 3
    feats = model.extract_feat(torch.randn(1, 3, 64, 64))
    att = head.attention(feats)
    assert att.shape == (1, 3, 16, 16) and att.min() >= 0 and att.max() <= 1
    single = tiny_hrda(decode_head=dict(attention_classwise=False))
    assert single.decode_head.attention(feats).shape == (1, 1, 16, 16)


@pytest.mark.parametrize("decoder_type", ["DAFormerHead", "SegformerHead"])
def test_training_forward_fuses_by_the_formula(decoder_type):
    model = tiny_hrda(decoder_type).eval()
    x = torch.randn(2, 3, 64, 96)
    box = CropBox(16, 48, 40, 72)
    with torch.no_grad():
        out = model.forward_train_scales(x, box)
        context, attention, detail = manual_scales(model, x, box)
    torch.testing.assert_close(out["context"], context, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out["attention"], attention, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out["detail"], detail, atol=1e-5, rtol=1e-5)
    grid_box = CropBox(4, 12, 10, 18)
    a = grid_box.crop(attention)
    torch.testing.assert_close(grid_box.crop(out["fused"]),
                               a * detail + (1 - a) * grid_box.crop(context), atol=1e-5, rtol=1e-5)
    outside = torch.ones(16, 24, dtype=torch.bool)
    outside[4:12, 10:18] = False
    torch.testing.assert_close(out["fused"][..., outside], context[..., outside])


def test_losses_are_the_weighted_sum_of_fused_and_detail_ce():
    model = tiny_hrda(detail_loss_weight=0.25).eval()
    x = torch.randn(2, 3, 64, 64)
    label = torch.randint(0, 3, (2, 64, 64))
    label[:, :5] = 255
    weight = torch.rand(2, 64, 64)
    box = CropBox(8, 40, 16, 48)
    with torch.no_grad():
        losses = model.weighted_loss(x, label, weight, crop_box=box)
        out = model.forward_train_scales(x, box)
    fused = F.interpolate(out["fused"], size=(64, 64), mode="bilinear", align_corners=False)
    detail = F.interpolate(out["detail"], size=(32, 32), mode="bilinear", align_corners=False)
    torch.testing.assert_close(losses["decode.loss_ce"],
                               0.75 * weighted_cross_entropy(fused, label, weight))
    torch.testing.assert_close(losses["detail.loss_ce"],
                               0.25 * weighted_cross_entropy(detail, box.crop(label),
                                                             box.crop(weight)))
    assert set(losses) == {"decode.loss_ce", "decode.acc_seg", "detail.loss_ce",
                           "detail.acc_seg"}
    zero = model.weighted_loss(x, label, torch.zeros(2), crop_box=box)
    assert zero["decode.loss_ce"].item() == 0.0 and zero["detail.loss_ce"].item() == 0.0


def test_batched_and_per_crop_training_forward_give_the_same_losses():
    batched = tiny_hrda(batch_crops=True).eval()
    per_crop = tiny_hrda(batch_crops=False).eval()
    per_crop.load_state_dict(batched.state_dict())
    x = torch.randn(2, 3, 64, 64)  # context 32x32 and detail 32x32: one pass when batched
    label = torch.randint(0, 3, (2, 64, 64))
    calls = {"n": 0}

    def count(module, args):
        calls["n"] += 1

    batched.backbone.register_forward_pre_hook(count)
    per_crop.backbone.register_forward_pre_hook(count)
    box = CropBox(0, 32, 32, 64)
    a = batched.weighted_loss(x, label, crop_box=box)
    assert calls["n"] == 1
    b = per_crop.weighted_loss(x, label, crop_box=box)
    assert calls["n"] == 3
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=1e-5, rtol=1e-5)
    # gradients agree too
    a["decode.loss_ce"].backward()
    b["decode.loss_ce"].backward()
    for (name, p), q in zip(batched.named_parameters(), per_crop.parameters()):
        if p.grad is not None:
            torch.testing.assert_close(p.grad, q.grad, atol=1e-5, rtol=1e-4, msg=name)


def test_groups_losses_equal_separate_calls():
    model = tiny_hrda().eval()
    x = torch.randn(4, 3, 64, 64)
    label = torch.randint(0, 3, (4, 64, 64))
    weight = torch.rand(4, 64, 64)
    box = CropBox(24, 56, 8, 40)
    joint = model.weighted_loss(x, label, weight, groups={"src": 2, "mix": 2}, crop_box=box)
    src = model.weighted_loss(x[:2], label[:2], weight[:2], crop_box=box)
    mix = model.weighted_loss(x[2:], label[2:], weight[2:], crop_box=box)
    assert len(joint) == 2 * len(src)
    for key in src:
        torch.testing.assert_close(joint[f"src.{key}"], src[key], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(joint[f"mix.{key}"], mix[key], atol=1e-5, rtol=1e-5)


def test_box_drawn_from_the_generator_and_odd_input_sizes():
    model = tiny_hrda(keep_debug_outputs=True).train()
    x = torch.randn(2, 3, 101, 77)  # padded to 104x80 inside, losses on the 101x77 pixels
    label = torch.randint(0, 3, (2, 101, 77))
    losses = model.weighted_loss(x, label, generator=torch.Generator().manual_seed(5))
    box = model.debug_outputs["crop_box"]
    assert all(v % 8 == 0 for v in box) and box.y2 <= 101 and box.x2 <= 77
    assert torch.isfinite(losses["decode.loss_ce"]) and losses["decode.loss_ce"] > 0
    model.weighted_loss(x, label, generator=torch.Generator().manual_seed(5))
    assert model.debug_outputs["crop_box"] == box
    assert model.debug_outputs["fused"].shape == (2, 3, 26, 20)
    assert model.debug_outputs["attention"].shape == (2, 3, 26, 20)
    assert not model.debug_outputs["fused"].requires_grad
    losses["decode.loss_ce"].backward()
    with pytest.raises(ValueError, match="divisible by 8"):
        model.weighted_loss(x, label, crop_box=(4, 36, 0, 32))


def test_whole_image_detail_window_equals_direct_fusion():
    model = tiny_hrda(detail_crop_size=(64, 64), detail_stride=(32, 32)).eval()
    x = torch.randn(2, 3, 64, 64)  # one detail window = the whole image
    with torch.no_grad():
        out = model.scale_outputs(x)
        context, attention, detail = manual_scales(model, x, CropBox(0, 64, 0, 64))
    expected = upsample_to(fuse_scales(context, attention, detail), (64, 64))
    torch.testing.assert_close(out["seg_logits"], expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out["detail"], upsample_to(detail, (64, 64)), atol=1e-5,
                               rtol=1e-5)


def test_overlapping_detail_windows_are_averaged():
    model = tiny_hrda().eval()  # 32x32 windows at stride 16 over 64x64: 9 windows
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        out = model.scale_outputs(x)
        context, attention, _ = manual_scales(model, x, CropBox(0, 32, 0, 32))
        acc = torch.zeros(1, 3, 16, 16)
        count = torch.zeros(1, 1, 16, 16)
        for y in (0, 16, 32):
            for x0 in (0, 16, 32):
                logits = model.decode_head(model.extract_feat(x[..., y:y + 32, x0:x0 + 32]))
                acc[..., y // 4:y // 4 + 8, x0 // 4:x0 // 4 + 8] += logits
                count[..., y // 4:y // 4 + 8, x0 // 4:x0 // 4 + 8] += 1
    detail = acc / count
    torch.testing.assert_close(out["seg_logits"],
                               upsample_to(fuse_scales(context, attention, detail), (64, 64)),
                               atol=1e-5, rtol=1e-5)


def test_batched_sequential_and_memory_bounded_windows_agree():
    fast = tiny_hrda().eval()
    seq = tiny_hrda(batch_crops=False).eval()
    bounded = tiny_hrda(test_cfg=dict(mode="whole", max_crops_per_pass=3)).eval()
    for m in (seq, bounded):
        m.load_state_dict(fast.state_dict())
    x = torch.randn(2, 3, 64, 80)
    passes = {}
    for name, m in (("fast", fast), ("seq", seq), ("bounded", bounded)):
        passes[name] = []
        handle = m.backbone.register_forward_pre_hook(
            lambda mod, args, name=name: passes[name].append(args[0].shape[0]))
        with torch.no_grad():
            passes[name + "_out"] = m.inference_logits(x)
        handle.remove()
    # 2 contexts (32x40) + 12 windows x 2 images (32x32): shapes differ -> 2 batched passes
    assert passes["fast"] == [2, 24]
    assert passes["seq"] == [2] * 13
    assert max(passes["bounded"]) <= 3 and sum(passes["bounded"]) == 26
    torch.testing.assert_close(passes["seq_out"], passes["fast_out"], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(passes["bounded_out"], passes["fast_out"], atol=1e-5, rtol=1e-5)


def test_context_and_windows_share_one_pass_when_shapes_match():
    model = tiny_hrda().eval()
    sizes = []
    model.backbone.register_forward_pre_hook(lambda m, a: sizes.append(a[0].shape[0]))
    with torch.no_grad():
        model.inference_logits(torch.randn(2, 3, 64, 64))  # context 32x32 == window 32x32
    assert sizes == [2 + 9 * 2]


def test_outer_window_stitches_hrda_inference_of_each_window():
    model = tiny_hrda(test_cfg=dict(mode="slide", crop_size=(64, 64), stride=(48, 32))).eval()
    x = torch.randn(1, 3, 96, 100)
    with torch.no_grad():
        out = model.inference_logits(x)
        acc = torch.zeros(1, 3, 96, 100)
        count = torch.zeros(1, 1, 96, 100)
        for y in (0, 32):
            for x0 in (0, 32, 36):
                acc[..., y:y + 64, x0:x0 + 64] += model.encode_decode(
                    x[..., y:y + 64, x0:x0 + 64], [])
                count[..., y:y + 64, x0:x0 + 64] += 1
        small = torch.randn(1, 3, 64, 64)  # fits the outer window: plain HRDA inference
        torch.testing.assert_close(model.inference_logits(small), model.encode_decode(small, []))
    torch.testing.assert_close(out, acc / count, atol=1e-5, rtol=1e-5)


def test_inference_handles_odd_sizes_and_returns_float_logits():
    model = tiny_hrda().eval()
    with torch.no_grad():
        out = model.scale_outputs(torch.randn(1, 3, 101, 77))
    assert out["seg_logits"].shape == (1, 3, 101, 77) and out["seg_logits"].dtype == torch.float32
    assert out["attention"].shape == (1, 3, 101, 77)
    assert set(out) == {"seg_logits", "context", "detail", "attention"}


def test_predict_adds_scale_maps_restored_to_the_original_image():
    model = tiny_hrda().eval()
    samples = []
    for flip in (False, True):
        s = SegDataSample(metainfo=dict(ori_shape=(40, 50), img_shape=(64, 64),
                                        padding_size=[0, 0, 0, 0], flip=flip,
                                        flip_direction="horizontal"))
        s.gt_sem_seg = PixelData(data=torch.zeros(1, 40, 50, dtype=torch.long))
        samples.append(s)
    x = torch.randn(1, 3, 64, 64).repeat(2, 1, 1, 1)
    with torch.no_grad():
        out = model.predict(x, samples)
    for s in out:
        assert s.pred_sem_seg.shape == (40, 50)
        assert s.scale_attention.data.shape == (3, 40, 50)
        assert s.context_seg_logits.data.shape == (3, 40, 50)
        assert s.detail_seg_logits.data.shape == (3, 40, 50)
    torch.testing.assert_close(out[1].scale_attention.data,
                               out[0].scale_attention.data.flip(-1))
    quiet = tiny_hrda(test_cfg=dict(mode="whole", output_scale_maps=False)).eval()
    with torch.no_grad():
        plain = quiet.predict(torch.randn(1, 3, 64, 64))
    assert "scale_attention" not in plain[0] and plain[0].seg_logits.data.shape == (3, 64, 64)


def test_configuration_errors_name_the_problem():
    with pytest.raises(ValueError, match="detail_crop_size=.*multiples of 8"):
        tiny_hrda(detail_crop_size=(36, 36))
    with pytest.raises(ValueError, match="detail_stride=.*multiples of 16"):
        tiny_hrda(context_scale=0.25, detail_stride=(8, 8))
    with pytest.raises(ValueError, match="needs test_cfg.crop_size"):
        tiny_hrda(test_cfg=dict(mode="slide"))
    with pytest.raises(ValueError, match="auxiliary_head"):
        tiny_hrda(auxiliary_head=dict(type="FCNHead"))
    cfg = Config.fromfile(f"{REPO}/configs/_base_/models/mit_b0.py").model
    cfg.update(type="HRDAEncoderDecoder", data_preprocessor=None)
    with pytest.raises(TypeError, match="HRDAHead"):
        MODELS.build(cfg)
    model = tiny_hrda(detail_crop_size=(64, 64))
    with pytest.raises(ValueError, match="does not fit"):
        model.weighted_loss(torch.randn(1, 3, 64, 48), torch.zeros(1, 64, 48, dtype=torch.long))


def test_loss_entry_point_trains_through_mmseg_data_samples():
    model = tiny_hrda().train()
    samples = []
    for _ in range(2):
        s = SegDataSample()
        s.gt_sem_seg = PixelData(data=torch.randint(0, 3, (1, 64, 64)))
        samples.append(s)
    losses = model.loss(torch.randn(2, 3, 64, 64), samples)
    total = sum(v for k, v in losses.items() if "loss" in k)
    total.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None for g in grads)  # every parameter is used (DDP-safe)
    assert isinstance(model, HRDAEncoderDecoder)


def test_padded_batches_train_from_scratch_with_finite_gradients():
    """mmseg pads small images to the crop size; a detail box on padding only is a constant
    crop whose zero-variance LayerNorms give non-finite gradients from zero-bias init."""
    model = tiny_hrda()
    model.init_weights()
    model.train()
    inputs = torch.zeros(2, 3, 128, 128)
    samples = []
    for i in range(2):
        h, w = (48, 40) if i == 0 else (80, 56)
        inputs[i, :, :h, :w] = torch.randn(3, h, w)
        label = torch.full((1, 128, 128), 255)
        label[:, :h, :w] = torch.randint(0, 3, (1, h, w))
        s = SegDataSample(metainfo=dict(img_shape=(h, w)))
        s.gt_sem_seg = PixelData(data=label)
        samples.append(s)
    for seed in range(4):
        torch.manual_seed(seed)
        model.zero_grad()
        losses = model.loss(inputs, samples)
        sum(v for k, v in losses.items() if "loss" in k).backward()
        bad = [n for n, p in model.named_parameters()
               if p.grad is not None and not torch.isfinite(p.grad).all()]
        assert not bad, f"seed {seed}: non-finite gradients in {bad[:3]}"
