"""The DACS model: teacher, losses, modes, on a tiny MiT (no Runner)."""

import copy
import functools

import pytest
import torch
from mmengine.optim import build_optim_wrapper
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from test_uda.uda_testing import DACS_CPU, tiny_options

from mmseg_uda.models.uda import DACS, functional, is_stochastic_layer
from mmseg_uda.utils import load_config

SIZE = 32


@functools.lru_cache(maxsize=1)
def tiny_cfg():
    return load_config(DACS_CPU, tiny_options(crop=SIZE))


def tiny_dacs(**overrides) -> DACS:
    model_cfg = copy.deepcopy(tiny_cfg().model)
    model_cfg.update(overrides)
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    model.init_weights()
    return model


def paired_batch(b=2, seed=0, target_labels=False, pad_target=0):
    g = torch.Generator().manual_seed(seed)
    source = torch.randn(b, 3, SIZE, SIZE, generator=g)
    target = torch.randn(b, 3, SIZE, SIZE, generator=g)
    src_samples, tgt_samples = [], []
    for i in range(b):
        s = SegDataSample()
        label = torch.zeros(1, SIZE, SIZE, dtype=torch.long)
        label[0, i * 4:i * 4 + 3] = 1
        label[0, -2:] = 255
        s.gt_sem_seg = PixelData(data=label)
        s.set_metainfo(dict(img_shape=(SIZE, SIZE), padding_size=[0, 0, 0, 2]))
        src_samples.append(s)
        t = SegDataSample()
        t.set_metainfo(dict(img_shape=(SIZE, SIZE), padding_size=[0, pad_target, 0, 0]))
        if target_labels:
            t.gt_sem_seg = PixelData(data=torch.randint(0, 2, (1, SIZE, SIZE), generator=g))
        tgt_samples.append(t)
    return (dict(source=source, target=target),
            dict(source=src_samples, target=tgt_samples))


def params(module):
    return [p.detach().clone() for p in module.parameters()]


def test_loss_keys_first_iteration_copies_the_student():
    model = tiny_dacs()
    model.train()
    inputs, samples = paired_batch()
    losses = model.loss(inputs, samples)
    assert {"src.decode.loss_ce", "mix.decode.loss_ce", "pseudo.weight", "pseudo.confidence",
            "pseudo.defect_fraction", "pseudo.defect_weight",
            "mix.pasted_fraction"} <= set(losses)
    assert all(torch.isfinite(v).all() for v in losses.values())
    assert model.teacher_steps == 1
    for t, s in zip(model.teacher.module.parameters(), model.student.parameters()):
        assert torch.equal(t, s)
    # the debug hook's tensors: images in [0, 1], labels, weights
    dbg = model.debug_outputs
    assert dbg["mixed"].shape == (2, 3, SIZE, SIZE) and 0 <= dbg["mixed"].min() <= 1
    assert dbg["pseudo_label"].dtype == torch.long and dbg["pseudo_weight"].dim() == 3


def test_per_class_pseudo_label_shares_are_logged_with_several_defect_classes():
    model_cfg = copy.deepcopy(tiny_cfg().model)
    head = model_cfg.segmentor.decode_head
    head.num_classes = 3
    head.loss_decode.class_weight = None
    model_cfg.pseudo_class_weight = None
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    model.init_weights()
    model.train()
    inputs, samples = paired_batch()
    losses = model.loss(inputs, samples)
    shares = {k: float(v) for k, v in losses.items() if k.startswith("pseudo.class")}
    assert set(shares) == {"pseudo.class1_fraction", "pseudo.class1_weight",
                           "pseudo.class2_fraction", "pseudo.class2_weight"}
    torch.testing.assert_close(
        shares["pseudo.class1_fraction"] + shares["pseudo.class2_fraction"],
        float(losses["pseudo.defect_fraction"]))
    assert all(0.0 <= v <= 1.0 for v in shares.values())
    # two classes (the crack configs): only the defect-union numbers, as before
    assert not any(k.startswith("pseudo.class") for k in tiny_dacs().loss(*paired_batch()))


