"""Paired source/target training data for self-training, with rare-class sampling.

Each sample is ``dict(source=<labeled source item>, target=<random unlabeled target item>)``;
MMEngine's ``pseudo_collate`` turns a list of them into
``{'source': {'inputs', 'data_samples'}, 'target': {...}}``, which
:class:`~mmseg_uda.models.data_preprocessors.UDASegDataPreProcessor` preprocesses.

Both datasets are built — and so checked (missing/empty folders, unreadable files, mask
values outside the classes) — when this dataset is built, i.e. before the first training
iteration.

With ``labeled_target=dict(split=..., num=N, ratio=r)`` a few *labeled* target images (with
their masks) join the supervised stream: a share ``r`` of the source items are drawn from them
(see :class:`UDADataset`); the unlabeled target stream is unchanged.
"""

from __future__ import annotations

import logging
import os.path as osp
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from typing import Dict, List, Optional, Sequence, Union

import cv2
import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log
from mmseg.registry import DATASETS

from .defect_dataset import DatasetError, DefectDataset

RCS_KEYS = ("temperature", "min_pixels", "min_crop_pixels", "max_crop_attempts")
LABELED_TARGET_KEYS = ("split", "num", "ratio", "seed")
# Share of the supervised items that are labeled target images when ``ratio`` is not given:
# one of the two source items of the reference batch (2 source + 2 target).
DEFAULT_LABELED_RATIO = 0.5


def choose_labeled_target(names: Sequence[str], num: int, seed: int = 0) -> List[str]:
    """``num`` of ``names``, chosen by a seeded shuffle (the first ``num`` of a permutation).

    The same seed gives nested choices: the 5 images of a seed are the first 5 of its 10.

    Args:
        names (Sequence[str]): candidate image names (e.g. the target's ``train.txt``).
        num (int): how many to choose, 1 <= num <= len(names).
        seed (int): seed of the shuffle. Default: 0.

    Returns:
        list[str]: the chosen names, in the order of the shuffle.

    Raises:
        DatasetError: ``num`` outside 1..len(names).
    """
    if not 1 <= int(num) <= len(names):
        raise DatasetError(f"labeled_target.num = {num}: choose between 1 and the "
                           f"{len(names)} images of the split")
    order = np.random.default_rng(int(seed)).permutation(len(names))
    return [names[i] for i in order[:int(num)]]


class LabeledTargetDataset(DefectDataset):
    """The labeled target images of :class:`UDADataset` (``labeled_target``): a
    :class:`DefectDataset` with masks over ``num`` images of its split, chosen by
    :func:`choose_labeled_target` before any file is checked (the other images of the split
    need no mask).

    Args:
        num (int, optional): how many images of the split; None: all of them.
        seed (int): seed of the choice. Default: 0.
        **kwargs: the arguments of :class:`DefectDataset`.
    """

    def __init__(self, num: Optional[int] = None, seed: int = 0, **kwargs) -> None:
        self.num = None if num is None else int(num)
        self.seed = int(seed)
        super().__init__(**kwargs)

    def select_names(self, names: List[str]) -> List[str]:
        return select_labeled_target(names, self.num, self.seed, self.ann_file)


def select_labeled_target(names: Sequence[str], num: Optional[int], seed: int,
                          split: str) -> List[str]:
    """The labeled target images of a split: every name (``num`` None or all of them, in the
    file's order), else :func:`choose_labeled_target`.

    Raises:
        DatasetError: ``num`` larger than the split, naming the split file.
    """
    if num is None or num == len(names):
        return list(names)
    if num > len(names):
        raise DatasetError(f"labeled_target.num = {num} but the split file {split or 'all'} "
                           f"lists only {len(names)} images")
    return choose_labeled_target(names, num, seed)


# rare_class_sampling.temperature for class-balanced sampling (the limit T -> inf).
UNIFORM = "uniform"


def check_temperature(temperature: Union[float, str]) -> Union[float, str]:
    """``temperature`` as a float > 0 or ``'uniform'``; anything else is a ValueError."""
    if temperature == UNIFORM:
        return UNIFORM
    if isinstance(temperature, (str, bool)) or not isinstance(temperature, (int, float)) \
            or not temperature > 0:
        raise ValueError(f"rare-class sampling temperature must be a number > 0 or "
                         f"{UNIFORM!r}, got {temperature!r}")
    return float(temperature)


