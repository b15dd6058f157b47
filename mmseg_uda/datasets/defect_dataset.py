"""A generic defect-segmentation dataset for the folder layout users have.

::

    ROOT/
      images/<name>.jpg|.jpeg|.png|.bmp|.tif|.tiff
      masks/<name>.png        uint8 class ids, 255 = ignore (absent for an unlabeled target)
      train.txt, test.txt     optional split files, one <name> per line
      meta.json               optional (the generator's): its ``classes`` must match the config

Class names and palette come from the config (``metainfo=dict(classes=..., palette=...)``);
binary crack data, ``('background', 'crack')``, is the default. Problems with the data are
reported when the dataset is built — before the first training iteration — with the file that
is wrong named in the message.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import os.path as osp
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from mmengine.logging import print_log
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS
from PIL import Image

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
MASK_SUFFIX = ".png"
DEFAULT_CLASSES = ("background", "crack")
_BASE_COLOURS = [
    (0, 0, 0), (255, 0, 0), (0, 200, 0), (0, 120, 255), (255, 200, 0), (200, 0, 255),
    (0, 255, 255), (255, 128, 128), (128, 64, 0), (128, 128, 255),
]
VALIDATE_LEVELS = ("full", "header", "none")


class DatasetError(ValueError):
    """A problem with dataset files or their contents; the message names the file."""


def default_palette(num_classes: int) -> List[List[int]]:
    """Distinct RGB colours: black background, red first defect, then others."""
    rng = np.random.default_rng(12345)
    colours = [list(c) for c in _BASE_COLOURS[:num_classes]]
    while len(colours) < num_classes:
        colours.append(rng.integers(40, 256, size=3).tolist())
    return colours


def _read_split(path: str) -> List[str]:
    names = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            name = line.strip()
            if not name or name.startswith("#"):
                continue
            stem, ext = osp.splitext(name)
            names.append(stem if ext.lower() in IMG_EXTENSIONS else name)
    return names


def resolve_split(data_root: str, split) -> Tuple[Optional[str], str]:
    """The split file a dataset reads: the first of ``split``'s candidates that exists.

    Args:
        data_root (str): the dataset folder (relative split files are looked up in it).
        split (str | Sequence[str | None] | None): one split file, or candidates in order of
            preference; None (or ``''``) in the list means "every image in images/", so
            ``['test.txt', 'val.txt', None]`` is test.txt, else val.txt, else all images.

    Returns:
        tuple: ``(split file or None for all images, how it was chosen)``; a single split
        file is returned as given (missing or not: the dataset then reports it).
    """
    if split is None or isinstance(split, str):
        return (split or None), ""
    skipped: List[str] = []
    for cand in split:
        if not cand:
            return None, (f"no {' / '.join(skipped)}: every image" if skipped else "")
        if osp.isfile(cand if osp.isabs(cand) else osp.join(data_root, cand)):
            return cand, (f"no {' / '.join(skipped)}" if skipped else "")
        skipped.append(cand)
    return (skipped[0] if skipped else None), ""


def read_meta_classes(data_root: str) -> Optional[Tuple[str, ...]]:
    """The ``classes`` of ``ROOT/meta.json`` (written by the generator), or None."""
    path = osp.join(data_root, "meta.json")
    if not osp.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            classes = json.load(f).get("classes")
    except (OSError, ValueError, AttributeError):
        return None
    return tuple(str(c) for c in classes) if isinstance(classes, list) and classes else None


def check_meta_classes(data_root: str, classes: Sequence[str]) -> None:
    """Refuse a dataset whose ``meta.json`` names other classes than the config.

    The meta file's classes must be the config's, in the same order (a leading subset is
    accepted: its class ids mean the same); names are compared case-insensitively.

    Raises:
        DatasetError: naming both class lists and the file.
    """
    found = read_meta_classes(data_root)
    if found is None:
        return
    want = tuple(classes)
    path = osp.join(data_root, "meta.json")
    if len(found) > len(want):
        raise DatasetError(
            f"{path!r} has {len(found)} classes {found} but the config has {len(want)} "
            f"(metainfo.classes = {want}, num_classes = {len(want)}); set metainfo (and the "
            "number of classes) to the data's classes")
    if [c.lower() for c in found] != [c.lower() for c in want[:len(found)]]:
        raise DatasetError(
            f"{path!r} names the classes {found} but the config's metainfo.classes are {want}; "
            "class ids would mean different defects: generate the data with the config's "
            "classes or set metainfo in the config to the data's")


def _image_size(path: str, loader=None) -> Tuple[int, int]:
    """(height, width) of an image; raises DatasetError naming the file if unreadable.

    Args:
        path (str): the image file.
        loader: the pipeline's image loader (``read(path)`` decodes the file exactly as
            training will); None reads only the header.
    """
    if loader is not None:
        try:
            img = loader.read(path)
        except DatasetError:
            raise
        except Exception as exc:  # file-system errors of the loader's backend
            raise DatasetError(f"unreadable image file {path!r}: {exc}") from exc
        return int(img.shape[0]), int(img.shape[1])
    try:
        with Image.open(path) as im:
            width, height = im.size
        return int(height), int(width)
    except Exception as exc:  # PIL raises many types for broken files
        raise DatasetError(f"unreadable image file {path!r}: {exc}") from exc


class CheckCache:
    """Results of the file checks of one dataset folder, valid while a file's size and mtime
    stay the same: ``<cache dir>/dataset_check/<hash of the folder>.json``.

    The cache dir is ``$MMSEG_UDA_CACHE_DIR`` or ``~/.cache/mmseg_uda``. A cache that cannot
    be read or written is ignored (the check then decodes every file, as without it).

    Args:
        data_root (str): the dataset folder.
        signature (str): how images are decoded (loader settings); entries of another
            signature are not used.
    """

    VERSION = 1

    def __init__(self, data_root: str, signature: str) -> None:
        root = os.environ.get("MMSEG_UDA_CACHE_DIR") or osp.join(
            osp.expanduser("~"), ".cache", "mmseg_uda")
        digest = hashlib.sha1(osp.abspath(data_root).encode()).hexdigest()[:16]
        self.path = osp.join(root, "dataset_check", f"{digest}.json")
        self.signature = signature
        self.entries: Dict[str, dict] = {}
        self.hits = 0
        with contextlib.suppress(OSError, ValueError, AttributeError):
            with open(self.path, encoding="utf-8") as f:
                data = json.load(f)
            if data.get("version") == self.VERSION and data.get("signature") == signature:
                self.entries = dict(data.get("entries", {}))
        self._new: Dict[str, dict] = {}

    @staticmethod
    def _stamp(path: str) -> List[int]:
        st = os.stat(path)
        return [int(st.st_size), int(st.st_mtime_ns)]

    def get(self, path: str) -> Optional[dict]:
        """The cached result of ``path`` if the file did not change since, else None."""
        entry = self.entries.get(osp.abspath(path))
        if entry is None:
            return None
        try:
            if entry.get("stamp") != self._stamp(path):
                return None
        except OSError:
            return None
        self.hits += 1
        return entry

    def put(self, path: str, **result) -> None:
        with contextlib.suppress(OSError):
            self._new[osp.abspath(path)] = dict(result, stamp=self._stamp(path))

    def save(self) -> None:
        """Write the cache atomically (temporary file + rename); errors are ignored."""
        if not self._new:
            return
        self.entries.update(self._new)
        self._new = {}
        try:
            os.makedirs(osp.dirname(self.path), exist_ok=True)
            tmp = f"{self.path}.{os.getpid()}.tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(dict(version=self.VERSION, signature=self.signature,
                               entries=self.entries), f)
            os.replace(tmp, self.path)
        except OSError:
            pass


def _read_mask(path: str) -> np.ndarray:
    mask = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if mask is None:
        raise DatasetError(f"unreadable mask file {path!r}")
    if mask.ndim == 3:
        raise DatasetError(
            f"mask {path!r} has {mask.shape[2]} channels; expected a single-channel uint8 PNG "
            "of class ids (0 = background, 255 = ignore), not a colour visualisation")
    if mask.dtype != np.uint8:
        raise DatasetError(f"mask {path!r} has dtype {mask.dtype}; expected uint8 class ids")
    return mask


@DATASETS.register_module()
class DefectDataset(BaseSegDataset):
    """Images (and optional masks) in ``ROOT/images`` and ``ROOT/masks``.

    Args:
        data_root (str): dataset root folder (``ROOT``).
        split (str | Sequence[str | None], optional): split file, relative to ``data_root``
            (e.g. ``'train.txt'``), one image name per line without extension. None or ``''``
            uses every image in ``images/``. A list gives candidates in order, the first that
            exists is read, and a None in it means every image: ``['train.txt', None]`` reads
            train.txt if present, else all images (see :func:`resolve_split`). Default: None.
        img_dir (str): image folder relative to ``data_root``. Default: ``'images'``.
        mask_dir (str): mask folder relative to ``data_root``. Default: ``'masks'``.
        with_masks (bool): whether masks exist (False for an unlabeled target domain).
            Default: True.
        validate (str): what is checked when the dataset is built: ``'full'`` decodes every
            image and mask (sizes, mask values, unreadable files), ``'header'`` reads image
            headers only and decodes the masks, ``'none'`` checks only that files exist.
            ``'full'`` decodes images with the pipeline's own ``LoadImageFromFile``, so an
            image that passes loads in training. Default: ``'full'``.
        num_workers (int): threads used for validation. Default: 4.
        check_cache (bool): remember the result of the check of every file (keyed by its
            size and modification time, see :class:`CheckCache`) so that later runs on the
            same folder decode only new or changed files. Default: True.
        metainfo (dict, optional): ``classes`` (tuple of names, background first) and
            ``palette`` (list of RGB triplets). Default: binary crack data.
        **kwargs: the remaining arguments of :class:`mmseg.datasets.BaseSegDataset`
            (``pipeline``, ``test_mode``, ``indices``, ``serialize_data``, ...).
    """

    METAINFO: dict = dict()

    def __init__(self, data_root: str, split: Optional[str] = None, img_dir: str = "images",
                 mask_dir: str = "masks", with_masks: bool = True, validate: str = "full",
                 num_workers: int = 4, metainfo: Optional[dict] = None,
                 check_cache: bool = True, **kwargs) -> None:
        if validate not in VALIDATE_LEVELS:
            raise ValueError(f"validate must be one of {VALIDATE_LEVELS}, got {validate!r}")
        for key in ("ann_file", "data_prefix", "img_suffix", "seg_map_suffix"):
            if key in kwargs:
                raise TypeError(
                    f"DefectDataset does not take {key!r}; use data_root, split, img_dir, "
                    "mask_dir (images may be .jpg/.jpeg/.png/.bmp/.tif, masks are .png)")
        metainfo = dict(metainfo or {})
        classes = tuple(metainfo.get("classes") or DEFAULT_CLASSES)
        if len(classes) < 2:
            raise ValueError(f"metainfo.classes needs background plus at least one defect class, "
                             f"got {classes}")
        if len(classes) > 255:
            raise ValueError(f"at most 255 classes fit uint8 masks with 255 = ignore, "
                             f"got {len(classes)}")
        metainfo["classes"] = classes
        if not metainfo.get("palette"):
            metainfo["palette"] = default_palette(len(classes))
        elif len(metainfo["palette"]) != len(classes):
            raise ValueError(f"metainfo.palette has {len(metainfo['palette'])} colours for "
                             f"{len(classes)} classes {classes}")
        self.split_request = split
        chosen, self.split_note = resolve_split(data_root or "", split)
        self.split = chosen or ""
        self.img_dir = img_dir
        self.mask_dir = mask_dir
        self.with_masks = bool(with_masks)
        self.validate = validate
        self.num_workers = max(1, int(num_workers))
        self.check_cache = bool(check_cache)
        super().__init__(data_root=data_root, ann_file=self.split, metainfo=metainfo,
                         data_prefix=dict(img_path=img_dir,
                                          seg_map_path=mask_dir if with_masks else None),
                         **kwargs)

    # ------------------------------------------------------------------ listing
    def _join_prefix(self) -> None:
        # Join relative to data_root like mmseg, but keep ``seg_map_path=None`` for unlabeled.
        root = self.data_root
        if self.ann_file and not osp.isabs(self.ann_file):
            self.ann_file = osp.join(root, self.ann_file)
        for key, prefix in self.data_prefix.items():
            if prefix and not osp.isabs(prefix):
                self.data_prefix[key] = osp.join(root, prefix)

    def _index_images(self, img_dir: str) -> Dict[str, str]:
        index: Dict[str, str] = {}
        for fname in sorted(os.listdir(img_dir)):
            stem, ext = osp.splitext(fname)
            if ext.lower() not in IMG_EXTENSIONS or not osp.isfile(osp.join(img_dir, fname)):
                continue
            if stem in index:
                raise DatasetError(
                    f"two images share the name {stem!r} in {img_dir!r}: "
                    f"{osp.basename(index[stem])!r} and {fname!r}")
            index[stem] = osp.join(img_dir, fname)
        return index

    def load_data_list(self) -> List[dict]:
        """List the samples and check them (see ``validate``)."""
        root = self.data_root
        if not root or not osp.isdir(root):
            raise DatasetError(f"dataset folder not found: {root!r} (data_root)")
        img_dir = self.data_prefix["img_path"]
        if not osp.isdir(img_dir):
            raise DatasetError(f"image folder not found: {img_dir!r} (expected ROOT/{self.img_dir}"
                               f" inside data_root={root!r})")
        mask_dir = self.data_prefix.get("seg_map_path")
        if self.with_masks and not osp.isdir(mask_dir):
            role = ("evaluation set" if self.test_mode else "labeled training set")
            raise DatasetError(
                f"mask folder not found: {mask_dir!r}, needed by this {role} "
                f"(data_root={root!r}, split={self.split or 'all images'}); an unlabeled folder "
                "can only be a UDA target (tools/train.py then trains without evaluation) or "
                "the input of tools/predict.py")
        if self.with_masks:  # an unlabeled folder's class ids are never read
            check_meta_classes(root, self._metainfo["classes"])
        index = self._index_images(img_dir)
        if not index:
            raise DatasetError(f"no images in {img_dir!r} (accepted extensions: "
                               f"{', '.join(IMG_EXTENSIONS)})")
        if self.ann_file:
            if not osp.isfile(self.ann_file):
                tried = [c for c in self.split_request or () if c] \
                    if not isinstance(self.split_request, str) else []
                also = f" (tried {tried})" if len(tried) > 1 else ""
                raise DatasetError(f"split file not found: {self.ann_file!r}{also}")
            names = _read_split(self.ann_file)
            if not names:
                raise DatasetError(f"split file {self.ann_file!r} lists no images")
            missing = [n for n in names if n not in index]
            if missing:
                raise DatasetError(
                    f"{len(missing)} name(s) in split file {self.ann_file!r} have no image in "
                    f"{img_dir!r}, e.g. {missing[:5]}")
        else:
            names = list(index)
        names = self.select_names(names)
        data_list = []
        for name in names:
            info = dict(img_path=index[name], name=name, label_map=self.label_map,
                        reduce_zero_label=self.reduce_zero_label, seg_fields=[])
            if self.with_masks:
                seg_path = osp.join(mask_dir, name + MASK_SUFFIX)
                if not osp.isfile(seg_path):
                    raise DatasetError(
                        f"image {index[name]!r} has no mask: expected {seg_path!r}")
                info["seg_map_path"] = seg_path
            data_list.append(info)
        self._check_files(data_list)
        return data_list

    def select_names(self, names: List[str]) -> List[str]:
        """The images of the split this dataset uses (all of them; subclasses choose), before
        any file is checked."""
        return names

    # ------------------------------------------------------------------ checks
    def image_loader(self):
        """The pipeline's image loader (what training decodes images with).

        The first transform of the pipeline with a ``read(path)`` method (the project's
        ``LoadImageFromFile``), else a default ``LoadImageFromFile``.
        """
        from .transforms.loading import LoadImageFromFile  # late: transforms import this module

        for transform in getattr(self.pipeline, "transforms", []):
            if callable(getattr(transform, "read", None)):
                return transform
        return LoadImageFromFile()

    def _check_one(self, info: dict, loader=None,
                   cache: Optional[CheckCache] = None) -> Optional[np.ndarray]:
        """Check one sample; return the mask's class histogram (or None without masks)."""
        if self.validate == "none":
            return None
        img_path = info["img_path"]
        cached = cache.get(img_path) if cache is not None else None
        if cached is not None:
            size = tuple(cached["shape"])
        else:
            size = _image_size(img_path, loader if self.validate == "full" else None)
            if cache is not None and self.validate == "full":
                cache.put(img_path, shape=list(size))
        if not self.with_masks:
            return None
        mask_path = info["seg_map_path"]
        cached = cache.get(mask_path) if cache is not None else None
        if cached is not None:
            mask_size = tuple(cached["shape"])
            hist = np.zeros(256, np.int64)
            for value, count in cached["hist"].items():
                hist[int(value)] = count
        else:
            mask = _read_mask(mask_path)
            mask_size = mask.shape[:2]
            hist = np.bincount(mask.ravel(), minlength=256)
        if mask_size != size:
            raise DatasetError(
                f"mask {mask_path!r} is {mask_size[1]}x{mask_size[0]} (WxH) but its "
                f"image {img_path!r} is {size[1]}x{size[0]}")
        num_classes = len(self._metainfo["classes"])
        bad = [v for v in np.flatnonzero(hist) if num_classes <= v < 255]
        if bad:
            raise DatasetError(
                f"mask {info['seg_map_path']!r} has values {[int(v) for v in bad]} outside the "
                f"{num_classes} classes {tuple(self._metainfo['classes'])} (allowed: "
                f"0..{num_classes - 1} and 255 = ignore)")
        if cache is not None and cached is None:
            cache.put(mask_path, shape=list(mask_size),
                      hist={str(v): int(hist[v]) for v in np.flatnonzero(hist)})
        return hist

    def _check_files(self, data_list: Sequence[dict]) -> None:
        if self.validate == "none":
            return
        loader = self.image_loader() if self.validate == "full" else None
        cache = None
        if self.check_cache:
            signature = repr(loader) if loader is not None else "header"
            cache = CheckCache(self.data_root, f"{self.validate}|{signature}")
        try:
            with ThreadPoolExecutor(max_workers=self.num_workers) as pool:
                hists = list(pool.map(lambda info: self._check_one(info, loader, cache),
                                      data_list))
        finally:
            if cache is not None:
                cache.save()  # the files checked so far stay valid after an error
        cached = f" ({cache.hits} file checks from the cache)" if cache and cache.hits else ""
        split = self.split or "all"
        if self.split_note:
            split = f"{split} ({self.split_note})"
        if self.with_masks:
            total = np.sum([h for h in hists if h is not None], axis=0)
            num_classes = len(self._metainfo["classes"])
            if total[1:num_classes].sum() == 0 and total[255] > 0:
                raise DatasetError(
                    f"the masks in {self.data_prefix['seg_map_path']!r} hold only 0 and 255: "
                    "this looks like black-and-white masks, where 255 would mean 'ignore' here. "
                    "Store class ids instead (e.g. mask // 255 for a binary defect), keeping 255 "
                    "only for pixels to ignore")
            freq = total[:num_classes] / max(1, total[:num_classes].sum())
            self.class_pixel_fraction = freq.tolist()
            summary = ", ".join(f"{c}={f:.4f}" for c, f in
                                zip(self._metainfo["classes"], freq))
            print_log(f"{type(self).__name__} {self.data_root!r} split={split}: "
                      f"{len(data_list)} images, pixel fractions {summary}{cached}",
                      logger="current")
        else:
            print_log(f"{type(self).__name__} {self.data_root!r} split={split}: "
                      f"{len(data_list)} unlabeled images{cached}", logger="current")
