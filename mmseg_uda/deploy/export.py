"""Export a trained model to ONNX and check it against PyTorch (``tools/export_onnx.py``).

Needs torch, MMSeg and the ``onnx`` package (the training machine); the exported file then runs
with :mod:`mmseg_uda.deploy.runtime` alone. Not imported by :mod:`mmseg_uda.deploy`.

**What is in the graph.** The model's whole test-time inference on one normalised image, as
:func:`mmseg_uda.apis.inference_outputs` runs it, followed by the softmax: for a plain SegFormer
the encoder-decoder and the resize to the input size; for HRDA the context pass, the sliding
detail windows, the scale-attention fusion and (``test_cfg.mode='slide'``) the outer sliding
window. The TorchScript tracer unrolls the window loops for the export size and the MiT
encoder's attention reshapes are traced with constant sizes, so every model is exported for one
fixed ``input_size``; ``--dynamic`` is refused with the reason (:data:`DYNAMIC_REASON`).
Outside the graph, in numpy: BGR -> RGB and ``(x - mean) / std`` (constants in the metadata),
and everything after the probabilities (mask, regions, verdict).

**Exporter.** torch's TorchScript exporter (``torch.onnx.export(..., dynamo=False)``): the
models are traced once; the dynamo exporter (torch's default) needs ``onnxscript`` and gains
nothing here. Opset :data:`OPSET`.
"""

from __future__ import annotations

import json
import os
import os.path as osp
import tempfile
import warnings
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn

from ..apis.inference import _segmentor, attention_map, inference_outputs, predict_logits
from .postprocess import threshold_mask
from .runtime import (
    ATTENTION_NAME,
    FORMAT_VERSION,
    INPUT_NAME,
    METADATA_KEY,
    PROBS_NAME,
    OnnxSegmentor,
    normalize,
)
from .thresholds import Thresholds

OPSET = 17
# Default parity tolerances: largest |probability difference| over all pixels and classes, and
# the smallest fraction of pixels whose thresholded class agrees.
DEFAULT_MAX_PROB_DIFF = 1e-3
DEFAULT_MIN_MASK_AGREEMENT = 0.999


# Why no model of this project exports with dynamic height / width (checked with a tiny MiT:
# traced at 64x96, ONNX Runtime fails at 96x128 in a Reshape of the first attention block).
DYNAMIC_REASON = ("the MiT encoder's attention reshapes are traced with the export size as "
                  "constants, so the graph fails at any other size")


class ExportError(ValueError):
    """A model / setting that cannot be exported; the message names what is wrong."""


class ExportGraph(nn.Module):
    """What the ONNX graph computes: normalised (N, 3, H, W) -> probabilities [, attention].

    Args:
        model (nn.Module): a model from :func:`mmseg_uda.apis.init_model` (a segmentor or a
            UDA wrapper exposing one).
        num_classes (int): number of classes (for the attention reduction).
    """

    def __init__(self, model: nn.Module, num_classes: int) -> None:
        super().__init__()
        self.model = model
        self.num_classes = int(num_classes)

    def forward(self, inputs: torch.Tensor):
        out = inference_outputs(self.model, inputs)
        probs = out["logits"].float().softmax(dim=1)
        att = out.get("attention")
        if att is None:
            return probs
        if att.shape[1] == self.num_classes and self.num_classes > 1:
            att = att[:, 1:]  # the defect classes (background is class 0), as attention_map
        return probs, att.float().mean(dim=1, keepdim=True)


def preprocessing_constants(model: nn.Module) -> dict:
    """``mean``, ``std`` (RGB, 0-255) and ``bgr_to_rgb`` of the model's data preprocessor.

    Raises:
        ExportError: a preprocessor without normalisation or one that pads at test time.
    """
    dp = getattr(model, "data_preprocessor", None)
    if dp is None or not getattr(dp, "_enable_normalize", False):
        raise ExportError(f"the model's data_preprocessor ({type(dp).__name__}) does not "
                          "normalise; the export needs mean/std (SegDataPreProcessor)")
    if getattr(dp, "test_cfg", None):
        raise ExportError(f"data_preprocessor.test_cfg={dp.test_cfg} pads images at test time; "
                          "the ONNX export supports unpadded test inputs only")
    # float32 buffers: their shortest decimal form gives the config's numbers back
    return dict(mean=[float(str(np.float32(v))) for v in dp.mean.flatten().tolist()],
                std=[float(str(np.float32(v))) for v in dp.std.flatten().tolist()],
                bgr_to_rgb=bool(getattr(dp, "channel_conversion", False)))


