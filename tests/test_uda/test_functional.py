"""Pure tensor functions of the self-training loop, on constructed tensors."""

import math

import pytest
import torch
import torch.nn as nn
from mmengine.model import MomentumAnnealingEMA

from mmseg_uda.models.uda import functional as UF
from mmseg_uda.models.uda.teacher import build_ema_teacher


# --------------------------------------------------------------------------- EMA
def test_ema_alpha_values():
    assert UF.ema_alpha(0, 0.999) == 0.0
    assert UF.ema_alpha(1, 0.999) == 0.5
    assert UF.ema_alpha(3, 0.999) == 0.75
    assert UF.ema_alpha(5000, 0.999) == 0.999
    assert UF.ema_alpha(2, 0.6) == 0.6  # 1 - 1/3 = 0.667 is capped
    with pytest.raises(ValueError):
        UF.ema_alpha(-1, 0.9)


@pytest.mark.parametrize("alpha", [0.6, 0.999])
def test_mmengine_momentum_annealing_ema_is_the_reference_teacher(alpha):
    """theta_T(t) = a_t theta_T(t-1) + (1 - a_t) theta_S(t), a_t = min(1 - 1/(t+1), alpha)."""
    student = nn.Linear(3, 2)
    teacher = build_ema_teacher(student, alpha)
    assert isinstance(teacher, MomentumAnnealingEMA)
    expected = None
    for step in range(6):
        with torch.no_grad():  # a new student value at every step
            student.weight.copy_(torch.full((2, 3), float(step + 1) ** 2))
            student.bias.copy_(torch.tensor([step * 1.5, -step]))
        a = UF.ema_alpha(step, alpha)
        s = [p.detach().clone() for p in student.parameters()]
        expected = s if expected is None else [a * e + (1 - a) * v for e, v in zip(expected, s)]
        assert int(teacher.steps) == step
        teacher.update_parameters(student)
        for got, want in zip(teacher.module.parameters(), expected):
            torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6)
    # explicit numbers for alpha=0.6: weights 1, 4, 9, 16 -> 1, (1+4)/2, .6*2.5+.4*9, ...
    if alpha == 0.6:
        w = 1.0
        for step, value in enumerate([4.0, 9.0, 16.0, 25.0, 36.0], start=1):
            a = min(1 - 1 / (step + 1), 0.6)
            w = a * w + (1 - a) * value
        assert math.isclose(float(teacher.module.weight[0, 0]), w, rel_tol=1e-6)
    assert not any(p.requires_grad for p in teacher.module.parameters())


def test_ema_rejects_alpha_outside_open_interval():
    with pytest.raises(ValueError, match="alpha"):
        build_ema_teacher(nn.Linear(2, 2), 1.0)


# --------------------------------------------------------------------------- pseudo-labels
def _logits_with_confidence(conf: torch.Tensor, label: torch.Tensor, num_classes: int = 2):
    """Logits whose softmax max equals ``conf`` at class ``label`` (2 classes)."""
    assert num_classes == 2
    margin = torch.log(conf / (1 - conf))
    logits = torch.zeros(conf.shape[0], 2, *conf.shape[1:])
    logits.scatter_(1, label[:, None], margin[:, None])
    return logits


def test_pseudo_labels_argmax_and_confidence_in_float32():
    conf = torch.tensor([[[0.99, 0.6], [0.97, 0.5001]]])
    label = torch.tensor([[[1, 0], [0, 1]]])
    logits = _logits_with_confidence(conf, label)
    got_label, got_conf = UF.pseudo_labels(logits.to(torch.bfloat16))
    assert got_conf.dtype == torch.float32
    torch.testing.assert_close(got_label, label)
    torch.testing.assert_close(got_conf, conf, atol=1e-2, rtol=0)
    with pytest.raises(ValueError, match="N, C, H, W"):
        UF.pseudo_labels(torch.zeros(2, 3, 4))