def test_teacher_update_in_loss_is_the_ema_formula():
    model = tiny_dacs(alpha=0.99)
    model.train()
    inputs, samples = paired_batch()
    model.loss(inputs, samples)  # step 0: copy
    with torch.no_grad():
        for p in model.student.parameters():
            p.add_(0.1 * torch.randn_like(p))
    before_t, before_s = params(model.teacher.module), params(model.student)
    model.loss(inputs, samples)  # step 1: a_1 = min(1 - 1/2, 0.99) = 0.5
    a = functional.ema_alpha(1, 0.99)
    for got, t, s in zip(model.teacher.module.parameters(), before_t, before_s):
        torch.testing.assert_close(got, a * t + (1 - a) * s)
    assert model.teacher_steps == 2


def test_teacher_frozen_not_optimised_and_without_dropout():
    model = tiny_dacs()
    model.train()
    assert not any(p.requires_grad for p in model.teacher.parameters())
    stochastic_t = [m for m in model.teacher.modules() if is_stochastic_layer(m)]
    stochastic_s = [m for m in model.student.modules() if is_stochastic_layer(m)]
    assert stochastic_t and len(stochastic_t) == len(stochastic_s)  # DropPath + Dropout exist
    assert not any(m.training for m in stochastic_t)
    assert all(m.training for m in stochastic_s)
    assert model.teacher.module.training  # BN etc. stay in train mode like the reference
    model.eval()
    model.train()
    assert not any(m.training for m in stochastic_t)

    wrapper = build_optim_wrapper(model, copy.deepcopy(tiny_cfg().optim_wrapper))
    optimised = {id(p) for g in wrapper.optimizer.param_groups for p in g["params"]}
    assert not optimised & {id(p) for p in model.teacher.parameters()}
    assert {id(p) for p in model.student.parameters()} <= optimised

    inputs, samples = paired_batch()
    losses = model.loss(inputs, samples)
    loss, _ = model.parse_losses(losses)
    teacher_after_ema = params(model.teacher.module)
    student_before = params(model.student)
    wrapper.update_params(loss)
    assert all(p.grad is None for p in model.teacher.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(params(model.student), student_before))
    for got, want in zip(model.teacher.module.parameters(), teacher_after_ema):
        assert torch.equal(got, want)  # the optimizer step never touches the teacher


def test_source_only_has_no_target_losses_and_no_teacher():
    model = tiny_dacs(source_only=True)
    model.train()
    inputs, samples = paired_batch()
    losses = model.loss(inputs, samples)
    assert model.teacher is None
    assert set(losses) == {"src.decode.loss_ce", "src.decode.acc_seg"}
    with pytest.raises(ValueError, match="no teacher"):
        tiny_dacs(source_only=True, eval_model="teacher")


def test_batched_student_equals_two_passes():
    """In eval mode only: in train mode BN statistics are per pass, so the two differ
    (test_reference_exact.py checks that difference and the reference's pass split)."""
    batched = tiny_dacs(batched_student=True)
    separate = copy.deepcopy(batched)
    separate.batched_student = False
    inputs, samples = paired_batch()
    out = []
    for model in (batched, separate):
        model.eval()  # BN statistics and dropout must not depend on the batch split
        torch.manual_seed(3)
        out.append(model.loss(copy.deepcopy(inputs), copy.deepcopy(samples)))
    assert set(out[0]) == set(out[1])
    for key in out[0]:
        torch.testing.assert_close(out[0][key], out[1][key], msg=key)


def test_pseudo_weights_zero_on_padding_and_border_and_hidden_iou():
    model = tiny_dacs(pseudo_weight="soft", crop_border_margin=(2, 0, 0, 0))
    model.train()
    inputs, samples = paired_batch(target_labels=True, pad_target=5)
    model.update_teacher()
    label, weight, stats = model.pseudo_label(inputs["target"], samples["target"])
    assert label.shape == weight.shape == (2, SIZE, SIZE)
    assert (weight[:, :, -5:] == 0).all() and (weight[:, :2] == 0).all()
    assert (weight[:, 2:, :-5] > 0).all()
    assert 0 <= float(stats["pseudo.hidden_defect_iou"]) <= 1