def fixed_size_reason(model: nn.Module) -> Optional[str]:
    """Why the model can only be exported for one input size (None when any size works)."""
    seg = _segmentor(model)
    if hasattr(seg, "scale_outputs"):
        return (f"{type(seg).__name__} (HRDA) runs sliding detail windows whose number depends "
                "on the image size; the tracer unrolls them for the export size")
    mode = (getattr(seg, "test_cfg", None) or {}).get("mode", "whole")
    if mode == "slide":
        return "test_cfg.mode='slide' unrolls its sliding windows for the export size"
    return None


def check_input_size(size: Sequence[int]) -> Tuple[int, int]:
    """``(H, W)`` from ``--input-size``: two whole numbers of pixels >= 32.

    Raises:
        ExportError: naming the value.
    """
    if len(size) != 2:
        raise ExportError(f"--input-size needs 2 values (H W), got {list(size)}")
    h, w = (int(v) for v in size)
    if h < 32 or w < 32:
        raise ExportError(f"--input-size {h} {w}: both sides must be >= 32 pixels (the MiT "
                          "encoder downsamples by 32)")
    return h, w


def export_onnx(model: nn.Module, out_file: str, input_size: Tuple[int, int],
                dynamic: bool = False, thresholds: Optional[Thresholds] = None,
                extra_meta: Optional[dict] = None) -> dict:
    """Trace ``model`` and write ``out_file`` with the project's metadata.

    Args:
        model (nn.Module): a model from :func:`mmseg_uda.apis.init_model`, in eval mode.
        out_file (str): the ``.onnx`` file to write.
        input_size (tuple[int, int]): (H, W): the graph's fixed input size.
        dynamic (bool): any height / width. Not supported (raises :class:`ExportError` with
            the reason); kept for the ``--dynamic`` option. Default: False.
        thresholds (Thresholds, optional): verdict thresholds stored in the metadata.
            Default: ``Thresholds()``.
        extra_meta (dict, optional): more metadata entries (config, checkpoint). Default: None.

    Returns:
        dict: the metadata written.

    Raises:
        ExportError: a model that does not run at ``input_size``, or ``dynamic``.
    """
    import onnx

    h, w = check_input_size(input_size)
    reason = fixed_size_reason(model)
    if dynamic:
        raise ExportError(f"--dynamic is not supported: {reason or DYNAMIC_REASON}; export with "
                          "--input-size H W (the size of the line images)")
    classes = list(model.dataset_meta["classes"])
    graph = ExportGraph(model, len(classes)).eval()
    dummy = torch.zeros(1, 3, h, w)
    try:
        with torch.no_grad():
            sample = graph(dummy)
    except Exception as exc:
        raise ExportError(f"the model does not run at --input-size {h} {w}: "
                          f"{type(exc).__name__}: {exc}") from exc
    with_attention = isinstance(sample, tuple)
    outputs = [PROBS_NAME] + ([ATTENTION_NAME] if with_attention else [])
    thresholds = thresholds or Thresholds()
    meta = dict(format_version=FORMAT_VERSION, **preprocessing_constants(model),
                classes=classes, palette=[list(map(int, c)) for c in
                                          model.dataset_meta["palette"]],
                pixel_threshold=thresholds.pixel_threshold, min_area=thresholds.min_area,
                thresholds_source=thresholds.source,
                input_size=[h, w],
                outputs=outputs, model_type=type(_segmentor(model)).__name__,
                fixed_size_reason=reason, exporter="torch.onnx (TorchScript tracer)",
                opset=OPSET, torch_version=torch.__version__, **(extra_meta or {}))
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about Python ints: sizes are fixed
        torch.onnx.export(graph, (dummy,), out_file, input_names=[INPUT_NAME],
                          output_names=outputs, opset_version=OPSET,
                          do_constant_folding=True, dynamo=False)
    proto = onnx.load(out_file)
    set_metadata(proto, meta)
    onnx.save(proto, out_file)
    return meta


def set_metadata(proto, meta: dict) -> None:
    """Store ``meta`` as JSON under :data:`METADATA_KEY` in an ONNX ``ModelProto``."""
    for prop in list(proto.metadata_props):
        if prop.key == METADATA_KEY:
            proto.metadata_props.remove(prop)
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(meta)


