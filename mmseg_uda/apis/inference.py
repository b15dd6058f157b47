"""Load a trained model and predict defects on single images.

.. code-block:: python

    from mmseg_uda.apis import init_model, predict_image

    model = init_model('configs/segformer/segformer_mit-b0_4x1k_cracks-256_cpu.py',
                       'work_dirs/run/iter_1000.pth', device='cpu')
    result = predict_image(model, 'line/0001.jpg')        # thresholds: calibration or defaults
    result['verdict'], result['regions'][0]['bbox']        # 'defect', [x, y, w, h]

**The model protocol.** Prediction asks the segmentor for full-resolution outputs through the
first of these it has:

1. ``inference_outputs(inputs, batch_img_metas) -> dict`` with ``'logits'`` (N, C, H, W) and
   optionally ``'attention'`` (N, A, h, w), e.g. HRDA's scale attention (one channel per class
   or a single one; any resolution, it is resized to the image);
2. ``scale_outputs(inputs, with_maps=True) -> dict`` with ``'seg_logits'`` and ``'attention'``
   (the HRDA segmentor's multi-scale inference);
3. ``inference_logits(inputs, batch_img_metas)`` (:class:`WeightedEncoderDecoder`);
4. ``inference(inputs, batch_img_metas)`` (any mmseg ``EncoderDecoder``).

A UDA wrapper that is not itself a segmentor can expose the one to use with an
``inference_model()`` method. The model's own test mode (whole image or sliding window) applies
inside every call; :func:`predict_logits` can in addition tile a large image itself.
"""

from __future__ import annotations

import copy
import os.path as osp
from typing import Dict, List, Optional, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from ..compat.checkpoint import load_checkpoint_checked
from ..datasets.defect_dataset import default_palette
from ..deploy.outputs import inspect_probabilities
from ..deploy.views import tile_boxes
from ..utils import load_config
from .files import load_image
from .thresholds import Thresholds
from .tta import tta_outputs

Box = Tuple[int, int, int, int]


def init_model(config: Union[str, Config], checkpoint: Optional[str] = None,
               device: str = "cpu", cfg_options: Optional[dict] = None) -> nn.Module:
    """Build the model of a config, load a checkpoint, and put it in eval mode on ``device``.

    Args:
        config (str | Config): config file or loaded config.
        checkpoint (str, optional): checkpoint file (a Runner checkpoint of this project or a
            ``{meta, state_dict}`` weight file). Its keys must match the model exactly.
            Default: None (weights as initialised by the config).
        device (str): torch device, e.g. ``'cpu'`` or ``'cuda:0'``. Default: ``'cpu'``.
        cfg_options (dict, optional): ``{dotted.key: value}`` overrides. Default: None.

    Returns:
        nn.Module: the model, with ``cfg`` (the config) and ``dataset_meta`` (``classes``,
        ``palette``; from the checkpoint, else from the config's test dataset) attached.

    Raises:
        FileNotFoundError: missing config or checkpoint file (named in the message).
        CheckpointError: a broken checkpoint, or one whose weights do not fit the model
            of the config (teacher weights of a DACS checkpoint are ignored).
    """
    if isinstance(config, Config):
        cfg = copy.deepcopy(config)
        if cfg_options:
            cfg.merge_from_dict(cfg_options)
    else:
        cfg = load_config(str(config), cfg_options)
    if checkpoint is not None and not osp.isfile(checkpoint):
        raise FileNotFoundError(f"checkpoint file not found: {checkpoint!r}")
    init_default_scope(cfg.get("default_scope", "mmseg"))
    model_cfg = copy.deepcopy(cfg.model)
    if "segmentor" not in model_cfg:  # a segmentor; UDA wrappers (DACS) take neither key
        model_cfg.pop("pretrained", None)
        if checkpoint is not None and isinstance(model_cfg.get("backbone"), dict):
            model_cfg.backbone.pop("init_cfg", None)  # the checkpoint has all weights
        model_cfg.train_cfg = None
    model = MODELS.build(model_cfg)
    meta = {}
    if checkpoint is not None:
        # strict, except teacher weights of a DACS checkpoint predicted through its student
        meta = load_checkpoint_checked(model, checkpoint, strict=True)["meta"]
    model.cfg = cfg
    model.dataset_meta = _dataset_meta(cfg, meta, _num_classes(model))
    return model.to(device).eval()


def _num_classes(model: nn.Module) -> Optional[int]:
    head = getattr(_segmentor(model, strict=False), "decode_head", None)
    return getattr(head, "num_classes", None)