def rare_class_probabilities(class_fraction: Sequence[float], temperature: Union[float, str],
                             available: Optional[Sequence[bool]] = None) -> np.ndarray:
    """Rare-class sampling distribution ``softmax((1 - f_c) / T)`` over classes.

    Args:
        class_fraction (Sequence[float]): pixel fraction ``f_c`` of each class in the source
            set (sums to 1 over labeled pixels).
        temperature (float | str): ``T`` > 0; small values favour rare classes strongly (the
            reference uses 0.01), large values approach uniform class sampling.
            ``'uniform'`` is the limit ``T -> inf``: every available class equally often,
            whatever the pixel shares (class-balanced sampling, no per-dataset value).
        available (Sequence[bool], optional): classes that can be sampled (those with at
            least one qualifying image); the others get probability 0. Default: all.

    Returns:
        np.ndarray: float64 probabilities, one per class, summing to 1.
    """
    temperature = check_temperature(temperature)
    freq = np.asarray(class_fraction, dtype=np.float64)
    avail = np.ones_like(freq, dtype=bool) if available is None else np.asarray(available, bool)
    if not avail.any():
        raise ValueError("rare-class sampling: no class has a qualifying source image")
    if temperature == UNIFORM:
        return avail / avail.sum()
    logits = np.where(avail, (1.0 - freq) / temperature, -np.inf)
    logits = logits - logits[avail].max()
    prob = np.where(avail, np.exp(logits), 0.0)
    return prob / prob.sum()


# A class that rare-class sampling shows in fewer source draws than this gets a warning.
RCS_MIN_COVERAGE = 0.01


