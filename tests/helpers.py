"""Test helpers: tiny generated datasets and tiny model settings (no external data)."""

from __future__ import annotations

import os
import os.path as osp
from typing import Iterable, Optional, Sequence, Tuple

import cv2
import numpy as np

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

CPU_CONFIG = osp.join(REPO, "configs", "segformer", "segformer_mit-b0_4x1k_cracks-256_cpu.py")
# --cfg-options for a few-iteration run of a CPU config: no worker processes, short warm-up.
FAST_RUN = {
    "train_dataloader.num_workers": 0, "train_dataloader.persistent_workers": False,
    "val_dataloader.num_workers": 0, "val_dataloader.persistent_workers": False,
    "train_dataloader.batch_size": 2,
    "param_scheduler.0.end": 2, "param_scheduler.1.begin": 2,
    "default_hooks.logger.interval": 1, "default_hooks.checkpoint.interval": 3,
    "train_cfg.val_interval": 100,
}

# A MiT small enough for CPU tests: 4 stages, one block each, 8-channel first stage.
TINY_MODEL = {
    "model.backbone.embed_dims": 8,
    "model.backbone.num_layers": [1, 1, 1, 1],
    "model.decode_head.in_channels": [8, 16, 40, 64],
    "model.decode_head.channels": 16,
}


# The same tiny MiT for the supervised HRDA configs (DAFormer context and attention decoders):
# detail windows of 32 at stride 16 inside 64x64 slide windows at stride 32.
TINY_HRDA_MODEL = {
    "model.backbone.embed_dims": 8,
    "model.backbone.num_layers": [1, 1, 1, 1],
    **{f"model.decode_head.{head}.{key}": value
       for head in ("decoder", "attention_decoder")
       for key, value in (("in_channels", [8, 16, 40, 64]), ("embed_dims", 16),
                          ("channels", 16))},
    "model.detail_crop_size": [32, 32],
    "model.detail_stride": [16, 16],
    "model.test_cfg.crop_size": [64, 64],
    "model.test_cfg.stride": [32, 32],
}


def draw_sample(rng: np.random.Generator, size: Tuple[int, int], num_classes: int = 2,
                defect: bool = True) -> Tuple[np.ndarray, np.ndarray]:
    """A noisy grey surface with dark line 'defects' (class 1..num_classes-1)."""
    h, w = size
    base = rng.integers(90, 170)
    img = (base + rng.normal(0, 12, (h, w))).clip(0, 255).astype(np.uint8)
    mask = np.zeros((h, w), np.uint8)
    if defect:
        for cls in range(1, num_classes):
            p0 = tuple(int(v) for v in (rng.integers(0, w), rng.integers(0, h)))
            p1 = tuple(int(v) for v in (rng.integers(0, w), rng.integers(0, h)))
            thickness = int(rng.integers(1, 4))
            cv2.line(mask, p0, p1, cls, thickness)
    img = np.where(mask > 0, (img * 0.35).astype(np.uint8), img)
    return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR), mask


def write_dataset(root: str, num: int = 6, size: Tuple[int, int] = (64, 64),
                  num_classes: int = 2, with_masks: bool = True, seed: int = 0,
                  splits: Optional[dict] = None, ext: str = ".png") -> str:
    """Write ``num`` samples in the project layout and optional split files.

    Args:
        splits: mapping split-file name -> list of indices; default: first two thirds
            ``train.txt``, the rest ``test.txt``.
    """
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(root, "images"), exist_ok=True)
    if with_masks:
        os.makedirs(osp.join(root, "masks"), exist_ok=True)
    names = [f"{i:04d}" for i in range(num)]
    for i, name in enumerate(names):
        img, mask = draw_sample(rng, size, num_classes, defect=i % 5 != 4)
        cv2.imwrite(osp.join(root, "images", name + ext), img)
        if with_masks:
            cv2.imwrite(osp.join(root, "masks", name + ".png"), mask)
    if splits is None:
        cut = max(1, (2 * num) // 3)
        splits = {"train.txt": range(cut), "test.txt": range(cut, num)}
    for fname, idx in splits.items():
        _write_lines(osp.join(root, fname), [names[i] for i in idx])
    return root


def _write_lines(path: str, lines: Iterable[str]) -> None:
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def cfg_options(extra: Optional[dict] = None, tiny: bool = True) -> list:
    """``--cfg-options`` arguments (list of ``k=v`` strings) for the tools' CLIs."""
    opts = dict(TINY_MODEL) if tiny else {}
    opts.update(extra or {})
    out = []
    for key, value in opts.items():
        if isinstance(value, (list, tuple)):
            value = "[" + ",".join(_fmt(v) for v in value) + "]"
        else:
            value = _fmt(value)
        out.append(f"{key}={value}")
    return out


def _fmt(value) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_fmt(v) for v in value) + "]"
    if isinstance(value, Sequence) and not isinstance(value, str):
        return str(list(value))
    return str(value)


def tiny_segmentor(seed: int = 0, **head_overrides):
    """A randomly initialised tiny SegFormer (``WeightedEncoderDecoder``), no preprocessor."""
    import copy

    import torch
    from mmengine.config import Config
    from mmseg.registry import MODELS

    import mmseg_uda  # noqa: F401  (compat before mmseg)

    cfg = Config.fromfile(osp.join(REPO, "configs", "_base_", "models", "mit_b0.py"))
    model = copy.deepcopy(cfg.model)
    model.backbone.update(embed_dims=8, num_layers=[1, 1, 1, 1])
    model.decode_head.update(in_channels=[8, 16, 40, 64], channels=16, **head_overrides)
    model.data_preprocessor = None
    torch.manual_seed(seed)
    return MODELS.build(model)


def tiny_pretrain_model(config: str, seed: int = 0, **overrides):
    """The pretraining model of ``configs/pretrain/<config>`` with a tiny MiT (embed_dims 8,
    one block per stage), no preprocessor, initialised with ``seed``; ``overrides`` update
    the model config."""
    import copy

    import torch
    from mmengine.config import Config
    from mmseg.registry import MODELS

    import mmseg_uda  # noqa: F401  (compat before mmseg)

    cfg = Config.fromfile(osp.join(REPO, "configs", "pretrain", config))
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.update(embed_dims=8, num_layers=[1, 1, 1, 1])
    model_cfg.data_preprocessor = None
    model_cfg.update(overrides)
    torch.manual_seed(seed)
    model = MODELS.build(model_cfg)
    model.init_weights()
    return model