def test_pseudo_class_weight_scales_pseudo_labels_but_not_pasted_source_pixels():
    inputs, samples = paired_batch()
    out = {}
    for factors in (None, (1.0, 0.0)):
        model = tiny_dacs(pseudo_weight="soft", pseudo_class_weight=factors)
        model.train()
        torch.manual_seed(5)
        model.loss(inputs, samples)
        out[factors] = model.debug_outputs
    plain, scaled = out[None], out[(1.0, 0.0)]
    assert torch.equal(plain["pseudo_label"], scaled["pseudo_label"])
    defect = plain["pseudo_label"] == 1
    assert defect.any() and (scaled["pseudo_weight"][defect] == 0).all()
    torch.testing.assert_close(scaled["pseudo_weight"][~defect], plain["pseudo_weight"][~defect])
    pasted = scaled["mixed_label"] != scaled["pseudo_label"]
    assert pasted.any() and (scaled["mixed_weight"][pasted] == 1).all()


def test_predict_with_student_or_teacher_and_bad_batches():
    model = tiny_dacs(eval_model="teacher")
    model.train()
    inputs, samples = paired_batch()
    model.loss(inputs, samples)
    with torch.no_grad():
        for p in model.student.parameters():
            p.add_(1.0)
    model.eval()
    img = torch.randn(1, 3, SIZE, SIZE)
    meta = dict(img_shape=(SIZE, SIZE), ori_shape=(SIZE, SIZE), padding_size=[0, 0, 0, 0])
    sample = SegDataSample(metainfo=meta)
    with torch.no_grad():
        by_teacher = model.predict(img, [copy.deepcopy(sample)])[0].seg_logits.data
        model.eval_model = "student"
        by_student = model.predict(img, [copy.deepcopy(sample)])[0].seg_logits.data
        direct = model.student.predict(img, [copy.deepcopy(sample)])[0].seg_logits.data
    assert torch.equal(by_student, direct) and not torch.equal(by_teacher, by_student)
    with pytest.raises(TypeError, match="paired batches"):
        model.loss(img, [sample])
    with pytest.raises(ValueError, match="eval_model"):
        tiny_dacs(eval_model="ema")


def test_rejects_plain_preprocessor_and_segmentor_without_contract():
    cfg = tiny_cfg()
    bad = copy.deepcopy(cfg.model)
    bad.data_preprocessor.type = "SegDataPreProcessor"
    with pytest.raises(TypeError, match="UDASegDataPreProcessor"):
        MODELS.build(bad)
    derived = copy.deepcopy(cfg.model)
    derived.pop("data_preprocessor")
    derived.segmentor.data_preprocessor.size = (SIZE, SIZE)
    model = MODELS.build(derived)  # derived from the segmentor's preprocessor
    assert type(model.data_preprocessor).__name__ == "UDASegDataPreProcessor"
    assert model.data_preprocessor.size == (SIZE, SIZE)
    plain = copy.deepcopy(cfg.model)
    plain.segmentor.type = "EncoderDecoder"
    with pytest.raises(TypeError, match="weighted_loss"):
        MODELS.build(plain)


def test_prediction_api_uses_the_eval_model_of_a_dacs_model():
    from mmseg_uda.apis import inference_outputs, predict_image

    model = tiny_dacs(eval_model="teacher")
    model.train()
    model.loss(*paired_batch())
    with torch.no_grad():
        for p in model.student.parameters():
            p.add_(1.0)
    model.eval()
    assert model.inference_model() is model.teacher.module
    inputs = torch.randn(1, 3, SIZE, SIZE)
    with torch.no_grad():
        expected = model.teacher.module.inference_logits(inputs)
    assert torch.allclose(inference_outputs(model, inputs)["logits"], expected)
    model.eval_model = "student"
    assert model.inference_model() is model.student
    model.dataset_meta = dict(classes=("background", "crack"), palette=[[0, 0, 0], [255, 0, 0]])
    img = (torch.rand(SIZE, SIZE, 3) * 255).to(torch.uint8).numpy()
    result = predict_image(model, img)
    assert result["mask"].shape == (SIZE, SIZE) and result["verdict"] in ("OK", "defect")
