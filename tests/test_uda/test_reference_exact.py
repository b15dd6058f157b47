"""Issue 21: the reference's train-mode pass structure, norm weight decay, detail boxes and
loss means on padded crops, on tiny HRDA students from scratch (no Runner)."""

import copy

import pytest
import torch
import torch.nn.functional as F
from mmengine.optim import build_optim_wrapper
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from test_uda.test_methods import HRDA_CPU, HRDA_SIZE, build, total
from torch.nn import GroupNorm, LayerNorm
from torch.nn.modules.batchnorm import _BatchNorm

from mmseg_uda.models.segmentors import WeightedEncoderDecoder
from mmseg_uda.models.segmentors import hrda_encoder_decoder as hrda_module
from mmseg_uda.models.segmentors.hrda_encoder_decoder import real_extent
from mmseg_uda.models.uda import functional as UF
from mmseg_uda.models.uda import is_stochastic_layer
from mmseg_uda.models.utils import CropBox, sliding_windows, stack_windows

MIC = dict(block_size=8, mask_ratio=0.5, color_aug=True)


def padded_batch(b=2, real=((HRDA_SIZE, HRDA_SIZE),) * 2, src_real=None, seed=0):
    """Source and target crops of HRDA_SIZE; sample i of the target is real on ``real[i]``
    (h, w) and zero-padded (normalised 0, as the preprocessor pads) elsewhere."""
    g = torch.Generator().manual_seed(seed)
    size = HRDA_SIZE
    inputs = dict(source=torch.randn(b, 3, size, size, generator=g),
                  target=torch.randn(b, 3, size, size, generator=g))
    samples = dict(source=[], target=[])
    src_real = src_real or ((size, size),) * b
    for i in range(b):
        s = SegDataSample()
        label = torch.zeros(1, size, size, dtype=torch.long)
        label[0, 4 * i + 2:4 * i + 6] = 1
        sh, sw = src_real[i]
        label[0, sh:] = 255
        label[0, :, sw:] = 255
        inputs["source"][i, :, sh:] = 0
        inputs["source"][i, :, :, sw:] = 0
        s.gt_sem_seg = PixelData(data=label)
        s.set_metainfo(dict(img_shape=(sh, sw), padding_size=[0, size - sw, 0, size - sh]))
        t = SegDataSample()
        th, tw = real[i]
        inputs["target"][i, :, th:] = 0
        inputs["target"][i, :, :, tw:] = 0
        t.set_metainfo(dict(img_shape=(th, tw), padding_size=[0, size - tw, 0, size - th]))
        samples["source"].append(s)
        samples["target"].append(t)
    return inputs, samples


class PassRecorder:
    """Records the input of every backbone pass of the student and of the teacher, and the
    batch statistics (mean, var) its first decoder BatchNorm normalises with."""

    def __init__(self, model):
        self.calls = []
        self.active = True
        for who, seg in (("student", model.student), ("teacher", model.teacher.module)):
            seg.backbone.register_forward_pre_hook(self._input(who))
            bn = next(m for m in seg.decode_head.decoder.modules() if isinstance(m, _BatchNorm))
            bn.register_forward_pre_hook(self._bn(who))

    def _input(self, who):
        def hook(_, args):
            if self.active:
                self.calls.append(dict(who=who, x=args[0].detach().clone()))
        return hook

    def _bn(self, who):
        def hook(_, args):
            if not self.active:
                return
            x = args[0].detach()
            self.calls[-1].setdefault("bn", []).append(
                (x.mean(dim=(0, 2, 3)), x.var(dim=(0, 2, 3), unbiased=False)))
        return hook


def context(x):
    return F.interpolate(x, scale_factor=0.5, mode="bilinear", align_corners=False)


