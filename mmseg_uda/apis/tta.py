"""Test-time augmentation (TTA): flips and rescales, softmax probabilities averaged.

Two entry points, one rule (the mean of the views' probabilities, each view un-flipped and
resized back to the image):

* :func:`tta_outputs` for the prediction API (``tools/predict.py --tta``);
* :func:`tta_config` for the Runner (``tools/test.py --tta``): MMSeg's ``TestTimeAug`` in the
  test pipeline and :class:`~mmseg_uda.models.segmentors.DefectTTAModel` around the model, unless
  the config brings its own ``tta_model`` / ``tta_pipeline``.

.. code-block:: bash

    python tools/test.py CONFIG CKPT --tta              # horizontal flip, scale 1
    python tools/predict.py CONFIG CKPT IMAGES --out DIR --tta 0.75 1 1.25
"""

from __future__ import annotations

import copy
from typing import Dict, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

# the flips and the settings' check are shared with the ONNX runner (numpy only)
from ..deploy.views import DEFAULT_FLIPS, FLIP_AXES, FLIPS, tta_settings  # noqa: F401


@torch.no_grad()
def tta_outputs(model: nn.Module, inputs: torch.Tensor,
                flips: Sequence[str] = DEFAULT_FLIPS,
                scales: Sequence[float] = (1.0,)) -> Dict[str, torch.Tensor]:
    """Averaged outputs of the flipped / rescaled views of normalised inputs.

    Every view is predicted with :func:`~mmseg_uda.apis.inference_outputs` (the model's own
    test mode), flipped back and resized to the input size; the softmax probabilities are
    averaged, and attention maps (if any) too.

    Args:
        model (nn.Module): a segmentor following :mod:`mmseg_uda.apis.inference`'s protocol.
        inputs (torch.Tensor): (N, 3, H, W) normalised images.
        flips (Sequence[str]): flips of every scale. Default: ``('none', 'horizontal')``.
        scales (Sequence[float]): resize factors. Default: ``(1.0,)``.

    Returns:
        dict[str, torch.Tensor]: ``'logits'`` (N, C, H, W): the log of the averaged
        probabilities (so that a softmax of them gives the average back), and optionally
        ``'attention'`` (N, A, H, W): the averaged attention.
    """
    from .inference import inference_outputs  # (inference imports this module)

    settings = tta_settings(scales, flips)
    size = tuple(inputs.shape[-2:])
    prob_sum, att_sum, num = None, None, 0
    for scale in settings["scales"]:
        scaled = inputs if scale == 1.0 else F.interpolate(
            inputs, scale_factor=scale, mode="bilinear", align_corners=False)
        for flip in settings["flips"]:
            dims = FLIP_AXES[flip]
            view = torch.flip(scaled, dims) if dims else scaled
            out = inference_outputs(model, view)
            logits, att = out["logits"].float(), out.get("attention")
            if dims:
                logits = torch.flip(logits, dims)
                att = None if att is None else torch.flip(att, dims)
            if tuple(logits.shape[-2:]) != size:
                logits = F.interpolate(logits, size=size, mode="bilinear", align_corners=False)
                if att is not None:
                    att = F.interpolate(att.float(), size=size, mode="bilinear",
                                        align_corners=False)
            probs = logits.softmax(dim=1)
            prob_sum = probs if prob_sum is None else prob_sum + probs
            if att is not None:
                att_sum = att.float() if att_sum is None else att_sum + att.float()
            num += 1
    out = dict(logits=(prob_sum / num).clamp_min(1e-12).log())
    if att_sum is not None:
        out["attention"] = att_sum / num
    return out


def tta_config(cfg, scales: Optional[Sequence[float]] = None) -> None:
    """Switch a config to test-time augmentation for ``tools/test.py --tta`` (in place).

    A config without ``tta_model`` gets ``DefectTTAModel``; one without ``tta_pipeline`` gets
    its test pipeline's loading step followed by MMSeg's ``TestTimeAug`` over ``Resize``
    (``scale_factor`` per scale, aspect kept) x ``RandomFlip`` (none, horizontal) x the
    annotation loading and packing steps of the test pipeline. The model and the test
    dataloader's pipeline are then replaced (MMSeg's ``--tta`` convention).

    Args:
        cfg (Config): the loaded config.
        scales (Sequence[float], optional): TTA scales when the config has no
            ``tta_pipeline``. Default: None (``(1.0,)``).

    Raises:
        ValueError: a test pipeline without ``LoadImageFromFile`` first, or a bad scale.
    """
    settings = tta_settings(scales)
    if not cfg.get("tta_pipeline"):
        pipeline = list(cfg.test_dataloader.dataset.pipeline)
        if not pipeline or pipeline[0].get("type") != "LoadImageFromFile":
            raise ValueError("--tta: the test pipeline must start with LoadImageFromFile to "
                             f"build a TTA pipeline, got {pipeline[:1]}; or set tta_pipeline")
        rest = [copy.deepcopy(t) for t in pipeline[1:]]
        resizes = [t for t in rest if "Resize" in str(t.get("type"))]
        if resizes:
            raise ValueError(f"--tta: the test pipeline already resizes ({resizes[0]}); set "
                             "tta_pipeline in the config")
        cfg.tta_pipeline = [
            copy.deepcopy(pipeline[0]),
            dict(type="TestTimeAug", transforms=[
                [dict(type="Resize", scale_factor=s, keep_ratio=True)
                 for s in settings["scales"]],
                [dict(type="RandomFlip", prob=0.0, direction="horizontal"),
                 dict(type="RandomFlip", prob=1.0, direction="horizontal")],
                *[[t] for t in rest]]),
        ]
    if not cfg.get("tta_model"):
        cfg.tta_model = dict(type="DefectTTAModel")
    # The Runner gives a model dict without a data_preprocessor the config's top-level one, and
    # BaseTTAModel passes it on to the wrapped model, replacing the model's own (a DACS model
    # needs its UDASegDataPreProcessor): hand the model's own on explicitly.
    cfg.tta_model.setdefault("data_preprocessor", cfg.model.get("data_preprocessor"))
    cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
    cfg.tta_model.module = cfg.model
    cfg.model = cfg.tta_model