def _dataset_meta(cfg: Config, meta: dict, num_classes: Optional[int]) -> dict:
    found = dict(meta.get("dataset_meta") or {})
    if not found.get("classes"):
        try:
            found = dict(cfg.test_dataloader.dataset.get("metainfo") or {})
        except AttributeError:
            found = {}
    classes = tuple(found.get("classes") or ())
    if not classes:
        n = num_classes or 2
        classes = ("background",) + tuple(f"defect{i}" for i in range(1, n))
    if num_classes is not None and len(classes) != num_classes:
        raise RuntimeError(f"the model predicts {num_classes} classes but the checkpoint / "
                           f"config name {len(classes)}: {classes}")
    palette = found.get("palette") or default_palette(len(classes))
    return dict(classes=classes, palette=[list(map(int, c)) for c in palette])


def _segmentor(model: nn.Module, strict: bool = True) -> Optional[nn.Module]:
    for name in ("inference_outputs", "scale_outputs", "inference_logits", "inference"):
        if hasattr(model, name):
            return model
    if callable(getattr(model, "inference_model", None)):
        return model.inference_model()
    if strict:
        raise TypeError(
            f"{type(model).__name__} has none of inference_outputs / scale_outputs / "
            "inference_logits / inference / inference_model(): prediction needs a segmentor (e.g. "
            "WeightedEncoderDecoder) or a UDA model exposing one")
    return None


def _default_metas(inputs: torch.Tensor) -> List[dict]:
    shape = tuple(inputs.shape[-2:])
    return [dict(img_shape=shape, ori_shape=shape, pad_shape=shape, padding_size=[0, 0, 0, 0])
            for _ in range(inputs.shape[0])]


@torch.no_grad()
def inference_outputs(model: nn.Module, inputs: torch.Tensor,
                      batch_img_metas: Optional[List[dict]] = None) -> Dict[str, torch.Tensor]:
    """Full-resolution logits (and attention, if the model has one) of normalised inputs.

    Args:
        model (nn.Module): a segmentor following the protocol of this module.
        inputs (torch.Tensor): (N, 3, H, W) normalised images (after the data preprocessor).
        batch_img_metas (list[dict], optional): per-image meta; built from the input shape
            when omitted. Default: None.

    Returns:
        dict[str, torch.Tensor]: ``'logits'`` (N, C, H, W) and, when provided by the model,
        ``'attention'`` (N, A, H, W) resized to the input size.
    """
    seg = _segmentor(model)
    metas = batch_img_metas or _default_metas(inputs)
    if hasattr(seg, "inference_outputs"):
        out = seg.inference_outputs(inputs, metas)
        if not isinstance(out, dict) or "logits" not in out:
            raise TypeError(f"{type(seg).__name__}.inference_outputs must return a dict with "
                            f"'logits' (and optionally 'attention'), got {type(out).__name__}")
        out = dict(out)
    elif hasattr(seg, "scale_outputs"):
        maps = seg.scale_outputs(inputs, with_maps=True)
        out = dict(logits=maps["seg_logits"], attention=maps.get("attention"))
    elif hasattr(seg, "inference_logits"):
        out = dict(logits=seg.inference_logits(inputs, metas))
    else:
        out = dict(logits=seg.inference(inputs, metas))
    size = tuple(inputs.shape[-2:])
    if tuple(out["logits"].shape[-2:]) != size:
        out["logits"] = F.interpolate(out["logits"], size=size, mode="bilinear",
                                      align_corners=False)
    att = out.get("attention")
    if att is None:
        out.pop("attention", None)
    else:
        if att.dim() == 3:
            att = att[:, None]
        if tuple(att.shape[-2:]) != size:
            att = F.interpolate(att.float(), size=size, mode="bilinear", align_corners=False)
        out["attention"] = att
    return out


def preprocess(model: nn.Module, img: np.ndarray) -> torch.Tensor:
    """Normalise one BGR image with the model's data preprocessor.

    Args:
        model (nn.Module): the model (its ``data_preprocessor`` converts BGR to RGB and
            normalises; it may pad when it has a ``test_cfg``).
        img (np.ndarray): (H, W, 3) uint8 BGR image.

    Returns:
        torch.Tensor: (1, 3, H', W') float input on the model's device (H' >= H, W' >= W when
        the preprocessor pads at the bottom / right).
    """
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) BGR image, got shape {img.shape}")
    tensor = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
    data = model.data_preprocessor(dict(inputs=[tensor], data_samples=[SegDataSample()]), False)
    return data["inputs"]


def sliding_windows(height: int, width: int, window: int, stride: int) -> List[Box]:
    """Boxes ``(y1, y2, x1, x2)`` of a sliding window covering an image (mmseg's layout).

    Windows start every ``stride`` pixels; the last row / column is shifted back to end at
    the border, so every window has the full size unless the image is smaller than it.

    Args:
        height (int): image height in pixels.
        width (int): image width in pixels.
        window (int): window side in pixels.
        stride (int): step between windows in pixels (<= window, so windows overlap or touch).
    """
    return tile_boxes((height, width), (window, window), (stride, stride))