def test_reference_exact_pass_structure_in_train_mode():
    """Student: source, mixed and MIC images each in their own passes, context and detail
    crops apart; teacher: the target contexts in one pass, all detail windows in another.
    Each pass's BN statistics equal those of the same crops run alone (the reference)."""
    model, _ = build(HRDA_CPU, reference_exact=True, mic=MIC)
    assert model.reference_exact and not model.batched_student
    assert model.student.batch_crops == model.teacher.module.batch_crops == "per_scale"
    rec = PassRecorder(model)
    model.student.keep_debug_outputs = True
    inputs, samples = padded_batch()
    src, tgt = inputs["source"], inputs["target"]
    boxes = []
    orig = model.student.forward_train_scales

    def keep_box(x, box):
        boxes.append(box)
        return orig(x, box)

    model.student.forward_train_scales = keep_box
    model.loss(copy.deepcopy(inputs), copy.deepcopy(samples))
    who = [c["who"] for c in rec.calls]
    assert who == ["student"] * 2 + ["teacher"] * 2 + ["student"] * 4
    sizes = [c["x"].shape[0] for c in rec.calls]
    windows = sliding_windows((HRDA_SIZE, HRDA_SIZE), (32, 32), (16, 16), 8)
    assert sizes == [2, 2, 2, 2 * len(windows), 2, 2, 2, 2]
    # the source pass pair, exactly the source crops (context, then the detail box)
    torch.testing.assert_close(rec.calls[0]["x"], context(src))
    torch.testing.assert_close(rec.calls[1]["x"], boxes[0].crop(src))
    torch.testing.assert_close(rec.calls[2]["x"], context(tgt))
    torch.testing.assert_close(rec.calls[3]["x"], stack_windows(tgt, windows))
    # mixed and MIC passes: context then detail of their own box
    assert rec.calls[5]["x"].shape[-2:] == rec.calls[7]["x"].shape[-2:] == (32, 32)
    # BN statistics of every pass = those of its crops alone through the same network
    rec.active = False
    for call in rec.calls:
        seg = model.student if call["who"] == "student" else model.teacher.module
        feats = seg.extract_feat(call["x"])
        seg_rec = []
        bn = next(m for m in seg.decode_head.decoder.modules() if isinstance(m, _BatchNorm))
        handle = bn.register_forward_pre_hook(
            lambda _, a, out=seg_rec: out.append(a[0].detach()))
        with torch.no_grad():
            seg.decode_head(feats)
        handle.remove()
        torch.testing.assert_close(call["bn"][0][0], seg_rec[0].mean(dim=(0, 2, 3)))
        torch.testing.assert_close(call["bn"][0][1],
                                   seg_rec[0].var(dim=(0, 2, 3), unbiased=False))


def test_default_batched_path_differs_from_the_reference_in_train_mode_only(monkeypatch):
    # the same detail box, mix and augmentation (none) for both paths, no dropout / drop-path
    monkeypatch.setattr(hrda_module, "sample_crop_box", lambda *a, **k: CropBox(8, 40, 16, 48))
    inputs, samples = padded_batch()
    out = {}
    for mode in ("eval", "train"):
        for ref in (False, True):
            model, _ = build(HRDA_CPU, reference_exact=ref)
            model.color_jitter_prob = model.blur_prob = 0.0
            for m in model.modules():
                if is_stochastic_layer(m):
                    for attr in ("p", "drop_prob"):
                        if hasattr(m, attr):
                            setattr(m, attr, 0.0)
            model.train(mode == "train")
            torch.manual_seed(3)
            out[mode, ref] = model.loss(copy.deepcopy(inputs), copy.deepcopy(samples))
    # eval-mode losses agree ...
    for key in out["eval", True]:
        torch.testing.assert_close(out["eval", False][key], out["eval", True][key],
                                   atol=1e-5, rtol=1e-4, msg=key)
    # ... train-mode ones do not (BN statistics per pass)
    diff = max(abs(float(out["train", False][k]) - float(out["train", True][k]))
               for k in out["train", True] if "loss" in k)
    assert diff > 1e-4


def test_reference_exact_uses_kornia_jitter_decided_per_batch(monkeypatch):
    model, _ = build(HRDA_CPU, reference_exact=True)
    calls = []
    monkeypatch.setattr(UF, "color_jitter_reference",
                        lambda img, *a, **k: calls.append("kornia") or img)
    monkeypatch.setattr(UF, "color_jitter", lambda img, *a, **k: calls.append("tv") or img)
    blur = []
    monkeypatch.setattr(UF, "random_gaussian_blur",
                        lambda img, *a, per_batch=False, **k: blur.append(per_batch) or img)
    model.photometric(torch.zeros(2, 3, 8, 8))
    model.reference_exact = False
    model.photometric(torch.zeros(2, 3, 8, 8))
    assert calls == ["kornia", "tv"] and blur == [True, False]


def test_every_parameter_group_decay_of_the_hrda_config():
    """No decay on any backbone norm (incl. mmseg 1.x's stage-final layers.{i}.2), decay on
    everything else; decoders (names with 'head') at 10x the learning rate."""
    model, cfg = build(HRDA_CPU)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    names = {id(p): n for n, p in model.named_parameters()}
    modules = dict(model.named_modules())
    base_lr, base_wd = cfg.optim_wrapper.optimizer.lr, cfg.optim_wrapper.optimizer.weight_decay
    seen = set()
    stage_final = 0
    for group in wrapper.optimizer.param_groups:
        for p in group["params"]:
            name = names[id(p)]
            seen.add(name)
            owner = modules[name.rsplit(".", 1)[0]]
            is_norm = isinstance(owner, (_BatchNorm, GroupNorm, LayerNorm))
            if ".backbone." in name:
                expected_wd = 0.0 if is_norm else base_wd
                stage_final += ".backbone.layers." in name and name.split(".")[4] == "2"
            else:  # decoders: the 'norm' name key does not match their 'bn' layers
                expected_wd = 0.0 if "norm" in name else base_wd
            expected_lr = base_lr * (10.0 if "head" in name else 1.0)
            assert group.get("weight_decay", base_wd) == expected_wd, name
            assert group.get("lr", base_lr) == pytest.approx(expected_lr), name
    assert stage_final == 8  # 4 stage-final LayerNorms x (weight, bias)
    assert seen == {n for n, p in model.named_parameters() if p.requires_grad}
    assert not any(n.startswith("teacher.") for n in seen)


