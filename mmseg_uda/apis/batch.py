"""Prediction over many images into an output folder (the work of ``tools/predict.py``).

Output layout (names are the image stems, made unique)::

    OUT/predictions.json     every verdict, region and score; unreadable files under "errors"
    OUT/verdicts.csv         one row per image: verdict, score, region count (for spreadsheets)
    OUT/masks/<name>.png     uint8 class ids (0 = background), the thresholded mask
    OUT/overlays/<name>.png  image + tinted defects + boxes + verdict
    OUT/heatmaps/<name>.png  defect probability (1 - p(background)), JET colours over the image
    OUT/attention/<name>.png the model's scale attention (only for models that provide one)
    OUT/panels/<name>.png    all of the above side by side (with save_panels)
"""

from __future__ import annotations

import datetime
import json
import os
import os.path as osp
from typing import Callable, Optional, Sequence

import cv2
import torch.nn as nn
from tqdm import tqdm

from ..evaluation.report import write_csv
from .files import load_image, unique_stems
from .inference import predict_image
from .postprocess import DEFECT
from .thresholds import Thresholds
from .visualize import heatmap, overlay, panel

SCHEMA_VERSION = 1
# output kind -> sub-folder
FOLDERS = dict(mask="masks", overlay="overlays", heatmap="heatmaps", attention="attention",
               panel="panels")


def _write_png(path: str, img) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    ok, buf = cv2.imencode(".png", img)
    if not ok:
        raise OSError(f"could not encode {path!r}")
    buf.tofile(path)


def predict_files(model: nn.Module, paths: Sequence[str], out_dir: str,
                  thresholds: Optional[Thresholds] = None, window: Optional[int] = None,
                  stride: Optional[int] = None, save_images: bool = True,
                  save_panels: bool = False, progress: bool = True,
                  meta: Optional[dict] = None,
                  log: Optional[Callable[[str], None]] = None) -> dict:
    """Predict every image, write masks / pictures, and return (and write) the run summary.

    A file that cannot be read, or whose prediction fails, is recorded under ``errors`` and
    skipped; the other images are still processed.

    Args:
        model (nn.Module): a model from :func:`~mmseg_uda.apis.init_model`.
        paths (Sequence[str]): image files.
        out_dir (str): output folder (created; see the module docstring for the layout).
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

    Returns:
        dict: the content of ``OUT/predictions.json``: ``schema_version``, ``classes``,
        ``thresholds``, ``inference``, ``images`` (one entry per predicted image: ``image``,
        ``name``, ``height``, ``width``, ``verdict``, ``score``, ``defect_pixels``, ``regions``,
        ``outputs``), ``errors`` (``image``, ``error``), ``summary`` and ``meta`` entries.
    """
    thresholds = thresholds or Thresholds()
    classes = list(model.dataset_meta["classes"])
    palette = model.dataset_meta["palette"]
    names = unique_stems(paths)
    images, errors = [], []
    for path in tqdm(paths, desc="predict", unit="img", disable=not progress):
        try:
            img = load_image(path)
            result = predict_image(model, img, thresholds, window=window, stride=stride)
        except Exception as exc:  # one bad file must not stop the folder
            errors.append(dict(image=path, error=f"{type(exc).__name__}: {exc}"))
            if log:
                log(f"skipped {path!r}: {type(exc).__name__}: {exc}")
            continue
        name = names[path]
        outputs = {}
        if save_images:
            pictures = dict(
                mask=result["mask"],
                overlay=overlay(img, result["mask"], palette, result["regions"],
                                result["verdict"]),
                heatmap=heatmap(img, result["defect_prob"]))
            titles = ["image", f"prediction: {result['verdict']}", "defect probability"]
            if result["attention"] is not None:
                pictures["attention"] = heatmap(img, result["attention"],
                                                colormap=cv2.COLORMAP_VIRIDIS)
                titles.append("scale attention")
            if save_panels:
                shown = [pictures[k] for k in ("overlay", "heatmap", "attention")
                         if k in pictures]
                pictures["panel"] = panel([img] + shown, titles)
            for kind, picture in pictures.items():
                rel = f"{FOLDERS[kind]}/{name}.png"
                _write_png(osp.join(out_dir, rel), picture)
                outputs[kind] = rel
        entry = dict(image=path, name=name, height=result["height"], width=result["width"],
                     verdict=result["verdict"], score=result["score"],
                     defect_pixels=result["defect_pixels"], regions=result["regions"],
                     outputs=outputs)
        if result["attention"] is not None:
            att = result["attention"]
            defect = result["mask"] > 0
            entry["attention"] = dict(
                mean=round(float(att.mean()), 4),
                mean_on_defects=round(float(att[defect].mean()), 4) if defect.any() else None)
        images.append(entry)
    num_defect = sum(e["verdict"] == DEFECT for e in images)
    summary = dict(
        schema_version=SCHEMA_VERSION, classes=classes, thresholds=thresholds.to_dict(),
        inference=dict(window=window, stride=(stride or max(1, window // 2)) if window else None,
                       mode="tiled" if window else "whole image (model test_cfg)"),
        date=datetime.datetime.now().isoformat(timespec="seconds"), **(meta or {}),
        summary=dict(num_inputs=len(paths), num_images=len(images), num_defect=num_defect,
                     num_ok=len(images) - num_defect, num_errors=len(errors)),
        images=images, errors=errors)
    os.makedirs(out_dir, exist_ok=True)
    with open(osp.join(out_dir, "predictions.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
    write_csv(verdict_rows(summary), osp.join(out_dir, "verdicts.csv"))
    return summary


def verdict_rows(summary: dict) -> list:
    """One row per input of a run summary: predicted images, then skipped files.

    Args:
        summary (dict): the content of ``predictions.json``.

    Returns:
        list[dict]: ``image``, ``verdict`` (``defect`` / ``OK`` / ``error``),
        ``largest_region_area``, ``max_defect_prob``, ``num_regions``, ``defect_pixels``,
        ``error``.
    """
    rows = [dict(image=e["image"], verdict=e["verdict"],
                 largest_region_area=e["score"]["largest_region_area"],
                 max_defect_prob=e["score"]["max_defect_prob"], num_regions=len(e["regions"]),
                 defect_pixels=e["defect_pixels"], error="") for e in summary["images"]]
    rows += [dict(image=e["image"], verdict="error", largest_region_area="",
                  max_defect_prob="", num_regions="", defect_pixels="", error=e["error"])
             for e in summary["errors"]]
    return rows