@torch.no_grad()
def predict_logits(model: nn.Module, img: np.ndarray, window: Optional[int] = None,
                   stride: Optional[int] = None,
                   tta: Optional[dict] = None) -> Dict[str, torch.Tensor]:
    """Logits (and attention) of one image, optionally tiled by a sliding window.

    Args:
        model (nn.Module): the segmentor.
        img (np.ndarray): (H, W, 3) uint8 BGR image.
        window (int, optional): tile side in pixels; each tile is predicted on its own (with
            the model's own test mode) and overlapping logits are averaged. None predicts the
            whole image at once. Default: None.
        stride (int, optional): step between tiles in pixels. Default: ``window // 2``.
        tta (dict, optional): test-time augmentation ``dict(flips=..., scales=...)`` of
            every tile (see :func:`~mmseg_uda.apis.tta.tta_outputs`); the logits are then the
            log of the averaged probabilities. Default: None (no augmentation).

    Returns:
        dict[str, torch.Tensor]: ``'logits'`` (1, C, H, W) and optionally ``'attention'``
        (1, A, H, W), on the CPU, cropped to the image.
    """
    height, width = img.shape[:2]
    inputs = preprocess(model, img)

    def outputs(x: torch.Tensor) -> Dict[str, torch.Tensor]:
        return tta_outputs(model, x, **tta) if tta else inference_outputs(model, x)

    if window is None:
        out = outputs(inputs)
    else:
        stride = stride or max(1, window // 2)
        boxes = sliding_windows(inputs.shape[-2], inputs.shape[-1], window, stride)
        sums: Dict[str, torch.Tensor] = {}
        count = inputs.new_zeros((1, 1) + tuple(inputs.shape[-2:]))
        for y1, y2, x1, x2 in boxes:
            tile = inputs[..., y1:y2, x1:x2]
            for key, value in outputs(tile).items():
                if key not in sums:
                    sums[key] = value.new_zeros(value.shape[:2] + tuple(inputs.shape[-2:]))
                sums[key][..., y1:y2, x1:x2] += value
            count[..., y1:y2, x1:x2] += 1
        out = {key: value / count for key, value in sums.items()}
    return {key: value[..., :height, :width].float().cpu() for key, value in out.items()}


def attention_map(attention: torch.Tensor, num_classes: int,
                  background_index: int = 0) -> np.ndarray:
    """One (H, W) map from an (1, A, H, W) attention: the mean over the defect classes' channels
    when there is one channel per class, else the mean over all channels."""
    att = attention[0]
    if att.shape[0] == num_classes and num_classes > 1:
        keep = [c for c in range(num_classes) if c != background_index]
        att = att[keep]
    return att.mean(0).numpy().astype(np.float32)


def predict_image(model: nn.Module, img: Union[str, np.ndarray],
                  thresholds: Optional[Thresholds] = None, window: Optional[int] = None,
                  stride: Optional[int] = None, tta: Optional[dict] = None) -> dict:
    """Mask, probabilities, defect regions and OK / defect verdict of one image.

    Args:
        model (nn.Module): a model from :func:`init_model`.
        img (str | np.ndarray): image path, or (H, W, 3) uint8 BGR array.
        thresholds (Thresholds, optional): pixel threshold and minimum defect area (pixels).
            Default: ``Thresholds()`` (0.5 and 16 px); use
            :func:`~mmseg_uda.apis.resolve_thresholds` to read a calibration file.
        window (int, optional): tile the image with this window side (pixels). Default: None.
        stride (int, optional): tile step (pixels). Default: ``window // 2``.
        tta (dict, optional): test-time augmentation settings (see :func:`predict_logits`).
            Default: None.

    Returns:
        dict: ``mask`` (H, W) uint8 class ids; ``probs`` (C, H, W) float32 softmax;
        ``defect_prob`` (H, W) float32 = 1 − p(background); ``attention`` (H, W) float32 or
        None; ``regions`` (list of dicts, see
        :func:`~mmseg_uda.deploy.postprocess.defect_regions`, only those of at least
        ``min_area`` pixels); ``verdict`` (``'defect'`` or ``'OK'``); ``score`` dict with
        ``max_defect_prob`` and ``largest_region_area`` (pixels); ``defect_pixels``;
        ``thresholds`` (dict); ``height``, ``width``.
    """
    thresholds = thresholds or Thresholds()
    if isinstance(img, str):
        img = load_image(img)
    out = predict_logits(model, img, window=window, stride=stride, tta=tta)
    probs = torch.softmax(out["logits"], dim=1)[0].numpy().astype(np.float32)
    classes = list(model.dataset_meta["classes"])
    attention = out.get("attention")
    return inspect_probabilities(
        probs, classes, thresholds,
        attention=None if attention is None else attention_map(attention, len(classes)))