@pytest.mark.parametrize("ref", [False, True])
def test_detail_boxes_stay_in_each_groups_real_region(ref):
    """Odd real sizes, per-group boxes: the source rows keep their own (larger) region."""
    model, _ = build(HRDA_CPU, reference_exact=ref, mic=MIC)
    model.student.keep_debug_outputs = True
    boxes = []
    orig = model.student.weighted_loss

    def spy(*args, **kwargs):
        out = orig(*args, **kwargs)
        boxes.append((kwargs.get("groups"), model.student.debug_outputs["crop_boxes"]))
        return out

    model.student.weighted_loss = spy
    inputs, samples = padded_batch(real=((43, 37), (57, 61)), src_real=((64, 64), (50, 64)))
    for seed in range(6):
        torch.manual_seed(seed)
        model.loss(copy.deepcopy(inputs), copy.deepcopy(samples))
    limits = {"src": (50, 64), "mix": (43, 37), "mic": (43, 37)}
    src_starts = set()
    for groups, group_boxes in boxes:
        for name, box in zip(groups, group_boxes):
            h, w = limits[name]
            assert box.y2 <= max(h, 32) and box.x2 <= max(w, 32), (name, box)
            assert box.y1 % 8 == 0 and box.x1 % 8 == 0
            if name == "src":
                src_starts.add((box.y1, box.x1))
    assert any(y1 > 8 or x1 > 8 for y1, x1 in src_starts)  # not held in the target's region


def test_real_extent_and_losses_averaged_over_real_pixels():
    valid = torch.zeros(2, 20, 30, dtype=torch.bool)
    valid[0, :13, :17] = True
    valid[1, :19, :29] = True
    assert real_extent(valid) == (13, 17)
    torch.manual_seed(0)
    seg = build(HRDA_CPU)[0].student
    assert isinstance(seg, WeightedEncoderDecoder)
    x = torch.randn(2, 3, HRDA_SIZE, HRDA_SIZE)
    label = torch.randint(0, 2, (2, HRDA_SIZE, HRDA_SIZE))
    real = torch.zeros(2, HRDA_SIZE, HRDA_SIZE, dtype=torch.bool)
    real[:, :40, :24] = True
    weight = real.float()
    seg.eval()
    plain = seg.weighted_loss(x, label, weight, crop_box=(0, 32, 0, 32))
    meaned = seg.weighted_loss(x, label, weight, crop_box=(0, 32, 0, 32), valid=real)
    n = HRDA_SIZE * HRDA_SIZE
    torch.testing.assert_close(meaned["decode.loss_ce"],
                               plain["decode.loss_ce"] * 2 * n / (2 * 40 * 24))
    torch.testing.assert_close(meaned["detail.loss_ce"],
                               plain["detail.loss_ce"] * 32 * 32 / (32 * 24))
    assert meaned["decode.acc_seg"] == plain["decode.acc_seg"]


@pytest.mark.parametrize("ref", [False, True])
def test_no_nan_with_a_padding_heavy_batch_from_scratch(ref):
    """Targets with 1/10 real pixels in the crop, MIC on, backbone from scratch: finite
    losses and gradients for several iterations (a padding-only detail box gave NaN)."""
    model, cfg = build(HRDA_CPU, reference_exact=ref, mic=MIC)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    inputs, samples = padded_batch(real=((20, 20), (16, 24)), src_real=((24, 64), (64, 20)))
    for _ in range(3):
        losses = model.loss(copy.deepcopy(inputs), copy.deepcopy(samples))
        assert all(torch.isfinite(v).all() for v in losses.values()), losses
        wrapper.update_params(total(losses))
        assert all(torch.isfinite(p).all() for p in model.student.parameters())


def test_paste_stays_in_the_target_frame_and_old_margin_name_is_refused():
    model, _ = build(HRDA_CPU)
    inputs, samples = padded_batch(real=((20, 30), (64, 64)))
    model.loss(copy.deepcopy(inputs), copy.deepcopy(samples))
    mixed_label = model.debug_outputs["mixed_label"]
    pseudo = model.debug_outputs["pseudo_label"]
    assert torch.equal(mixed_label[0, 20:], pseudo[0, 20:])  # nothing pasted on padding
    with pytest.raises(ValueError, match="renamed crop_border_margin"):
        build(HRDA_CPU, border_margin=3)
    with pytest.raises(ValueError, match="batch_crops must be"):
        build(HRDA_CPU, segmentor=dict(batch_crops="per_crop"))