def test_logit_adjustment_undoes_a_class_weight_prior():
    # a network trained with class weights (1, 5) outputs p_w = 5p / (5p + 1 - p); the
    # arg-max of p_w calls "defect" from p = 1/6. Adding (0, -log 5) decides at p = 1/2.
    p = torch.tensor([0.1, 0.2, 0.4, 0.6, 0.9])
    p_w = 5 * p / (5 * p + 1 - p)
    logits = torch.stack([torch.log(1 - p_w), torch.log(p_w)])[None, :, None, :]
    plain, _ = UF.pseudo_labels(logits)
    adjusted, conf = UF.pseudo_labels(logits, (0.0, -math.log(5.0)))
    assert plain[0, 0].tolist() == [0, 1, 1, 1, 1]
    assert adjusted[0, 0].tolist() == [0, 0, 0, 1, 1]
    torch.testing.assert_close(conf[0, 0], torch.maximum(p, 1 - p))  # the unweighted posterior
    with pytest.raises(ValueError, match="logit_adjustment"):
        UF.pseudo_labels(logits, (0.0,))


def test_confidence_weight_modes_on_constructed_logits():
    # image 0: 3 of 4 pixels confident; image 1: 1 of 4
    conf = torch.tensor([[[0.99, 0.98], [0.97, 0.5]], [[0.99, 0.6], [0.7, 0.8]]])
    logits = _logits_with_confidence(conf, torch.zeros(2, 2, 2, dtype=torch.long))
    _, c = UF.pseudo_labels(logits)
    batch = UF.confidence_weight(c, 0.968, "batch")
    torch.testing.assert_close(batch, torch.full((2, 2, 2), 4 / 8))  # the reference scalar
    image = UF.confidence_weight(c, 0.968, "image")
    torch.testing.assert_close(image[0], torch.full((2, 2), 0.75))
    torch.testing.assert_close(image[1], torch.full((2, 2), 0.25))
    pixel = UF.confidence_weight(c, 0.968, "pixel")
    torch.testing.assert_close(pixel, (conf >= 0.968).float())
    soft = UF.confidence_weight(c, 0.968, "soft")
    torch.testing.assert_close(soft, conf, atol=1e-5, rtol=0)
    # invalid pixels: weight 0 and not counted in the fractions
    valid = torch.ones(2, 2, 2, dtype=torch.bool)
    valid[0, 1, 1] = False  # the unconfident pixel of image 0
    batch_v = UF.confidence_weight(c, 0.968, "batch", valid)
    assert batch_v[0, 1, 1] == 0
    torch.testing.assert_close(batch_v[1, 0, 0], torch.tensor(4 / 7))
    image_v = UF.confidence_weight(c, 0.968, "image", valid)
    torch.testing.assert_close(image_v[0, 0, 0], torch.tensor(1.0))
    with pytest.raises(ValueError, match="mode"):
        UF.confidence_weight(c, 0.9, "median")


def test_class_balanced_weight_keeps_the_most_confident_share_of_each_class():
    # class 1 ("thin defect"): confidences 0.6, 0.7, 0.8, 0.9 — none reaches tau = 0.968
    # class 0: 0.99 x 3 and 0.55 (the background next to the defect)
    label = torch.tensor([[[1, 1, 1, 1], [0, 0, 0, 0]]])
    conf = torch.tensor([[[0.6, 0.7, 0.8, 0.9], [0.99, 0.99, 0.99, 0.55]]])
    thr = UF.class_quantile_thresholds(label, conf, keep_ratio=0.5)
    torch.testing.assert_close(thr, torch.tensor([0.99, 0.8]))
    w = UF.confidence_weight(conf, 0.968, "class_balanced", label=label, keep_ratio=0.5)
    # class 1: its top half (0.8, 0.9); class 0: every pixel >= tau (3 of 4, more than half)
    torch.testing.assert_close(w, torch.tensor([[[0.0, 0.0, 1.0, 1.0], [1.0, 1.0, 1.0, 0.0]]]))
    assert UF.confidence_weight(conf, 0.968, "pixel")[0, 0].sum() == 0  # 'pixel' keeps none
    valid = torch.ones_like(label, dtype=torch.bool)
    valid[0, 0, 3] = False  # without the 0.9 pixel, the top half of (0.6, 0.7, 0.8) is 0.7+
    w = UF.confidence_weight(conf, 0.968, "class_balanced", valid, label, keep_ratio=0.5)
    torch.testing.assert_close(w[0, 0], torch.tensor([0.0, 1.0, 1.0, 0.0]))
    thr3 = UF.class_quantile_thresholds(label, conf, 1.0, num_classes=3)
    assert thr3[2] == 1.0 and thr3[1] == pytest.approx(0.6)
    with pytest.raises(ValueError, match="pseudo-labels"):
        UF.confidence_weight(conf, 0.968, "class_balanced")
    with pytest.raises(ValueError, match="keep_ratio"):
        UF.class_quantile_thresholds(label, conf, 0.0)


