"""Shared helpers of the UDA tests: tiny configs, paired datasets and in-process runners."""

from __future__ import annotations

import os.path as osp
import uuid
from typing import Dict, Optional

from mmengine.config import Config

from helpers import REPO, cfg_options, write_dataset
from mmseg_uda.utils import load_config

DACS_CPU = osp.join(REPO, "configs", "dacs_cracks_cpu.py")
SOURCE_ONLY_CPU = osp.join(REPO, "configs", "source_only_cracks_cpu.py")

# The tiny MiT of tests/helpers.TINY_MODEL, inside the UDA model's ``segmentor``.
TINY_SEGMENTOR = {
    "model.segmentor.backbone.embed_dims": 8,
    "model.segmentor.backbone.num_layers": [1, 1, 1, 1],
    "model.segmentor.decode_head.in_channels": [8, 16, 40, 64],
    "model.segmentor.decode_head.channels": 16,
}


def write_uda_data(root: str, size=(64, 64), num_source: int = 6, num_target: int = 6,
                   num_classes: int = 2) -> Dict[str, str]:
    """A generated source (train/val) and target (train = unlabeled, test = labeled) set."""
    source = write_dataset(osp.join(root, "source"), num=num_source, size=size, seed=0,
                           num_classes=num_classes,
                           splits={"train.txt": range(num_source - 2),
                                   "val.txt": range(num_source - 2, num_source)})
    target = write_dataset(osp.join(root, "target"), num=num_target, size=size, seed=1,
                           num_classes=num_classes)
    return dict(source=source, target=target)


def tiny_options(crop: int = 64, iters: int = 4, config: str = DACS_CPU,
                 extra: Optional[dict] = None) -> dict:
    """Overrides that shrink a UDA crack config to a tiny model, crops and schedule."""
    cfg = Config.fromfile(config)
    opts = dict(TINY_SEGMENTOR)
    opts["model.data_preprocessor.size"] = (crop, crop)
    for branch in ("source", "target"):
        pipeline = cfg.train_dataloader.dataset[branch].pipeline
        for i, step in enumerate(pipeline):
            if step["type"] == "RandomCrop":
                opts[f"train_dataloader.dataset.{branch}.pipeline.{i}.crop_size"] = (crop, crop)
    opts.update({
        "train_cfg.max_iters": iters, "train_cfg.val_interval": iters,
        "param_scheduler.0.end": 1, "param_scheduler.1.begin": 1,
        "default_hooks.logger.interval": 1, "default_hooks.checkpoint.interval": iters,
        "train_dataloader.num_workers": 0, "train_dataloader.persistent_workers": False,
        "val_dataloader.num_workers": 0, "val_dataloader.persistent_workers": False,
        "test_dataloader.num_workers": 0, "test_dataloader.persistent_workers": False,
        "custom_hooks.0.interval": 2,
    })
    opts.update(extra or {})
    return opts


def cli_options(opts: dict) -> list:
    """``--cfg-options`` arguments; tuples are written as ``(a,b)`` (mmcv wants tuples)."""
    out = []
    for key, value in opts.items():
        if isinstance(value, tuple):
            out.append(f"{key}=({','.join(str(v) for v in value)})")
        else:
            out.extend(cfg_options({key: value}, tiny=False))
    return out


def tiny_uda_config(work_dir: str, data: Dict[str, str], config: str = DACS_CPU,
                    **kwargs) -> Config:
    """A loaded, tiny UDA config pointing at generated data, for an in-process Runner."""
    cfg = load_config(config, tiny_options(config=config, **kwargs))
    for branch in ("source", "target"):
        cfg.train_dataloader.dataset[branch].data_root = data[branch]
    for loader in ("val_dataloader", "test_dataloader"):
        cfg[loader].dataset.data_root = data["target"]
    cfg.work_dir = work_dir
    # Unique instance names: MMEngine's logger/visualizer are per-name singletons, and a
    # second runner in the same process would otherwise write into the first one's folder.
    name = f"uda_test_{uuid.uuid4().hex[:8]}"
    cfg.experiment_name = name
    cfg.visualizer.name = name
    return cfg


__all__ = ["DACS_CPU", "REPO", "SOURCE_ONLY_CPU", "TINY_SEGMENTOR", "cli_options",
           "tiny_options", "tiny_uda_config", "write_uda_data"]
