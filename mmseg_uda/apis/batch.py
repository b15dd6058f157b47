"""Prediction over many images into an output folder (the work of ``tools/predict.py``).

One call of :func:`mmseg_uda.deploy.outputs.predict_to_folder`, the code of the ONNX runner
(``python -m mmseg_uda.deploy.predict``), with PyTorch probabilities: the same names, verdicts,
regions, masks (grey class ids, or palette PNGs with ``mask_palette=True``, tools/predict.py's
default) and pictures (:mod:`mmseg_uda.deploy.visualize`: labels only on regions large enough
to read plus one region count per image, colour bars on the heat and attention maps).
"""

from __future__ import annotations

from typing import Callable, Dict, Optional, Sequence

import torch.nn as nn

from ..deploy.outputs import FOLDERS, predict_to_folder, verdict_rows, write_image_outputs
from .inference import predict_image
from .thresholds import Thresholds

__all__ = ["FOLDERS", "predict_files", "verdict_rows", "write_pictures"]

# the pictures of one image (the former name, kept for old imports)
write_pictures = write_image_outputs


def predict_files(model: nn.Module, paths: Sequence[str], out_dir: str,
                  thresholds: Optional[Thresholds] = None, window: Optional[int] = None,
                  stride: Optional[int] = None, save_images: bool = True,
                  save_panels: bool = False, progress: bool = True,
                  meta: Optional[dict] = None,
                  log: Optional[Callable[[str], None]] = None, tta: Optional[dict] = None,
                  names: Optional[Dict[str, str]] = None,
                  write_summary_files: bool = True, mask_palette: bool = False) -> dict:
    """Predict every image, write masks / pictures, and return (and write) the run summary.

    A file that cannot be read, or whose prediction fails, is recorded under ``errors`` and
    skipped; the other images are still processed.

    Args:
        model (nn.Module): a model from :func:`~mmseg_uda.apis.init_model`.
        paths (Sequence[str]): image files.
        out_dir (str): output folder (created; layout in :mod:`mmseg_uda.deploy.outputs`).
        thresholds (Thresholds, optional): verdict thresholds. Default: ``Thresholds()``.
        window (int, optional): sliding-window tile side in pixels. Default: None (whole image).
        stride (int, optional): tile step in pixels. Default: ``window // 2``.
        save_images (bool): write masks, overlays, heat maps (and attention maps).
            Default: True.
        save_panels (bool): also write image | overlay | heat map [| attention] panels.
            Default: False.
        progress (bool): show a tqdm progress bar. Default: True.
        meta (dict, optional): extra top-level entries of the JSON (config, checkpoint).
            Default: None.
        log (callable, optional): receives one message per skipped file. Default: None.
        tta (dict, optional): test-time augmentation ``dict(flips=..., scales=...)`` (see
            :func:`~mmseg_uda.apis.tta.tta_outputs`). Default: None (none).
        names (dict[str, str], optional): output name per path (one rank's part of a larger
            list). Default: the unique stems of ``paths``.
        write_summary_files (bool): write ``predictions.json`` / ``verdicts.csv``.
            Default: True.
        mask_palette (bool): masks as palette PNGs (class ids as pixel values, shown in the
            class colours; read the ids with PIL) instead of grey class-id PNGs.
            Default: False.

    Returns:
        dict: the content of ``OUT/predictions.json``: ``schema_version``, ``classes``,
        ``thresholds``, ``inference``, ``images`` (one entry per predicted image: ``image``,
        ``name``, ``height``, ``width``, ``verdict``, ``score``, ``defect_pixels``, ``regions``,
        ``outputs``), ``errors`` (``image``, ``error``), ``summary`` and ``meta`` entries.
    """
    thresholds = thresholds or Thresholds()
    inference = dict(window=window, stride=(stride or max(1, window // 2)) if window else None,
                     mode="tiled" if window else "whole image (model test_cfg)")
    if tta:
        inference["tta"] = {k: list(v) for k, v in tta.items()}
    return predict_to_folder(
        lambda img: predict_image(model, img, thresholds, window=window, stride=stride, tta=tta),
        paths, out_dir, model.dataset_meta["classes"], model.dataset_meta["palette"],
        thresholds, inference, names=names, save_images=save_images, save_panels=save_panels,
        progress=progress, meta=meta, log=log, write_summary_files=write_summary_files,
        mask_palette=mask_palette)