def test_scale_by_class():
    label = torch.tensor([[[0, 1], [1, 2]]])
    w = torch.full((1, 2, 2), 0.5)
    torch.testing.assert_close(UF.scale_by_class(w, label, [1.0, 0.2, 2.0]),
                               torch.tensor([[[0.5, 0.1], [0.1, 1.0]]]))
    with pytest.raises(ValueError, match="class factors"):
        UF.scale_by_class(w, label, [1.0, 0.2])


def test_border_mask_and_valid_region():
    m = UF.border_mask((1, 6, 8), (1, 2, 3, 0))
    assert m.shape == (1, 6, 8)
    assert not m[0, 0].any() and not m[0, 4:].any()  # top 1 row, bottom 2 rows
    assert not m[0, :, :3].any() and m[0, 1:4, 3:].all()  # left 3 columns, right none
    assert UF.border_mask((2, 4, 4), 0).all()
    assert not UF.border_mask((1, 4, 4), 2).any()
    with pytest.raises(ValueError, match="margin"):
        UF.border_mask((1, 4, 4), (1, 2))
    metas = [dict(padding_size=(0, 3, 0, 2)), dict()]
    v = UF.valid_region_mask(metas, (2, 6, 8))
    assert v[0, :4, :5].all() and not v[0, 4:].any() and not v[0, :, 5:].any()
    assert v[1].all()


def test_pseudo_label_stats_and_defect_iou():
    label = torch.tensor([[[0, 1], [1, 0]]])
    weight = torch.tensor([[[1.0, 0.5], [0.25, 1.0]]])
    conf = torch.tensor([[[0.9, 0.7], [0.6, 0.8]]])
    s = UF.pseudo_label_stats(label, weight, conf)
    torch.testing.assert_close(s["weight"], torch.tensor(0.6875))
    torch.testing.assert_close(s["confidence"], torch.tensor(0.75))
    torch.testing.assert_close(s["defect_fraction"], torch.tensor(0.5))
    torch.testing.assert_close(s["defect_weight"], torch.tensor(0.375))
    assert not any(k.startswith("class") for k in s)  # per-class numbers: 3+ classes only
    label3 = torch.tensor([[[0, 1], [2, 2]]])
    valid = torch.tensor([[[True, True], [True, False]]])
    s3 = UF.pseudo_label_stats(label3, weight, conf, valid, num_classes=3)
    # valid pixels: 0 (w 1), 1 (w .5), 2 (w .25); (1, 1) is left out
    torch.testing.assert_close(s3["class1_fraction"], torch.tensor(1 / 3))
    torch.testing.assert_close(s3["class2_fraction"], torch.tensor(1 / 3))
    torch.testing.assert_close(s3["class2_weight"], torch.tensor(0.25 / 1.75))
    assert "class0_fraction" not in s3  # the background has no entry
    s3 = UF.pseudo_label_stats(label3, weight, conf, background_index=2, num_classes=3)
    assert {k for k in s3 if k.startswith("class")} == {
        "class0_fraction", "class0_weight", "class1_fraction", "class1_weight"}
    truth = torch.tensor([[[0, 1], [0, 255]]])
    # defect pred {(0,1),(1,0)}, truth {(0,1)}, (1,1) ignored -> IoU 1/2
    torch.testing.assert_close(UF.defect_iou(label, truth), torch.tensor(0.5))
    torch.testing.assert_close(UF.defect_iou(torch.zeros_like(label), torch.zeros_like(label)),
                               torch.tensor(1.0))


# --------------------------------------------------------------------------- ClassMix
def test_class_mix_is_per_sample_and_never_picks_ignore():
    labels = torch.full((3, 8, 8), 255, dtype=torch.long)
    labels[0, :4] = 0
    labels[0, 4:, :4] = 1
    labels[0, 4:, 4:] = 2            # sample 0: classes {0, 1, 2} + ignore
    labels[1, :, :] = 3
    labels[1, :2] = 4                # sample 1: classes {3, 4}, no ignore
    labels[2, 0, 0] = 255            # sample 2: only ignore
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        masks, chosen = UF.class_mix_masks(labels, 255, generator=g)
        assert masks.dtype == torch.bool and masks.shape == labels.shape
        assert len(chosen[0]) == 2 and set(chosen[0].tolist()) <= {0, 1, 2}
        assert len(chosen[1]) == 1 and set(chosen[1].tolist()) <= {3, 4}
        assert len(chosen[2]) == 0 and not masks[2].any()
        for i in range(3):
            torch.testing.assert_close(masks[i], torch.isin(labels[i], chosen[i]))
            assert not (masks[i] & (labels[i] == 255)).any()
    # each sample draws from its own classes: over many draws, sample 1 uses both 3 and 4
    seen = {tuple(UF.class_mix_masks(labels, 255, generator=g)[1][1].tolist())
            for _ in range(30)}
    assert seen == {(3,), (4,)}
    masks, chosen = UF.class_mix_masks(labels, 255, generator=g, exclude=(0,))
    assert 0 not in chosen[0].tolist() and len(chosen[0]) == 1


