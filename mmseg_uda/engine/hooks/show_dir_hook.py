"""One picture per test image: image | truth | prediction, titled (``tools/test.py --show-dir``).

MMSeg's ``SegVisualizationHook`` writes the truth and the prediction side by side without
titles, under ``vis_data/vis_image`` and only every ``interval``-th image; an inspector wants
every image, in the folder asked for, with columns that say what they are.
"""

from __future__ import annotations

import os
import os.path as osp
from typing import Optional, Sequence

import numpy as np
from mmengine.hooks import Hook
from mmseg.registry import HOOKS

# Used when the test dataset's metainfo has no palette: background black, then distinct colours.
_FALLBACK_PALETTE = [[0, 0, 0], [255, 0, 0], [0, 200, 0], [0, 90, 255], [255, 200, 0],
                     [200, 0, 255], [0, 220, 220], [255, 120, 120]]


@HOOKS.register_module()
class ShowDirHook(Hook):
    """Write ``<out_dir>/<image stem>.png`` for every test image: the image, the truth and the
    prediction tinted over it, each column titled (a missing truth is said so).

    Args:
        out_dir (str): output folder (created).
        alpha (float): opacity of the class tint. Default: 0.55.
    """

    priority = "LOW"

    def __init__(self, out_dir: str, alpha: float = 0.55) -> None:
        self.out_dir = out_dir
        self.alpha = alpha
        self._names: set = set()

    def before_test(self, runner) -> None:
        os.makedirs(self.out_dir, exist_ok=True)
        self._names = set()
        meta = getattr(runner.test_dataloader.dataset, "metainfo", None) or {}
        self.classes: Sequence[str] = meta.get("classes") or ()
        self.palette = [list(c) for c in (meta.get("palette") or _FALLBACK_PALETTE)]

    def after_test_iter(self, runner, batch_idx: int, data_batch=None,
                        outputs: Optional[Sequence] = None) -> None:
        for sample in outputs or ():
            picture = self.picture(sample)
            if picture is not None:
                self._write(sample.metainfo.get("img_path"), picture)

    def picture(self, sample) -> Optional[np.ndarray]:
        """The titled image | truth | prediction panel of one data sample (BGR uint8)."""
        from mmseg_uda.apis import load_image, overlay, panel

        path = sample.metainfo.get("img_path")
        if path is None or "pred_sem_seg" not in sample:
            return None
        img = load_image(path)
        pred = _ids(sample.pred_sem_seg)
        palette = self.palette + _FALLBACK_PALETTE[len(self.palette):]
        columns, titles = [img], ["image"]
        if "gt_sem_seg" in sample:
            truth = _ids(sample.gt_sem_seg)
            columns.append(overlay(img, _fit(truth, img), palette, alpha=self.alpha))
            titles.append("truth")
        else:
            columns.append(np.full_like(img, 255))
            titles.append("truth: none")
        columns.append(overlay(img, _fit(pred, img), palette, alpha=self.alpha))
        titles.append("prediction")
        return panel(columns, titles)

    def _write(self, path: str, picture: np.ndarray) -> None:
        import cv2

        stem = osp.splitext(osp.basename(path))[0]
        name, n = stem, 1
        while name in self._names:  # same stem in two folders: keep both
            n += 1
            name = f"{stem}_{n}"
        self._names.add(name)
        cv2.imwrite(osp.join(self.out_dir, f"{name}.png"), picture)


def _ids(pixel_data) -> np.ndarray:
    data = pixel_data.data
    data = data.cpu().numpy() if hasattr(data, "cpu") else np.asarray(data)
    return data.squeeze(0).astype(np.int64) if data.ndim == 3 else data.astype(np.int64)


def _fit(mask: np.ndarray, img: np.ndarray) -> np.ndarray:
    """The mask at the image's size (nearest neighbour), ignore index (255) as background."""
    import cv2

    mask = np.where(mask == 255, 0, mask)
    if mask.shape != img.shape[:2]:
        mask = cv2.resize(mask.astype(np.uint8), (img.shape[1], img.shape[0]),
                          interpolation=cv2.INTER_NEAREST).astype(np.int64)
    return mask
