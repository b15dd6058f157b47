"""Adaptation methods inside DACS: MIC, feature alignment, ImageNet feature distance (tiny MiT)."""

import copy
import functools
from pathlib import Path

import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.optim import build_optim_wrapper
from mmseg.registry import MODELS
from test_uda.test_dacs import paired_batch
from test_uda.uda_testing import DACS_CPU, REPO, tiny_options

from mmseg_uda.models.adaptation import DANNAlignment, block_mask
from mmseg_uda.utils import load_config

SIZE = 32
HRDA_CPU = f"{REPO}/configs/hrda_cracks_cpu.py"
HRDA_SIZE = 64  # the tiny HRDA needs a 32 px context (0.5 x 64) and 32 px detail crops
TINY_HRDA = {
    "model.segmentor.decode_head.decoder.in_channels": [8, 16, 40, 64],
    "model.segmentor.decode_head.decoder.channels": 16,
    "model.segmentor.decode_head.attention_decoder.in_channels": [8, 16, 40, 64],
    "model.segmentor.decode_head.attention_decoder.channels": 16,
    "model.segmentor.detail_crop_size": (32, 32),
    "model.segmentor.detail_stride": (16, 16),
    "model.segmentor.test_cfg.crop_size": (HRDA_SIZE, HRDA_SIZE),
    "model.segmentor.test_cfg.stride": (32, 32),
}
ALIGNMENTS = {
    "DANNAlignment": dict(type="DANNAlignment", in_channels=64, hidden_channels=16),
    "CORALAlignment": dict(type="CORALAlignment"),
    "MMDAlignment": dict(type="MMDAlignment", max_samples=64),
}


@functools.lru_cache(maxsize=2)
def tiny_cfg(config=DACS_CPU):
    hrda = config == HRDA_CPU
    opts = tiny_options(crop=HRDA_SIZE if hrda else SIZE, config=config,
                        extra=dict(TINY_HRDA) if hrda else {})
    if config == HRDA_CPU:  # the DACS-config keys of the tiny MiT do not apply to HRDA
        for key in ("model.segmentor.decode_head.in_channels",
                    "model.segmentor.decode_head.channels"):
            opts.pop(key)
    return load_config(config, opts)


def build(config=DACS_CPU, init=True, **overrides):
    cfg = copy.deepcopy(tiny_cfg(config))
    model_cfg = cfg.model
    for key, value in overrides.items():
        if isinstance(value, dict) and key == "segmentor":
            model_cfg.segmentor.update(value)
        else:
            model_cfg[key] = value
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    if init:
        model.init_weights()
    model.train()
    return model, cfg


