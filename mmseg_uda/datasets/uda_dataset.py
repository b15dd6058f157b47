"""Paired source/target training data for self-training, with rare-class sampling.

Each sample is ``dict(source=<labeled source item>, target=<random unlabeled target item>)``;
MMEngine's ``pseudo_collate`` turns a list of them into
``{'source': {'inputs', 'data_samples'}, 'target': {...}}``, which
:class:`~mmseg_uda.models.data_preprocessors.UDASegDataPreProcessor` preprocesses.

Both datasets are built — and so checked (missing/empty folders, unreadable files, mask
values outside the classes) — when this dataset is built, i.e. before the first training
iteration.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional, Sequence, Union

import cv2
import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log
from mmseg.registry import DATASETS

from .defect_dataset import DatasetError

RCS_KEYS = ("temperature", "min_pixels", "min_crop_pixels", "max_crop_attempts")


def rare_class_probabilities(class_fraction: Sequence[float], temperature: float,
                             available: Optional[Sequence[bool]] = None) -> np.ndarray:
    """Rare-class sampling distribution ``softmax((1 - f_c) / T)`` over classes.

    Args:
        class_fraction (Sequence[float]): pixel fraction ``f_c`` of each class in the source
            set (sums to 1 over labeled pixels).
        temperature (float): ``T`` > 0; small values favour rare classes strongly (the
            reference uses 0.01), large values approach uniform class sampling.
        available (Sequence[bool], optional): classes that can be sampled (those with at
            least one qualifying image); the others get probability 0. Default: all.

    Returns:
        np.ndarray: float64 probabilities, one per class, summing to 1.
    """
    if temperature <= 0:
        raise ValueError(f"rare-class sampling temperature must be > 0, got {temperature}")
    freq = np.asarray(class_fraction, dtype=np.float64)
    avail = np.ones_like(freq, dtype=bool) if available is None else np.asarray(available, bool)
    if not avail.any():
        raise ValueError("rare-class sampling: no class has a qualifying source image")
    logits = np.where(avail, (1.0 - freq) / temperature, -np.inf)
    logits = logits - logits[avail].max()
    prob = np.where(avail, np.exp(logits), 0.0)
    return prob / prob.sum()


def count_class_pixels(mask_paths: Sequence[str], num_classes: int,
                       num_workers: int = 4) -> np.ndarray:
    """Pixels of each class in each mask (the ignore value 255 is not counted).

    Args:
        mask_paths (Sequence[str]): single-channel uint8 class-id masks.
        num_classes (int): number of classes.
        num_workers (int): reader threads. Default: 4.

    Returns:
        np.ndarray: int64 array (num_masks, num_classes).
    """
    def count(path: str) -> np.ndarray:
        mask = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        if mask is None or mask.ndim != 2:
            raise DatasetError(f"rare-class sampling: cannot read single-channel mask {path!r}")
        return np.bincount(mask.ravel(), minlength=256)[:num_classes].astype(np.int64)

    with ThreadPoolExecutor(max_workers=max(1, num_workers)) as pool:
        rows = list(pool.map(count, mask_paths))
    return np.stack(rows) if rows else np.zeros((0, num_classes), np.int64)


@DATASETS.register_module()
class UDADataset:
    """A labeled source dataset paired with an unlabeled target dataset.

    ``dataset[i]`` is ``dict(source=source[i], target=target[j])`` with ``j`` drawn
    uniformly at random (numpy's global generator, which MMEngine seeds per worker). With
    rare-class sampling the source index is drawn too: a class ``c`` with probability
    ``softmax((1 - f_c) / T)`` (``f_c`` = its pixel fraction in the source masks), then a
    source image that has at least ``min_pixels`` pixels of ``c``.

    Args:
        source (dict | Dataset): the labeled source dataset (config or object), e.g. a
            ``DefectDataset`` with a training pipeline that loads annotations.
        target (dict | Dataset): the unlabeled target dataset, e.g. a
            ``DefectDataset(with_masks=False)`` whose pipeline has no ``LoadAnnotations``.
        rare_class_sampling (dict, optional): None (off, default) or
            ``dict(temperature=T, min_pixels=1, min_crop_pixels=0, max_crop_attempts=10)``:
            ``temperature`` (float, required) the softmax temperature (reference: 0.01);
            ``min_pixels`` (int) pixels of a class an image needs to be drawn for it
            (default 1); ``min_crop_pixels`` (int) pixels of the drawn class the
            transformed (cropped) sample must keep, else the pipeline is re-run up to
            ``max_crop_attempts`` times (default 0 = no check; 10 attempts).
        num_workers (int): threads that read the source masks for rare-class sampling.
            Default: 4.
    """

    def __init__(self, source: Union[dict, BaseDataset], target: Union[dict, BaseDataset],
                 rare_class_sampling: Optional[dict] = None, num_workers: int = 4) -> None:
        self.source = DATASETS.build(source) if isinstance(source, dict) else source
        self.target = DATASETS.build(target) if isinstance(target, dict) else target
        for name, ds in (("source", self.source), ("target", self.target)):
            if len(ds) == 0:
                raise DatasetError(f"the {name} dataset {_root(ds)!r} is empty")
        src_classes = tuple(self.source.metainfo.get("classes") or ())
        tgt_classes = tuple(self.target.metainfo.get("classes") or ())
        if tgt_classes and src_classes != tgt_classes:
            raise DatasetError(
                f"source {_root(self.source)!r} has classes {src_classes} but target "
                f"{_root(self.target)!r} has {tgt_classes}; both need the same metainfo.classes")
        self.num_classes = len(src_classes)
        self.rcs: Optional[dict] = None
        if rare_class_sampling is not None:
            self._init_rcs(dict(rare_class_sampling), num_workers)

    # ------------------------------------------------------------------ dataset API
    @property
    def metainfo(self) -> dict:
        """The source dataset's meta (classes, palette), read by the runner and hooks."""
        return self.source.metainfo

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, idx: int) -> Dict[str, dict]:
        if self.rcs is None:
            source = self.source[idx]
        else:
            source = self._rare_class_source_item()
        target = self.target[int(np.random.randint(len(self.target)))]
        return dict(source=source, target=target)

    # ------------------------------------------------------------------ rare-class sampling
    def _init_rcs(self, cfg: dict, num_workers: int) -> None:
        unknown = sorted(set(cfg) - set(RCS_KEYS))
        if unknown or "temperature" not in cfg:
            raise ValueError(f"rare_class_sampling takes {RCS_KEYS} (temperature required), "
                             f"got {sorted(cfg)}")
        min_pixels = int(cfg.get("min_pixels", 1))
        if min_pixels < 1:
            raise ValueError(f"rare_class_sampling.min_pixels must be >= 1, got {min_pixels}")
        paths = []
        for i in range(len(self.source)):
            path = self.source.get_data_info(i).get("seg_map_path")
            if not path:
                raise DatasetError(f"rare-class sampling needs source masks, but sample {i} of "
                                   f"{_root(self.source)!r} has no seg_map_path")
            paths.append(path)
        counts = count_class_pixels(paths, self.num_classes, num_workers)
        total = counts.sum(0)
        fraction = total / max(1, total.sum())
        images = [np.flatnonzero(counts[:, c] >= min_pixels) for c in range(self.num_classes)]
        prob = rare_class_probabilities(fraction, float(cfg["temperature"]),
                                        [len(i) > 0 for i in images])
        self.rcs = dict(temperature=float(cfg["temperature"]), min_pixels=min_pixels,
                        min_crop_pixels=int(cfg.get("min_crop_pixels", 0)),
                        max_crop_attempts=max(1, int(cfg.get("max_crop_attempts", 10))),
                        class_pixel_fraction=fraction, class_probabilities=prob,
                        class_images=images, image_class_pixels=counts)
        names = self.metainfo.get("classes")
        summary = ", ".join(f"{n}: f={f:.4f} p={p:.3f} ({len(i)} images)"
                            for n, f, p, i in zip(names, fraction, prob, images))
        print_log(f"UDADataset rare-class sampling (T={self.rcs['temperature']}): {summary}",
                  logger="current")

    def sample_rare_class(self) -> tuple:
        """Draw ``(class id, source index)`` with rare-class sampling."""
        rcs = self.rcs
        c = int(np.random.choice(self.num_classes, p=rcs["class_probabilities"]))
        candidates = rcs["class_images"][c]
        return c, int(candidates[np.random.randint(len(candidates))])

    def _rare_class_source_item(self) -> dict:
        c, idx = self.sample_rare_class()
        item = self.source[idx]
        need = self.rcs["min_crop_pixels"]
        for _ in range(self.rcs["max_crop_attempts"] - 1):
            if need <= 0 or _class_pixels(item, c) >= need:
                break
            item = self.source[idx]
        return item


def _class_pixels(item: dict, cls: int) -> int:
    sample = item.get("data_samples")
    if sample is None or "gt_sem_seg" not in sample:
        return 0
    return int((sample.gt_sem_seg.data == cls).sum())


def _root(dataset) -> str:
    return str(getattr(dataset, "data_root", None) or type(dataset).__name__)


__all__: List[str] = ["UDADataset", "count_class_pixels", "rare_class_probabilities"]
