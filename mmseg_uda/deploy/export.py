"""Export a trained model to ONNX and check it against PyTorch (``tools/export_onnx.py``).

Needs torch, MMSeg and the ``onnx`` package (the training machine); the exported file then runs
with :mod:`mmseg_uda.deploy.runtime` alone. Not imported by :mod:`mmseg_uda.deploy`.

**What is in the graph.** The model's whole test-time inference on one normalised image, as
:func:`mmseg_uda.apis.inference_outputs` runs it, followed by the softmax: for a plain SegFormer
the encoder-decoder and the resize to the input size; for HRDA the context pass, the sliding
detail windows, the scale-attention fusion and (``test_cfg.mode='slide'``) the outer sliding
window.

**Fixed or dynamic size.** By default the graph is traced for one ``input_size``. With
``dynamic=True`` (``--dynamic``) batch, height and width are free: the trace runs with every
``nn.MultiheadAttention`` (the MiT encoder's efficient attention) switched to
:func:`traceable_attention`, the same arithmetic with its sizes read from the tensors (torch's
own function bakes the key length into a reshape when traced); the PyTorch model itself is not
changed. HRDA and ``test_cfg.mode='slide'`` models stay fixed-size (:func:`fixed_size_reason`:
the tracer unrolls their window loops for the export size): export them at their
``test_cfg.crop_size`` and the runner slides that window over larger images with the model's
``test_cfg.stride`` (:mod:`mmseg_uda.deploy.views`), as the model's own slide mode does.
Outside the graph, in numpy: BGR -> RGB and ``(x - mean) / std`` (constants in the metadata),
and everything after the probabilities (mask, regions, verdict).

**Exporter.** torch's TorchScript exporter (``torch.onnx.export(..., dynamo=False)``): the
models are traced once; the dynamo exporter (torch's default) needs ``onnxscript`` and gains
nothing here. Opset :data:`OPSET`.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import os.path as osp
import tempfile
import warnings
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

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

# Dynamic axes of the input and every output: (N, C, H, W).
DYNAMIC_AXES = {0: "batch", 2: "height", 3: "width"}


class ExportError(ValueError):
    """A model / setting that cannot be exported; the message names what is wrong."""


def _traceable_attention_forward(mha: nn.MultiheadAttention):
    """``mha.forward`` for inference with every size taken from the tensors.

    The arithmetic of :func:`torch.nn.functional.multi_head_attention_forward` on its
    ``need_weights`` path (the one MMCV's attention takes): in-projection, ``q * sqrt(1 / d)``,
    ``bmm``, softmax, ``bmm``, out-projection. torch's own function bakes the key length into a
    reshape when traced (``Tensor.unflatten`` of the packed projection), so a graph traced at one
    size fails at another. Attention weights are not returned (None); masks, ``bias_k`` /
    ``bias_v``, ``add_zero_attn`` and separate projection weights are refused.
    """
    unsupported = [name for name, bad in (
        ("separate q/k/v projection weights", not mha._qkv_same_embed_dim),
        ("bias_k / bias_v", mha.bias_k is not None or mha.bias_v is not None),
        ("add_zero_attn", mha.add_zero_attn)) if bad]
    if unsupported:
        raise ExportError(f"--dynamic: nn.MultiheadAttention with {', '.join(unsupported)} is "
                          "not supported")
    embed_dim, num_heads = mha.embed_dim, mha.num_heads
    head_dim = embed_dim // num_heads
    scale = math.sqrt(1.0 / float(head_dim))

    def forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        if key_padding_mask is not None or attn_mask is not None or is_causal:
            raise ExportError("--dynamic: attention masks are not supported in the export")
        if mha.batch_first:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        w_q, w_k, w_v = mha.in_proj_weight.chunk(3)
        b_q, b_k, b_v = (None,) * 3 if mha.in_proj_bias is None else mha.in_proj_bias.chunk(3)

        def heads(x, w, b):  # (L, N, E) -> (N * heads, L, head_dim)
            return F.linear(x, w, b).reshape(x.shape[0], -1, head_dim).transpose(0, 1)

        q, k, v = heads(query, w_q, b_q), heads(key, w_k, b_k), heads(value, w_v, b_v)
        weights = torch.bmm(q * scale, k.transpose(-2, -1)).softmax(dim=-1)
        out = torch.bmm(weights, v).transpose(0, 1).reshape(-1, embed_dim)
        out = F.linear(out, mha.out_proj.weight, mha.out_proj.bias)
        out = out.reshape(query.shape[0], -1, embed_dim)
        return (out.transpose(0, 1) if mha.batch_first else out), None

    return forward


@contextlib.contextmanager
def traceable_attention(model: nn.Module):
    """Within the block every ``nn.MultiheadAttention`` of ``model`` runs
    :func:`_traceable_attention_forward` (the same weights and arithmetic); restored after."""
    patched = [m for m in model.modules() if isinstance(m, nn.MultiheadAttention)]
    forwards = [_traceable_attention_forward(m) for m in patched]  # (may refuse one)
    before = [m.__dict__.get("forward") for m in patched]  # an instance's own forward, if any
    for mha, forward in zip(patched, forwards):
        mha.forward = forward
    try:
        yield len(patched)
    finally:
        for mha, forward in zip(patched, before):
            if forward is None:
                del mha.forward
            else:
                mha.forward = forward


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
    if slide_setting(model):
        return "test_cfg.mode='slide' unrolls its sliding windows for the export size"
    return None


def slide_setting(model: nn.Module) -> Optional[dict]:
    """``dict(crop_size=[h, w], stride=[sh, sw])`` of a model tested with a sliding window
    (``test_cfg.mode='slide'``), else None."""
    cfg = getattr(_segmentor(model), "test_cfg", None) or {}
    if cfg.get("mode", "whole") != "slide":
        return None
    return dict(crop_size=[int(v) for v in cfg["crop_size"]],
                stride=[int(v) for v in cfg["stride"]])


def dynamic_refusal(model: nn.Module) -> Optional[str]:
    """The error for ``--dynamic`` on a fixed-size model, naming the way to export it instead
    (None when the model exports with any size)."""
    reason = fixed_size_reason(model)
    if reason is None:
        return None
    slide = slide_setting(model)
    if slide:
        (h, w), (sh, sw) = slide["crop_size"], slide["stride"]
        return (f"--dynamic is not supported for this model: {reason}; export it with "
                f"--input-size {h} {w} (its test_cfg.crop_size): the runner slides that window "
                f"over larger images with the model's stride {sh}x{sw}, as its own slide mode "
                "does")
    return (f"--dynamic is not supported for this model: {reason}; export it with --input-size "
            "H W (the size of the line images; the runner tiles larger images)")


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
        input_size (tuple[int, int]): (H, W): the graph's fixed input size, or with
            ``dynamic`` the size it is traced at.
        dynamic (bool): batch, height and width free (``metadata input_size`` null); for
            models without window loops (:func:`fixed_size_reason`). Default: False.
        thresholds (Thresholds, optional): verdict thresholds stored in the metadata.
            Default: ``Thresholds()``.
        extra_meta (dict, optional): more metadata entries (config, checkpoint). Default: None.

    Returns:
        dict: the metadata written.

    Raises:
        ExportError: a model that does not run at ``input_size``, or ``dynamic`` for a model
            that can only be exported with a fixed size (the message names the alternative).
    """
    import onnx

    h, w = check_input_size(input_size)
    reason = fixed_size_reason(model)
    if dynamic and reason:
        raise ExportError(dynamic_refusal(model))
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
    slide = slide_setting(model)
    meta = dict(format_version=FORMAT_VERSION, **preprocessing_constants(model),
                classes=classes, palette=[list(map(int, c)) for c in
                                          model.dataset_meta["palette"]],
                pixel_threshold=thresholds.pixel_threshold, min_area=thresholds.min_area,
                thresholds_source=thresholds.source,
                input_size=None if dynamic else [h, w], traced_size=[h, w],
                # the runner's default tile step for a model exported at its slide window
                tile_stride=slide["stride"] if slide and slide["crop_size"] == [h, w] else None,
                outputs=outputs, model_type=type(_segmentor(model)).__name__,
                fixed_size_reason=reason,
                exporter="torch.onnx (TorchScript tracer" +
                         (", traceable attention)" if dynamic else ")"),
                opset=OPSET, torch_version=torch.__version__, **(extra_meta or {}))
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    axes = dict.fromkeys([INPUT_NAME] + outputs, DYNAMIC_AXES) if dynamic else None
    with warnings.catch_warnings(), \
            (traceable_attention(model) if dynamic else contextlib.nullcontext()):
        # tracer warnings about Python values: a fixed graph is one size; a dynamic one is
        # checked at two sizes by the parity check
        warnings.simplefilter("ignore")
        torch.onnx.export(graph, (dummy,), out_file, input_names=[INPUT_NAME],
                          output_names=outputs, opset_version=OPSET, dynamic_axes=axes,
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
        images (Sequence[np.ndarray]): (H, W, 3) uint8 BGR images of the model's input size
            (any size for a dynamic model).
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


def second_parity_size(size: Sequence[int]) -> Tuple[int, int]:
    """An odd (H, W) other than ``size`` for the parity check of a dynamic export
    (3/4 of the height, 5/4 of the width, made odd, at least 33)."""
    h, w = (int(v) for v in size)
    return max((h * 3 // 4) | 1, 33), max((w * 5 // 4) | 1, 33)


def export_with_parity(model: nn.Module, out_file: str, input_size: Tuple[int, int],
                       images: Sequence[np.ndarray], dynamic: bool = False,
                       thresholds: Optional[Thresholds] = None,
                       extra_meta: Optional[dict] = None,
                       max_prob_diff: float = DEFAULT_MAX_PROB_DIFF,
                       min_mask_agreement: float = DEFAULT_MIN_MASK_AGREEMENT) -> dict:
    """Export to a temporary file, check parity, and only then write ``out_file``.

    The parity figures and tolerances are added to the metadata of the written model. A
    ``dynamic`` export is checked on the images as given and on each resized to a second, odd
    size (:func:`second_parity_size`), so that a graph that still holds a size of the trace
    fails here.

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
        if dynamic:
            images = list(images) + [
                cv2.resize(img, second_parity_size(img.shape[:2])[::-1],
                           interpolation=cv2.INTER_LINEAR) for img in images]
        figures = parity_check(model, tmp, images, thresholds)
        figures["sizes"] = sorted({f"{img.shape[0]}x{img.shape[1]}" for img in images})
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