def hrda_batch(b=2, seed=0):
    """A paired batch of HRDA_SIZE crops (source labels: a stripe of class 1)."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    g = torch.Generator().manual_seed(seed)
    inputs = dict(source=torch.randn(b, 3, HRDA_SIZE, HRDA_SIZE, generator=g),
                  target=torch.randn(b, 3, HRDA_SIZE, HRDA_SIZE, generator=g))
    samples = dict(source=[], target=[])
    for i in range(b):
        s = SegDataSample()
        label = torch.zeros(1, HRDA_SIZE, HRDA_SIZE, dtype=torch.long)
        label[0, 8 * i:8 * i + 6] = 1
        s.gt_sem_seg = PixelData(data=label)
        s.set_metainfo(dict(img_shape=(HRDA_SIZE, HRDA_SIZE)))
        t = SegDataSample()
        t.set_metainfo(dict(img_shape=(HRDA_SIZE, HRDA_SIZE)))
        samples["source"].append(s)
        samples["target"].append(t)
    return inputs, samples


def total(losses):
    return sum(v for k, v in losses.items() if "loss" in k)


# ---------------------------------------------------------------------------------- MIC
@pytest.mark.parametrize("batched", [True, False])
def test_mic_adds_masked_target_losses_with_gradients(batched):
    model, _ = build(mic=dict(block_size=8, mask_ratio=0.5), batched_student=batched)
    inputs, samples = paired_batch()
    losses = model.loss(inputs, samples)
    assert {"mic.decode.loss_ce", "mic.decode.acc_seg", "mic.masked_fraction",
            "src.decode.loss_ce", "mix.decode.loss_ce"} <= set(losses)
    assert 0.0 < float(losses["mic.masked_fraction"]) < 1.0
    assert model.debug_outputs["mic_masked"].shape == (2, 3, SIZE, SIZE)
    # the MIC term reaches the student (pseudo weight > 0 with tau = 0)
    model2, _ = build(mic=dict(block_size=8, mask_ratio=0.5), pseudo_threshold=0.0,
                      batched_student=batched)
    losses = model2.loss(inputs, samples)
    losses["mic.decode.loss_ce"].backward()
    grads = [p.grad for p in model2.student.backbone.parameters() if p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads)
    assert all(p.grad is None for p in model2.teacher.parameters())


def test_mic_mask_ratio_and_loss_weight():
    keep = block_mask(64, 64, 64, block_size=8, mask_ratio=0.7,
                      generator=torch.Generator().manual_seed(0))
    assert abs((1 - keep.mean().item()) - 0.7) < 0.03
    model, _ = build(mic=dict(block_size=8, mask_ratio=0.7, color_aug=False))
    masked, keep = model.mask_target(torch.ones(2, 3, SIZE, SIZE))
    assert torch.equal(masked, keep.expand_as(masked))  # masked pixels are 0, others kept
    # loss_weight scales the MIC losses only
    inputs, samples = paired_batch()
    weighted, _ = build(mic=dict(block_size=8, loss_weight=0.0), pseudo_threshold=0.0)
    losses = weighted.loss(inputs, samples)
    assert float(losses["mic.decode.loss_ce"]) == 0.0 and float(losses["mic.decode.acc_seg"]) > 0


def test_mic_options_are_checked():
    with pytest.raises(ValueError, match="unknown option"):
        build(init=False, mic=dict(block=8))
    with pytest.raises(ValueError, match="mask_ratio"):
        build(init=False, mic=dict(mask_ratio=1.5))
    with pytest.raises(ValueError, match="source_only"):
        build(init=False, mic=dict(), source_only=True)


def test_mic_with_the_hrda_student():
    model, _ = build(HRDA_CPU, mic=dict(block_size=8, mask_ratio=0.7), pseudo_threshold=0.0)
    inputs, samples = hrda_batch()
    losses = model.loss(inputs, samples)
    assert {"mic.decode.loss_ce", "mic.detail.loss_ce", "src.decode.loss_ce",
            "mix.detail.loss_ce"} <= set(losses)
    total(losses).backward()
    assert all(torch.isfinite(v).all() for v in losses.values())


# ---------------------------------------------------------------------------- alignment
@pytest.mark.parametrize("name", sorted(ALIGNMENTS))
def test_alignment_losses_and_optimizer(name):
    model, cfg = build(alignment=ALIGNMENTS[name], max_iters=10)
    inputs, samples = paired_batch()
    losses = model.loss(inputs, samples)
    key = {"DANNAlignment": "align.loss_dann", "CORALAlignment": "align.loss_coral",
           "MMDAlignment": "align.loss_mmd"}[name]
    assert key in losses and torch.isfinite(losses[key])
    assert int(model.align_iter) == 1 and "align_iter" in model.state_dict()
    total(losses).backward()
    # the alignment loss reaches the student's backbone
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in model.student.backbone.parameters())
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    in_optim = {id(p) for g in optim.optimizer.param_groups for p in g["params"]}
    assert not any(id(p) in in_optim for p in model.teacher.parameters())
    if name == "DANNAlignment":
        assert isinstance(model.alignment, DANNAlignment)
        disc = list(model.alignment.discriminator.parameters())
        assert all(id(p) in in_optim for p in disc)
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in disc)
        assert {"align.dann_disc_acc", "align.dann_coeff"} <= set(losses)


def test_dann_in_channels_mismatch_is_named():
    model, _ = build(alignment=dict(ALIGNMENTS["DANNAlignment"], in_channels=256), max_iters=4)
    with pytest.raises(ValueError, match="model.alignment.in_channels=64"):
        model.loss(*paired_batch())


def test_dann_progress_from_own_count_or_message_hub():
    model, _ = build(alignment=ALIGNMENTS["DANNAlignment"], max_iters=4)
    inputs, samples = paired_batch()
    coeffs = [float(model.loss(inputs, samples)["align.dann_coeff"]) for _ in range(3)]
    assert coeffs[0] == 0.0 and coeffs[0] < coeffs[1] < coeffs[2] <= 1.0
    state = model.state_dict()
    resumed, _ = build(alignment=ALIGNMENTS["DANNAlignment"], max_iters=4)
    resumed.load_state_dict(state)
    assert int(resumed.align_iter) == 3
    # without max_iters: the Runner's message hub (restored on resume)
    hub_model, _ = build(alignment=ALIGNMENTS["DANNAlignment"])
    hub = MessageHub.get_current_instance()
    old = {k: hub.get_info(k) for k in ("iter", "max_iters")}
    try:
        hub.update_info("iter", 5)
        hub.update_info("max_iters", 10)
        coeff = float(hub_model.loss(inputs, samples)["align.dann_coeff"])
        assert coeff == pytest.approx(2 / (1 + torch.exp(torch.tensor(-5.0)).item()) - 1)
        hub.update_info("max_iters", None)
        with pytest.raises(ValueError, match="max_iters"):
            hub_model.loss(inputs, samples)
    finally:
        for k, v in old.items():
            hub.update_info(k, v)


def test_alignment_with_source_only_and_hrda():
    model, _ = build(alignment=ALIGNMENTS["CORALAlignment"], source_only=True)
    losses = model.loss(*paired_batch())
    assert set(losses) >= {"src.decode.loss_ce", "align.loss_coral"}
    model, _ = build(HRDA_CPU, alignment=ALIGNMENTS["MMDAlignment"])
    losses = model.loss(*hrda_batch())
    assert "align.loss_mmd" in losses and "mix.detail.loss_ce" in losses


# ------------------------------------------------------------------ ImageNet feature distance
def fake_pretrained(tmp_path, seed=7):
    """A tiny MiT state dict (mmseg layout) as the 'ImageNet' checkpoint."""
    model, _ = build(init=False)
    torch.manual_seed(seed)
    backbone = copy.deepcopy(model.student.backbone)
    for p in backbone.parameters():
        torch.nn.init.normal_(p, std=0.02)
    path = tmp_path / "mit_tiny.pth"
    torch.save({"state_dict": backbone.state_dict()}, path)
    return str(path), backbone.state_dict()


def test_feature_distance_needs_pretrained_weights():
    with pytest.raises(ValueError, match="model.segmentor.backbone.init_cfg"):
        build(init=False, imnet_feature_dist=dict())


def test_feature_distance_with_a_pretrained_checkpoint(tmp_path):
    path, weights = fake_pretrained(tmp_path)
    # no DropPath: the student (train mode) and the frozen copy (eval mode) agree at first
    seg = dict(backbone=dict(tiny_cfg().model.segmentor.backbone, drop_path_rate=0.0,
                             init_cfg=dict(type="MiTPretrained", checkpoint=path)))
    fd = dict(loss_weight=0.5, classes=(1,), scale_min_ratio=0.0)
    with pytest.raises(RuntimeError, match="init_weights"):
        build(init=False, segmentor=seg, imnet_feature_dist=fd)[0].loss(*paired_batch())
    model, cfg = build(segmentor=seg, imnet_feature_dist=fd)
    frozen = model._imnet_backbone[0]
    for k, v in frozen.state_dict().items():
        assert torch.equal(v, weights[k]), k
    # not a submodule: not saved, not optimised
    assert not any(k.startswith("_imnet") for k in model.state_dict())
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    in_optim = {id(p) for g in optim.optimizer.param_groups for p in g["params"]}
    assert not any(id(p) in in_optim or p.requires_grad for p in frozen.parameters())
    # identical weights at the start: distance 0 (only class-1 pixels selected)
    losses = model.loss(*paired_batch())
    assert float(losses["fdist.loss_imnet_feat_dist"]) == pytest.approx(0.0, abs=1e-5)
    # after the student moves, a positive distance with gradients into the student only
    with torch.no_grad():
        for p in model.student.backbone.parameters():
            p.add_(0.05 * torch.randn_like(p))
    losses = model.loss(*paired_batch())
    assert float(losses["fdist.loss_imnet_feat_dist"]) > 0
    losses["fdist.loss_imnet_feat_dist"].backward()
    assert any(p.grad is not None for p in model.student.backbone.parameters())
    assert all(p.grad is None for p in frozen.parameters())
    # a resumed run: init_weights (pretrained) then the checkpoint -> frozen stays pretrained
    state = model.state_dict()
    resumed, _ = build(segmentor=seg, imnet_feature_dist=fd)
    resumed.load_state_dict(state)
    for k, v in resumed._imnet_backbone[0].state_dict().items():
        assert torch.equal(v, weights[k]), k


# ------------------------------------------------------------------------- with the Runner
@pytest.mark.slow
def test_dann_config_trains_with_the_runner(tmp_path, monkeypatch):
    """tools/train.py on dann_cracks_cpu.py: the discriminator is optimised, λ follows iter."""
    import glob
    import importlib.util
    import json
    import uuid

    from test_uda.uda_testing import cli_options, write_uda_data

    data = write_uda_data(str(tmp_path / "data"))
    monkeypatch.setenv("SOURCE_ROOT", data["source"])
    monkeypatch.setenv("TARGET_ROOT", data["target"])
    config = f"{REPO}/configs/dann_cracks_cpu.py"
    name = f"dann_{uuid.uuid4().hex[:8]}"
    opts = tiny_options(iters=3, config=config, extra={
        "model.alignment.in_channels": 64, "model.alignment.hidden_channels": 16,
        "experiment_name": name, "visualizer.name": name})
    spec = importlib.util.spec_from_file_location("dann_train_tool", f"{REPO}/tools/train.py")
    train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train)
    work = str(tmp_path / "work")
    train.main([config, "--work-dir", work, "--cfg-options", *cli_options(opts)])
    scalars = glob.glob(f"{work}/*/vis_data/scalars.json")[0]
    lines = Path(scalars).read_text().splitlines()
    rows = [json.loads(line) for line in lines if "align.loss_dann" in line]
    coeffs = [r["align.dann_coeff"] for r in rows]
    assert len(coeffs) == 3 and coeffs[0] == 0.0 and coeffs[0] < coeffs[1] < coeffs[2]
    assert coeffs[1] == pytest.approx(2 / (1 + torch.exp(torch.tensor(-10 / 3)).item()) - 1,
                                      rel=1e-3)
    ckpt = torch.load(f"{work}/iter_3.pth", map_location="cpu", weights_only=False)
    disc = [k for k in ckpt["state_dict"] if k.startswith("alignment.discriminator.")]
    assert disc
    student = [k for k in ckpt["state_dict"] if k.startswith("student.")
               and "running_" not in k and "num_batches" not in k]
    n_optimised = len(ckpt["optimizer"]["state"])
    assert n_optimised == len(disc) + len(student)  # discriminator in, teacher out


@pytest.mark.slow
def test_mic_hrda_config_trains_with_the_runner(tmp_path, monkeypatch):
    """tools/train.py on mic_hrda_cracks_cpu.py (tiny): MIC losses logged, panel written."""
    import glob
    import importlib.util
    import json
    import uuid

    from test_uda.uda_testing import cli_options, write_uda_data

    data = write_uda_data(str(tmp_path / "data"))
    monkeypatch.setenv("SOURCE_ROOT", data["source"])
    monkeypatch.setenv("TARGET_ROOT", data["target"])
    config = f"{REPO}/configs/mic_hrda_cracks_cpu.py"
    name = f"mic_{uuid.uuid4().hex[:8]}"
    extra = dict(TINY_HRDA, **{"model.mic.block_size": 16, "experiment_name": name,
                               "visualizer.name": name})
    opts = tiny_options(crop=HRDA_SIZE, iters=2, config=config, extra=extra)
    for key in ("model.segmentor.decode_head.in_channels",
                "model.segmentor.decode_head.channels"):
        opts.pop(key)
    spec = importlib.util.spec_from_file_location("mic_train_tool", f"{REPO}/tools/train.py")
    train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train)
    work = str(tmp_path / "work")
    train.main([config, "--work-dir", work, "--cfg-options", *cli_options(opts)])
    scalars = glob.glob(f"{work}/*/vis_data/scalars.json")[0]
    lines = Path(scalars).read_text().splitlines()
    rows = [json.loads(line) for line in lines if "mic.decode.loss_ce" in line]
    assert len(rows) == 2
    assert all({"mic.detail.loss_ce", "mic.masked_fraction"} <= set(r) for r in rows)
    assert glob.glob(f"{work}/*/vis_data/vis_image/uda_debug_*.png")
