"""Test-time augmentation: the mean of the flipped (and rescaled) views' probabilities, in the
prediction API and, through MMSeg's TestTimeAug + DefectTTAModel, in the Runner."""

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config

from helpers import CPU_CONFIG, REPO, TINY_MODEL
from mmseg_uda.apis import init_model, predict_image
from mmseg_uda.apis.tta import tta_config, tta_outputs, tta_settings

DACS_CPU = f"{REPO}/configs/dacs_cracks_cpu.py"


class _AsymmetricSegmentor(nn.Module):
    """Logits that depend on the absolute position (not flip-equivariant): a 1x1 conv of the
    input plus a fixed ramp, so that the flipped view predicts something else."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 2, 1)

    def inference_logits(self, inputs, metas=None):
        h, w = inputs.shape[-2:]
        ramp = torch.linspace(-2, 2, w).view(1, 1, 1, w) * torch.tensor([1.0, -1.0]).view(
            1, 2, 1, 1)
        return self.conv(inputs) + ramp + torch.linspace(0, 1, h).view(1, 1, h, 1)


def test_tta_is_the_mean_of_the_flipped_probabilities():
    model = _AsymmetricSegmentor()
    x = torch.randn(1, 3, 8, 12)
    out = tta_outputs(model, x, flips=("none", "horizontal", "vertical"))
    views = [model.inference_logits(x),
             model.inference_logits(x.flip(-1)).flip(-1),
             model.inference_logits(x.flip(-2)).flip(-2)]
    expected = torch.stack([v.softmax(1) for v in views]).mean(0)
    torch.testing.assert_close(out["logits"].softmax(1), expected, atol=1e-6, rtol=0)
    # not the plain prediction: the views differ, so the test can fail
    assert (views[0].softmax(1) - expected).abs().max() > 1e-2


def test_tta_multiscale_resizes_back_and_averages():
    model = _AsymmetricSegmentor()
    x = torch.randn(1, 3, 8, 12)
    out = tta_outputs(model, x, flips=("none",), scales=(1.0, 2.0))
    big = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
    back = F.interpolate(model.inference_logits(big), size=(8, 12), mode="bilinear",
                         align_corners=False)
    expected = (model.inference_logits(x).softmax(1) + back.softmax(1)) / 2
    torch.testing.assert_close(out["logits"].softmax(1), expected, atol=1e-6, rtol=0)


def test_predict_image_with_tta_uses_the_averaged_probabilities():
    torch.manual_seed(0)
    model = init_model(CPU_CONFIG, None, cfg_options=dict(TINY_MODEL))
    img = np.random.default_rng(0).integers(0, 255, (32, 48, 3), dtype=np.uint8)
    plain = predict_image(model, img)["probs"]
    flipped = predict_image(model, img[:, ::-1].copy())["probs"][:, :, ::-1]
    tta = predict_image(model, img, tta=tta_settings())["probs"]
    np.testing.assert_allclose(tta, (plain + flipped) / 2, atol=1e-5)


def test_tta_settings_and_config_errors():
    with pytest.raises(ValueError, match=r"TTA scales must be > 0, got \[0.0\]"):
        tta_settings([0.0])
    with pytest.raises(ValueError, match="TTA flips must be among"):
        tta_settings(flips=("diagonal",))
    cfg = Config(dict(model=dict(type="X"), test_dataloader=dict(dataset=dict(pipeline=[
        dict(type="LoadImageFromFile"), dict(type="LoadAnnotations"),
        dict(type="PackSegInputs")]))))
    tta_config(cfg, [0.5, 1.0])
    assert cfg.model.type == "DefectTTAModel" and cfg.model.module.type == "X"
    aug = cfg.test_dataloader.dataset.pipeline[1]
    assert aug.type == "TestTimeAug"
    assert [t.scale_factor for t in aug.transforms[0]] == [0.5, 1.0]
    assert [t.prob for t in aug.transforms[1]] == [0.0, 1.0]
    resized = Config(dict(model=dict(type="X"), test_dataloader=dict(dataset=dict(pipeline=[
        dict(type="LoadImageFromFile"), dict(type="Resize", scale=(64, 64))]))))
    with pytest.raises(ValueError, match="already resizes"):
        tta_config(resized)


def test_tta_config_keeps_a_uda_models_own_preprocessor():
    """The Runner hands the top-level data_preprocessor (mmseg's) to a model dict without one;
    the DACS model wrapped for TTA must keep its UDASegDataPreProcessor."""
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    from mmseg_uda.utils import load_config

    cfg = load_config(DACS_CPU, {"model.segmentor.backbone.embed_dims": 8,
                                 "model.segmentor.backbone.num_layers": [1, 1, 1, 1],
                                 "model.segmentor.decode_head.in_channels": [8, 16, 40, 64],
                                 "model.segmentor.decode_head.channels": 16})
    assert cfg.data_preprocessor.type == "SegDataPreProcessor"  # what the Runner would add
    tta_config(cfg)
    model_cfg = cfg.model.copy()
    model_cfg.setdefault("data_preprocessor", cfg.data_preprocessor)  # Runner.__init__
    init_default_scope("mmseg")
    model = MODELS.build(model_cfg)
    assert type(model).__name__ == "DefectTTAModel"
    assert type(model.module.data_preprocessor).__name__ == "UDASegDataPreProcessor"