def parity_check(model: nn.Module, onnx_file: str, images: Sequence[np.ndarray],
                 thresholds: Optional[Thresholds] = None) -> dict:
    """Compare the ONNX model in ONNX Runtime with PyTorch on real images.

    PyTorch: :func:`mmseg_uda.apis.predict_logits` (the model's data preprocessor, the model's
    own test mode). ONNX: :class:`~mmseg_uda.deploy.runtime.OnnxSegmentor` (numpy
    preprocessing from the metadata). The same pipelines as ``tools/predict.py`` and
    ``python -m mmseg_uda.deploy.predict``.

    Args:
        model (nn.Module): the PyTorch model.
        onnx_file (str): the exported file.
        images (Sequence[np.ndarray]): (H, W, 3) uint8 BGR images of the model's input size.
        thresholds (Thresholds, optional): for the masks compared. Default: the model file's.

    Returns:
        dict: ``num_images``, ``max_abs_prob_diff`` (largest |Δp| over all pixels, classes and
        images), ``mean_abs_prob_diff``, ``mask_agreement`` (fraction of pixels with the same
        thresholded class, over all images), ``max_abs_input_diff`` (numpy vs the model's
        preprocessing), ``max_abs_attention_diff`` (HRDA) and ``per_image`` maxima.
    """
    session = OnnxSegmentor(onnx_file)
    thresholds = thresholds or session.thresholds()
    per_image, agree, total, input_diff, att_diff, sum_diff, n_values = [], 0, 0, 0.0, 0.0, 0.0, 0
    from ..apis.inference import preprocess

    for img in images:
        ref = predict_logits(model, img)
        ref_probs = torch.softmax(ref["logits"], dim=1)[0].numpy()
        with torch.no_grad():
            ref_input = preprocess(model, img).cpu().numpy()
        mine = normalize(img, session.meta["mean"], session.meta["std"],
                         session.meta["bgr_to_rgb"])
        input_diff = max(input_diff, float(np.abs(ref_input - mine).max()))
        out = session.run(img)
        diff = np.abs(out["probs"] - ref_probs)
        sum_diff += float(diff.sum())
        n_values += diff.size
        mask_ref = threshold_mask(ref_probs, thresholds.pixel_threshold)
        mask_onnx = threshold_mask(out["probs"], thresholds.pixel_threshold)
        agree += int((mask_ref == mask_onnx).sum())
        total += mask_ref.size
        per_image.append(round(float(diff.max()), 8))
        if out["attention"] is not None and ref.get("attention") is not None:
            ref_att = attention_map(ref["attention"], len(session.classes))
            att_diff = max(att_diff, float(np.abs(out["attention"] - ref_att).max()))
    return dict(num_images=len(per_image), max_abs_prob_diff=max(per_image, default=0.0),
                mean_abs_prob_diff=sum_diff / max(n_values, 1),
                mask_agreement=agree / max(total, 1), max_abs_input_diff=input_diff,
                max_abs_attention_diff=att_diff, per_image=per_image)


def parity_failures(figures: dict, max_prob_diff: float = DEFAULT_MAX_PROB_DIFF,
                    min_mask_agreement: float = DEFAULT_MIN_MASK_AGREEMENT) -> List[str]:
    """The tolerances a parity result breaks (empty when it passes)."""
    failed = []  # written so that NaN figures fail too
    if not figures["max_abs_prob_diff"] <= max_prob_diff:
        failed.append(f"max |Δprob| {figures['max_abs_prob_diff']:.3g} > {max_prob_diff:g}")
    if not figures["mask_agreement"] >= min_mask_agreement:
        failed.append(f"mask agreement {figures['mask_agreement']:.6f} < {min_mask_agreement:g}")
    if not figures["max_abs_attention_diff"] <= max_prob_diff:
        failed.append(f"max |Δattention| {figures['max_abs_attention_diff']:.3g} > "
                      f"{max_prob_diff:g}")
    return failed


def export_with_parity(model: nn.Module, out_file: str, input_size: Tuple[int, int],
                       images: Sequence[np.ndarray], dynamic: bool = False,
                       thresholds: Optional[Thresholds] = None,
                       extra_meta: Optional[dict] = None,
                       max_prob_diff: float = DEFAULT_MAX_PROB_DIFF,
                       min_mask_agreement: float = DEFAULT_MIN_MASK_AGREEMENT) -> dict:
    """Export to a temporary file, check parity, and only then write ``out_file``.

    The parity figures and tolerances are added to the metadata of the written model.

    Returns:
        dict: the parity figures, with ``tolerances`` and ``failures`` (empty on success).
        When ``failures`` is not empty ``out_file`` is not written.
    """
    if not images:
        raise ExportError("the parity check needs at least one image")
    folder = osp.dirname(osp.abspath(out_file))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".onnx", dir=folder)
    os.close(fd)
    try:
        meta = export_onnx(model, tmp, input_size, dynamic=dynamic, thresholds=thresholds,
                           extra_meta=extra_meta)
        figures = parity_check(model, tmp, images, thresholds)
        figures["tolerances"] = dict(max_abs_prob_diff=max_prob_diff,
                                     min_mask_agreement=min_mask_agreement)
        figures["failures"] = parity_failures(figures, max_prob_diff, min_mask_agreement)
        if figures["failures"]:
            return figures
        import onnx

        proto = onnx.load(tmp)
        set_metadata(proto, dict(meta, parity={k: v for k, v in figures.items()
                                               if k != "per_image"}))
        onnx.save(proto, out_file)
        return figures
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