def test_mix_images_labels_weights_are_consistent():
    g = torch.Generator().manual_seed(1)
    src_label = torch.randint(0, 3, (2, 6, 6), generator=g)
    src_label[:, 0] = 255
    mask, _ = UF.class_mix_masks(src_label, 255, generator=g)
    src, tgt = torch.rand(2, 3, 6, 6, generator=g), torch.rand(2, 3, 6, 6, generator=g)
    pseudo, pweight = torch.randint(0, 3, (2, 6, 6), generator=g), torch.rand(2, 6, 6)
    img = UF.mix(mask, src, tgt)
    lab = UF.mix(mask, src_label, pseudo)
    wgt = UF.mix(mask, torch.ones_like(pweight), pweight)
    m3 = mask[:, None].expand_as(src)
    assert torch.equal(img[m3], src[m3]) and torch.equal(img[~m3], tgt[~m3])
    assert torch.equal(lab[mask], src_label[mask]) and torch.equal(lab[~mask], pseudo[~mask])
    assert (wgt[mask] == 1).all() and torch.equal(wgt[~mask], pweight[~mask])
    assert (lab != 255).all()  # ignore is never pasted, and pseudo-labels have none
    with pytest.raises(ValueError, match="cannot mix"):
        UF.mix(mask, src, tgt[:, :2])


# --------------------------------------------------------------------------- photometric
def test_normalize_roundtrip():
    mean, std = torch.tensor([123.675, 116.28, 103.53]), torch.tensor([58.395, 57.12, 57.375])
    rgb = torch.rand(2, 3, 5, 5)
    torch.testing.assert_close(UF.denormalize(UF.normalize(rgb, mean, std), mean, std), rgb)


def test_adjust_color_identity_and_hsv_roundtrip():
    img = torch.rand(3, 3, 7, 7)
    ones, zeros = torch.ones(3), torch.zeros(3)
    torch.testing.assert_close(UF.adjust_color(img, ones, ones, ones, zeros), img)
    torch.testing.assert_close(UF._hsv_to_rgb(UF._rgb_to_hsv(img)), img, atol=1e-5, rtol=0)
    # a full turn of hue is the identity; saturation 0 gives grey
    torch.testing.assert_close(UF.adjust_color(img, ones, ones, ones, ones * 0.999999), img,
                               atol=1e-4, rtol=0)
    grey = UF.adjust_color(img, ones, ones, zeros, zeros)
    torch.testing.assert_close(grey[:, 0], grey[:, 1])
    dark = UF.adjust_color(img, ones * 0.5, ones, ones, zeros)
    torch.testing.assert_close(dark, img * 0.5)


def test_color_jitter_probability_and_range():
    img = torch.rand(4, 3, 8, 8)
    assert torch.equal(UF.color_jitter(img, 0.2, prob=0.0), img)
    out = UF.color_jitter(img, 0.2, prob=1.0, generator=torch.Generator().manual_seed(0))
    assert out.shape == img.shape and out.min() >= 0 and out.max() <= 1
    assert all(not torch.allclose(out[i], img[i]) for i in range(4))
    again = UF.color_jitter(img, 0.2, prob=1.0, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, again)