def rare_class_coverage(probabilities: Sequence[float], class_images: Sequence[Sequence[int]],
                        image_class_pixels: np.ndarray, min_pixels: int = 1) -> np.ndarray:
    """Share of rare-class draws whose image holds each class.

    A draw picks class ``c`` with ``probabilities[c]``, then one of ``class_images[c]``
    uniformly; the image holds class ``k`` when it has ``min_pixels`` pixels of it. A class
    that is common in pixels but never shares an image with the rare ones (a defect type of
    its own tiles) can get a coverage near 0: rare-class sampling then hides it.

    Returns:
        np.ndarray: one share in [0, 1] per class.
    """
    held = np.asarray(image_class_pixels) >= min_pixels
    coverage = np.zeros(held.shape[1], dtype=np.float64)
    for c, p in enumerate(probabilities):
        if p > 0 and len(class_images[c]):
            coverage += p * held[np.asarray(class_images[c])].mean(0)
    return coverage


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
            ``temperature`` (float | str, required) the softmax temperature (reference:
            0.01) or ``'uniform'`` (every class with images equally often, the limit
            ``T -> inf``);
            ``min_pixels`` (int) pixels of a class an image needs to be drawn for it
            (default 1); ``min_crop_pixels`` (int) pixels of the drawn class the
            transformed (cropped) sample must keep, else the pipeline is re-run up to
            ``max_crop_attempts`` times (default 0 = no check; 10 attempts).
        num_workers (int): threads that read the source masks for rare-class sampling.
            Default: 4.
        labeled_target (dict, optional): None or ``split=None`` (off, default) or
            ``dict(split=FILE, num=N, ratio=r, seed=0)``: ``N`` labeled images of the target
            (its ``data_root``; ``FILE`` relative to it or absolute, e.g. ``'train.txt'``;
            their masks in ``masks/`` are checked like any labeled set) join the supervised
            stream, through the *source* pipeline. ``num`` images of the split (default:
            all) are chosen by a shuffle seeded with ``seed`` (:func:`choose_labeled_target`;
            the other images of the split need no mask). ``ratio`` in (0, 1]
            (default 0.5) is their exact share of the source items: the k-th item a data
            worker reads is a labeled target image (drawn uniformly among the N) when
            ``floor((k + 1) r) > floor(k r)``, so with a batch of B and ``B r`` an integer every
            batch holds exactly ``B r`` of them (each worker reads whole batches), e.g. one of
            the 2 source items with r = 0.5. Rare-class sampling draws the other source items;
            the unlabeled target stream still draws from the whole target set.
    """

    def __init__(self, source: Union[dict, BaseDataset], target: Union[dict, BaseDataset],
                 rare_class_sampling: Optional[dict] = None, num_workers: int = 4,
                 labeled_target: Optional[dict] = None) -> None:
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
        self.labeled: Optional[LabeledTargetDataset] = None
        self.labeled_ratio: Optional[Fraction] = None
        self._supervised_draws = 0  # items read by this worker (the labeled share's counter)
        if labeled_target is not None and not hasattr(labeled_target, "get"):
            raise DatasetError(f"labeled_target must be dict(split=FILE, num=N, ratio=r), got "
                               f"{labeled_target!r}")
        if labeled_target is not None and (labeled_target.get("split") is not None or
                                           labeled_target.get("num") is not None):
            self._init_labeled_target(dict(labeled_target))

    # ------------------------------------------------------------------ dataset API
    @property
    def metainfo(self) -> dict:
        """The source dataset's meta (classes, palette), read by the runner and hooks."""
        return self.source.metainfo

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, idx: int) -> Dict[str, dict]:
        if self.labeled is not None and self._next_is_labeled():
            source = self.labeled[int(np.random.randint(len(self.labeled)))]
        elif self.rcs is None:
            source = self.source[idx]
        else:
            source = self._rare_class_source_item()
        target = self.target[int(np.random.randint(len(self.target)))]
        return dict(source=source, target=target)

    # ------------------------------------------------------------------ labeled target
    @property
    def labeled_target_names(self) -> List[str]:
        """Names of the labeled target images in the supervised stream (empty: none)."""
        if self.labeled is None:
            return []
        return [self.labeled.get_data_info(i)["name"] for i in range(len(self.labeled))]

    def _init_labeled_target(self, cfg: dict) -> None:
        unknown = sorted(set(cfg) - set(LABELED_TARGET_KEYS))
        if unknown or not cfg.get("split"):
            raise DatasetError(f"labeled_target takes {LABELED_TARGET_KEYS} (split required), "
                               f"got {cfg}")
        try:
            ratio = Fraction(str(cfg.get("ratio", DEFAULT_LABELED_RATIO))).limit_denominator(
                10 ** 6)
        except (TypeError, ValueError):
            ratio = None
        if ratio is None or not 0 < ratio <= 1:
            raise DatasetError(f"labeled_target.ratio must be in (0, 1], got "
                               f"{cfg.get('ratio')!r}")
        num = cfg.get("num")
        if num is not None and (isinstance(num, bool) or not isinstance(num, int) or num < 1):
            raise DatasetError(f"labeled_target.num must be an integer >= 1, got {num!r}")
        root = getattr(self.target, "data_root", None)
        if not root:
            raise DatasetError(f"labeled_target needs a target dataset with a data_root, got "
                               f"{type(self.target).__name__}")
        mask_dir = osp.join(root, getattr(self.target, "mask_dir", "masks"))
        if not osp.isdir(mask_dir):
            raise DatasetError(f"labeled_target: the target {root!r} has no mask folder "
                               f"{mask_dir!r}; labeled target images need their masks "
                               "(ROOT/masks/<name>.png)")
        try:
            self.labeled = LabeledTargetDataset(
                num=num, seed=int(cfg.get("seed", 0)), data_root=root, split=cfg["split"],
                img_dir=getattr(self.target, "img_dir", "images"),
                mask_dir=getattr(self.target, "mask_dir", "masks"), with_masks=True,
                metainfo=dict(self.source.metainfo),
                pipeline=list(getattr(self.source.pipeline, "transforms", [])))
        except DatasetError as exc:
            message = str(exc)
            if not message.startswith("labeled_target"):
                message = f"labeled_target: {message}"
            raise DatasetError(message) from exc
        self.labeled_ratio = ratio
        print_log(f"UDADataset labeled target: {len(self.labeled)} images of "
                  f"{self.labeled.ann_file!r}, share {float(ratio):g} of the source items: "
                  f"{', '.join(self.labeled_target_names)}", logger="current")

    def _next_is_labeled(self) -> bool:
        k = self._supervised_draws
        self._supervised_draws += 1
        r = self.labeled_ratio
        return (k + 1) * r.numerator // r.denominator > k * r.numerator // r.denominator

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
        available = [len(i) > 0 for i in images]
        temperature = check_temperature(cfg["temperature"])
        prob = rare_class_probabilities(fraction, temperature, available)
        self.rcs = dict(temperature=temperature, min_pixels=min_pixels,
                        min_crop_pixels=int(cfg.get("min_crop_pixels", 0)),
                        max_crop_attempts=max(1, int(cfg.get("max_crop_attempts", 10))),
                        class_pixel_fraction=fraction, class_probabilities=prob,
                        class_images=images, image_class_pixels=counts)
        coverage = rare_class_coverage(prob, images, counts, min_pixels)
        self.rcs["class_coverage"] = coverage
        names = self.metainfo.get("classes")
        summary = ", ".join(f"{n}: f={f:.4f} p={p:.3f} in {100 * v:.1f} % of draws "
                            f"({len(i)} images)"
                            for n, f, p, v, i in zip(names, fraction, prob, coverage, images))
        print_log(f"UDADataset rare-class sampling (T={temperature}): {summary}",
                  logger="current")
        hidden = [c for c in range(self.num_classes)
                  if available[c] and coverage[c] < RCS_MIN_COVERAGE]
        if hidden:
            warmer = {t: rare_class_coverage(rare_class_probabilities(fraction, t, available),
                                             images, counts, min_pixels)
                      for t in ((temperature * 10, temperature * 100, UNIFORM)
                                if temperature != UNIFORM else ())}
            for c in hidden:
                others = ", ".join(f"T={t}: {100 * v[c]:.1f} %" for t, v in warmer.items())
                print_log(f"UDADataset rare-class sampling (T={temperature}) shows class "
                          f"{names[c]!r} in only {100 * coverage[c]:.2f} % of the source draws "
                          f"(pixel share {100 * fraction[c]:.2f} %, {len(images[c])} images "
                          f"holding it): the model will hardly see it. A higher "
                          f"rare_class_sampling.temperature (or 'uniform': every class "
                          f"equally often) shows it more ({others}).",
                          logger="current", level=logging.WARNING)

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


__all__: List[str] = ["LabeledTargetDataset", "UDADataset", "choose_labeled_target",
                       "count_class_pixels", "rare_class_coverage", "rare_class_probabilities",
                       "select_labeled_target"]
