"""Photos without labels for self-supervised pretraining (``tools/pretrain.py``).

One or more folders of the project layout (``ROOT/images`` and a split file), images only:
the target's ``train.txt`` and, optionally, the generated source's. Every image is checked like
a :class:`~mmseg_uda.datasets.DefectDataset` checks it (the same code), so an empty folder, a
split without images or an unreadable file stop the run with one line before the first
iteration. A folder's evaluation images (``test.txt`` / ``val.txt``) are never read unless asked.
"""

from __future__ import annotations

import copy
import os.path as osp
from typing import List, Optional, Sequence, Union

from mmseg.registry import DATASETS

from .defect_dataset import DatasetError, DefectDataset, resolve_split

EVALUATION_SPLITS = ("test.txt", "val.txt")


def check_not_evaluation(root: str, split: Optional[str], allow: bool) -> None:
    """Refuse to pretrain on a folder's evaluation images (unless ``allow``).

    Args:
        root (str): the folder.
        split (str | None): the split file chosen (None: every image of ``images/``).
        allow (bool): ``allow_test_images`` of the dataset.

    Raises:
        DatasetError: ``split`` is test.txt / val.txt, or every image of a folder that has one.
    """
    if allow:
        return
    if split and osp.basename(split) in EVALUATION_SPLITS:
        raise DatasetError(
            f"pretraining split {split!r} of {root!r} is an evaluation split: pretraining on "
            "the images a model is scored on inflates its scores; use train.txt (or "
            "allow_test_images=True if you know what you do)")
    if split is None:
        found = [s for s in EVALUATION_SPLITS if osp.isfile(osp.join(root, s))]
        if found:
            raise DatasetError(
                f"{root!r} has {found[0]} but no train.txt: pretraining on every image would "
                f"include the evaluation images of {found[0]}; write a train.txt (the images "
                "that are not evaluated) or set allow_test_images=True")


@DATASETS.register_module()
class UnlabeledImageDataset(DefectDataset):
    """Images of one or more folders, no masks: the data of self-supervised pretraining.

    Args:
        data_root (str): the first folder (``ROOT/images``), e.g. the UDA target.
        split (str | Sequence[str | None]): split file (candidates, as in
            :class:`DefectDataset`) read in every folder. Default: ``['train.txt', None]``
            (train.txt, else every image — refused when the folder has a test.txt / val.txt).
        extra_roots (str | Sequence[str]): more folders read with the same split, e.g. the
            generated source. Default: ().
        allow_test_images (bool): allow evaluation splits. Default: False.
        validate, num_workers, check_cache, metainfo, img_dir, **kwargs: as
            :class:`DefectDataset` (``pipeline``, ``serialize_data``, ...).
    """

    def __init__(self, data_root: str,
                 split: Union[str, Sequence[Optional[str]], None] = ("train.txt", None),
                 extra_roots: Union[str, Sequence[str]] = (), allow_test_images: bool = False,
                 **kwargs) -> None:
        for key in ("with_masks", "mask_dir"):
            if key in kwargs:
                raise TypeError(f"UnlabeledImageDataset reads images only; it takes no {key!r}")
        if isinstance(extra_roots, str):
            extra_roots = [extra_roots]
        self.extra_roots: List[str] = [str(r) for r in extra_roots or ()]
        self.allow_test_images = bool(allow_test_images)
        self._child_kwargs = {k: copy.deepcopy(kwargs[k]) for k in
                              ("img_dir", "validate", "num_workers", "check_cache", "pipeline")
                              if k in kwargs}
        if split is not None and not isinstance(split, str):
            split = list(split)
        super().__init__(data_root=data_root, split=split, with_masks=False, **kwargs)

    def load_data_list(self) -> List[dict]:
        """Every folder's images (the first folder's, then each extra folder's), checked."""
        check_not_evaluation(self.data_root, self.split or None, self.allow_test_images)
        data_list = super().load_data_list()
        classes = dict(classes=self._metainfo["classes"], palette=self._metainfo["palette"])
        for root in self.extra_roots:
            chosen, _ = resolve_split(root, self.split_request)
            check_not_evaluation(root, chosen, self.allow_test_images)
            other = DefectDataset(data_root=root, split=self.split_request, with_masks=False,
                                  metainfo=classes, serialize_data=False, **self._child_kwargs)
            data_list.extend(other.data_list)
        return data_list
