"""Prediction over many images into an output folder (the work of ``tools/predict.py``).

The output layout and the JSON / CSV summary are those of
:mod:`mmseg_uda.deploy.outputs`, shared with the ONNX runner
(``python -m mmseg_uda.deploy.predict``): the same names, verdicts, regions and class-id
masks. The pictures are drawn for reading on real photos (:mod:`mmseg_uda.apis.visualize`):
labels only on regions large enough to read plus one region count per image, colour bars on
the heat and attention maps, and (``mask_palette=True``, tools/predict.py's default) masks as
palette PNGs.
"""

from __future__ import annotations

import os.path as osp
from typing import Callable, Dict, Optional, Sequence

import cv2
import numpy as np
import torch.nn as nn

from ..deploy.outputs import (
    FOLDERS,
    _progress,
    _write_png,
    merge_summaries,
    predict_to_folder,
    verdict_rows,
    write_summary,
)
from .files import unique_stems
from .inference import predict_image
from .thresholds import Thresholds
from .visualize import (
    default_label_min_area,
    heatmap,
    panel,
    readable_overlay,
    with_colour_bar,
    write_palette_png,
)

__all__ = ["FOLDERS", "predict_files", "verdict_rows", "write_pictures"]


def write_pictures(img: np.ndarray, result: dict, out_dir: str, name: str,
                   palette: Sequence[Sequence[int]], thresholds: Thresholds,
                   save_panels: bool = False, mask_palette: bool = False) -> Dict[str, str]:
    """Write the mask, overlay, heat map (attention, panel) PNGs of one image.

    Args:
        img (np.ndarray): (H, W, 3) uint8 BGR image.
        result (dict): from :func:`~mmseg_uda.deploy.outputs.inspect_probabilities`.
        out_dir (str): output folder; files go to the sub-folders of ``FOLDERS``.
        name (str): file stem.
        palette (Sequence[Sequence[int]]): RGB colour per class.
        thresholds (Thresholds): the verdict thresholds (the label size follows min_area).
        save_panels (bool): also write the side-by-side panel. Default: False.
        mask_palette (bool): the mask as a palette PNG (ids shown in colour) instead of a
            grey class-id PNG. Default: False.

    Returns:
        dict[str, str]: output kind -> path relative to ``out_dir``.
    """
    height, width = img.shape[:2]
    label_min = default_label_min_area(height, width, thresholds.min_area)
    pictures = dict(
        overlay=readable_overlay(img, result["mask"], palette, result["regions"],
                                 result["verdict"], label_min_area=label_min),
        heatmap=with_colour_bar(heatmap(img, result["defect_prob"]), "defect probability"))
    titles = ["image", f"prediction: {result['verdict']}", "defect probability"]
    if result["attention"] is not None:
        pictures["attention"] = with_colour_bar(
            heatmap(img, result["attention"], colormap=cv2.COLORMAP_VIRIDIS),
            "scale attention", colormap=cv2.COLORMAP_VIRIDIS)
        titles.append("scale attention")
    if save_panels:
        shown = [pictures[k] for k in ("overlay", "heatmap", "attention") if k in pictures]
        pictures["panel"] = panel([img] + shown, titles)
    outputs = {"mask": f"{FOLDERS['mask']}/{name}.png"}
    if mask_palette:
        write_palette_png(osp.join(out_dir, outputs["mask"]), result["mask"], palette)
    else:
        _write_png(osp.join(out_dir, outputs["mask"]), result["mask"])
    for kind, picture in pictures.items():
        outputs[kind] = f"{FOLDERS[kind]}/{name}.png"
        _write_png(osp.join(out_dir, outputs[kind]), picture)
    return outputs


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
            class colours; read the ids with PIL) instead of grey class-id PNGs (what the ONNX
            runner writes). Default: False.

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
    classes, palette = model.dataset_meta["classes"], model.dataset_meta["palette"]
    names = names or unique_stems(paths)
    common = dict(classes=classes, palette=palette, thresholds=thresholds, inference=inference,
                  save_images=False, progress=False, meta=meta, log=log,
                  write_summary_files=False)
    if not paths:
        summary = predict_to_folder(lambda img: None, [], out_dir, **common)
    else:
        parts = []
        for path in _progress(paths, progress):
            seen = {}

            def predict(img, seen=seen):
                seen["img"] = img
                seen["result"] = predict_image(model, img, thresholds, window=window,
                                               stride=stride, tta=tta)
                return seen["result"]

            # one image at a time through the shared runner: same entries, errors, names
            part = predict_to_folder(predict, [path], out_dir, names={path: names[path]},
                                     **common)
            if save_images and part["images"]:
                part["images"][0]["outputs"] = write_pictures(
                    seen["img"], seen["result"], out_dir, names[path], palette, thresholds,
                    save_panels, mask_palette)
            parts.append(part)
        summary = merge_summaries(parts, paths)
    if write_summary_files:
        write_summary(summary, out_dir)
    return summary