def test_gaussian_blur():
    const = torch.full((1, 3, 9, 9), 0.3)
    torch.testing.assert_close(UF.gaussian_blur(const, 1.0), const)
    k = UF.gaussian_kernel1d(0.5)
    assert k.numel() == 5 and math.isclose(float(k.sum()), 1.0, rel_tol=1e-6)
    impulse = torch.zeros(1, 1, 9, 9)
    impulse[0, 0, 4, 4] = 1.0
    blurred = UF.gaussian_blur(impulse, 1.0)
    assert math.isclose(float(blurred.sum()), 1.0, rel_tol=1e-5)
    assert blurred[0, 0, 4, 4] < 0.2 and blurred[0, 0, 4, 5] > 0.05
    img = torch.rand(3, 3, 10, 10)
    assert torch.equal(UF.random_gaussian_blur(img, prob=0.0), img)
    out = UF.random_gaussian_blur(img, prob=1.0, generator=torch.Generator().manual_seed(0))
    assert out.shape == img.shape and all(not torch.equal(out[i], img[i]) for i in range(3))
    with pytest.raises(ValueError, match="sigma"):
        UF.gaussian_kernel1d(0.0)


def test_kornia_jitter_semantics_against_the_formulas():
    """kornia 0.5.8: brightness added, contrast multiplied (no grey blend), each op clipped."""
    img = torch.tensor([0.1, 0.5, 0.9]).view(1, 3, 1, 1).expand(1, 3, 2, 2).clone()
    one, zero = torch.ones(1), torch.zeros(1)
    torch.testing.assert_close(UF.adjust_color_kornia(img, one, one, one, zero), img)
    bright = UF.adjust_color_kornia(img, one * 1.2, one, one, zero)
    torch.testing.assert_close(bright, (img + 0.2).clamp(0, 1))  # additive, not x * 1.2
    contrast = UF.adjust_color_kornia(img, one, one * 0.8, one, zero)
    torch.testing.assert_close(contrast, img * 0.8)  # plain product, no blend with the mean
    # order matters: (x + 0.2) * 0.8 != x * 0.8 + 0.2
    b_then_c = UF.adjust_color_kornia(img, one * 1.2, one * 0.8, one, zero, order=(0, 1, 2, 3))
    c_then_b = UF.adjust_color_kornia(img, one * 1.2, one * 0.8, one, zero, order=(1, 0, 2, 3))
    torch.testing.assert_close(b_then_c, ((img + 0.2).clamp(0, 1) * 0.8))
    torch.testing.assert_close(c_then_b, (img * 0.8 + 0.2).clamp(0, 1))
    # saturation scales the HSV saturation: value (max) kept, min = v * (1 - s * f), the
    # middle channel keeps its relative place: (0.1, 0.5, 0.9), s = 8/9 -> (0.5, 0.7, 0.9)
    sat = UF.adjust_color_kornia(img, one, one, one * 0.5, zero)
    torch.testing.assert_close(sat[0, :, 0, 0], torch.tensor([0.5, 0.7, 0.9]), atol=1e-5,
                               rtol=0)
    # hue: a shift of 1/3 of the circle rotates the channels (r, g, b) -> (b, r, g)
    hue = UF.adjust_color_kornia(img, one, one, one, one / 3)
    torch.testing.assert_close(hue[0, :, 0, 0], torch.tensor([0.9, 0.1, 0.5]), atol=1e-5,
                               rtol=0)
    with pytest.raises(ValueError, match="permutation"):
        UF.adjust_color_kornia(img, one, one, one, zero, order=(0, 0, 1, 2))


def test_reference_jitter_and_blur_decide_once_per_batch():
    img = torch.rand(6, 3, 8, 8)
    assert torch.equal(UF.color_jitter_reference(img, 0.2, prob=0.0), img)
    changed = []
    for seed in range(20):
        out = UF.color_jitter_reference(img, 0.2, prob=0.5,
                                        generator=torch.Generator().manual_seed(seed))
        per_image = [not torch.equal(out[i], img[i]) for i in range(6)]
        assert all(per_image) or not any(per_image)  # the whole batch or nothing
        changed.append(all(per_image))
        assert out.min() >= 0 and out.max() <= 1
    assert 0 < sum(changed) < 20
    # per image factors: two identical images are jittered differently
    twins = img[:1].expand(2, 3, 8, 8).clone()
    out = UF.color_jitter_reference(twins, 0.2, prob=1.0,
                                    generator=torch.Generator().manual_seed(0))
    assert not torch.equal(out[0], out[1])
    blurred_any = []
    for seed in range(20):
        out = UF.random_gaussian_blur(twins, prob=0.5, per_batch=True,
                                      generator=torch.Generator().manual_seed(seed))
        assert torch.equal(out[0], out[1])  # one sigma for the batch
        blurred_any.append(not torch.equal(out, twins))
    assert 0 < sum(blurred_any) < 20
