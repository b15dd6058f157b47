"""The inspection outputs of a prediction run, whatever produced the probabilities.

``tools/predict.py`` (PyTorch) and ``python -m mmseg_uda.deploy.predict`` (ONNX Runtime) both
turn class probabilities into the same result (:func:`inspect_probabilities`) and write the same
folder (:func:`predict_to_folder`); names are the image stems, made unique::

    OUT/predictions.json     every verdict, region and score; unreadable files under "errors"
    OUT/verdicts.csv         one row per image: verdict, score, region count (for spreadsheets)
    OUT/masks/<name>.png     uint8 class ids (0 = background), the thresholded mask: grey, or
                             a palette PNG shown in the class colours (mask_palette)
    OUT/overlays/<name>.png  image + tinted defects + the verdict with the region count; box
                             and label on the largest regions of a readable size
    OUT/heatmaps/<name>.png  defect probability (1 - p(background)), JET colours over the
                             image, with a colour bar
    OUT/attention/<name>.png the model's scale attention (only for models that provide one)
    OUT/panels/<name>.png    all of the above side by side (with save_panels)

numpy and OpenCV only: no torch, MMEngine or MMSeg.
"""

from __future__ import annotations

import csv
import datetime
import json
import os
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence

import cv2
import numpy as np

from .files import load_image, unique_stems
from .postprocess import (
    DEFECT,
    defect_probability,
    defect_regions,
    image_verdict,
    threshold_mask,
)
from .thresholds import Thresholds
from .visualize import (
    default_label_min_area,
    heatmap,
    panel,
    readable_overlay,
    with_colour_bar,
    write_palette_png,
)

SCHEMA_VERSION = 1
# output kind -> sub-folder
FOLDERS = dict(mask="masks", overlay="overlays", heatmap="heatmaps", attention="attention",
               panel="panels")
SUMMARY_FILE = "predictions.json"
CSV_FILE = "verdicts.csv"


def inspect_probabilities(probs: np.ndarray, classes: Sequence[str], thresholds: Thresholds,
                          attention: Optional[np.ndarray] = None) -> dict:
    """Mask, defect regions, verdict and scores of one image from its class probabilities.

    Args:
        probs (np.ndarray): (C, H, W) float class probabilities (softmax) at image size.
        classes (Sequence[str]): class names, background first.
        thresholds (Thresholds): pixel threshold and minimum defect area (pixels).
        attention (np.ndarray, optional): (H, W) scale-attention map. Default: None.

    Returns:
        dict: ``mask`` (H, W) uint8 class ids; ``probs``; ``defect_prob`` (H, W) float32 =
        1 − p(background); ``attention``; ``regions`` (those of at least ``min_area`` pixels);
        ``verdict``; ``score`` (``max_defect_prob``, ``largest_region_area`` in pixels);
        ``defect_pixels``; ``thresholds`` (dict); ``height``, ``width``.
    """
    probs = np.asarray(probs, dtype=np.float32)
    if probs.ndim != 3 or probs.shape[0] != len(classes):
        raise ValueError(f"expected ({len(classes)}, H, W) probabilities for classes "
                         f"{tuple(classes)}, got shape {probs.shape}")
    mask = threshold_mask(probs, thresholds.pixel_threshold)
    all_regions = defect_regions(mask, probs, list(classes), min_area=1)
    regions = [r for r in all_regions if r["area"] >= thresholds.min_area]
    defect_prob = defect_probability(probs)
    return dict(
        mask=mask, probs=probs, defect_prob=defect_prob, attention=attention,
        regions=regions, verdict=image_verdict(regions, thresholds.min_area),
        score=dict(max_defect_prob=round(float(defect_prob.max()), 4),
                   largest_region_area=all_regions[0]["area"] if all_regions else 0),
        defect_pixels=int((mask > 0).sum()), thresholds=thresholds.to_dict(),
        height=int(probs.shape[1]), width=int(probs.shape[2]))


def _write_png(path: str, img: np.ndarray) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    ok, buf = cv2.imencode(".png", img)
    if not ok:
        raise OSError(f"could not encode {path!r}")
    buf.tofile(path)


def write_image_outputs(img: np.ndarray, result: dict, out_dir: str, name: str,
                        palette: Sequence[Sequence[int]],
                        thresholds: Optional[Thresholds] = None, save_panels: bool = False,
                        mask_palette: bool = False) -> Dict[str, str]:
    """Write the mask, overlay, heat map (attention, panel) PNGs of one image.

    The overlay labels only the regions large enough to read
    (:func:`~.visualize.default_label_min_area`) and writes the verdict with the region count;
    heat and attention maps carry a colour bar.

    Args:
        img (np.ndarray): (H, W, 3) uint8 BGR image.
        result (dict): from :func:`inspect_probabilities`.
        out_dir (str): output folder; files go to the sub-folders of ``FOLDERS``.
        name (str): file stem.
        palette (Sequence[Sequence[int]]): RGB colour per class.
        thresholds (Thresholds, optional): the verdict thresholds (the smallest labelled region
            follows ``min_area``). Default: ``Thresholds()``.
        save_panels (bool): also write the side-by-side panel. Default: False.
        mask_palette (bool): the mask as a palette PNG (ids shown in the class colours) instead
            of a grey class-id PNG. Default: False.

    Returns:
        dict[str, str]: output kind -> path relative to ``out_dir``.
    """
    thresholds = thresholds or Thresholds()
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


def image_entry(path: str, name: str, result: dict, outputs: Dict[str, str]) -> dict:
    """The ``images`` entry of ``predictions.json`` for one predicted image."""
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
    return entry


def build_summary(images: List[dict], errors: List[dict], num_inputs: int,
                  classes: Sequence[str], thresholds: Thresholds, inference: dict,
                  meta: Optional[dict] = None) -> dict:
    """The content of ``predictions.json`` from the image entries and skipped files."""
    num_defect = sum(e["verdict"] == DEFECT for e in images)
    return dict(
        schema_version=SCHEMA_VERSION, classes=list(classes), thresholds=thresholds.to_dict(),
        inference=inference, date=datetime.datetime.now().isoformat(timespec="seconds"),
        **(meta or {}),
        summary=dict(num_inputs=num_inputs, num_images=len(images), num_defect=num_defect,
                     num_ok=len(images) - num_defect, num_errors=len(errors)),
        images=images, errors=errors)


def predict_to_folder(predict: Callable[[np.ndarray], dict], paths: Sequence[str],
                      out_dir: str, classes: Sequence[str],
                      palette: Sequence[Sequence[int]], thresholds: Thresholds, inference: dict,
                      names: Optional[Dict[str, str]] = None, save_images: bool = True,
                      save_panels: bool = False, progress: bool = True,
                      meta: Optional[dict] = None, log: Optional[Callable[[str], None]] = None,
                      write_summary_files: bool = True, mask_palette: bool = False) -> dict:
    """Predict every image with ``predict``, write its pictures, and return the run summary.

    A file that cannot be read, or whose prediction fails, is recorded under ``errors`` and
    skipped; the other images are still processed.

    Args:
        predict (callable): ``(H, W, 3) uint8 BGR image -> result`` of
            :func:`inspect_probabilities`.
        paths (Sequence[str]): image files.
        out_dir (str): output folder (see the module docstring for the layout).
        classes (Sequence[str]): class names, background first.
        palette (Sequence[Sequence[int]]): RGB colour per class.
        thresholds (Thresholds): the verdict thresholds (recorded in the summary; the
            smallest labelled region of the overlays follows ``min_area``).
        inference (dict): how the probabilities were computed (recorded in the summary).
        names (dict[str, str], optional): output name per path. Default: unique stems of
            ``paths`` (pass the names of the whole list when ``paths`` is one rank's part).
        save_images (bool): write masks, overlays, heat maps (and attention). Default: True.
        save_panels (bool): also write side-by-side panels. Default: False.
        progress (bool): show a tqdm progress bar (when tqdm is installed). Default: True.
        meta (dict, optional): extra top-level entries of the JSON. Default: None.
        log (callable, optional): receives one message per skipped file. Default: None.
        write_summary_files (bool): write ``predictions.json`` and ``verdicts.csv``.
            Default: True.
        mask_palette (bool): masks as palette PNGs (class ids shown in the class colours)
            instead of grey class-id PNGs. Default: False.

    Returns:
        dict: the content of ``predictions.json`` (``schema_version``, ``classes``,
        ``thresholds``, ``inference``, ``date``, meta entries, ``summary``, ``images``,
        ``errors``).
    """
    names = names or unique_stems(paths)
    images, errors = [], []
    for path in _progress(paths, progress):
        try:
            img = load_image(path)
            result = predict(img)
        except Exception as exc:  # one bad file must not stop the folder
            errors.append(dict(image=path, error=f"{type(exc).__name__}: {exc}"))
            if log:
                log(f"skipped {path!r}: {type(exc).__name__}: {exc}")
            continue
        outputs = (write_image_outputs(img, result, out_dir, names[path], palette, thresholds,
                                       save_panels, mask_palette) if save_images else {})
        images.append(image_entry(path, names[path], result, outputs))
    summary = build_summary(images, errors, len(paths), classes, thresholds, inference, meta)
    if write_summary_files:
        write_summary(summary, out_dir)
    return summary


def _progress(paths: Sequence[str], enabled: bool):
    if not enabled:
        return paths
    try:
        from tqdm import tqdm
    except ImportError:  # an edge box without tqdm: no bar
        return paths
    return tqdm(paths, desc="predict", unit="img")


def merge_summaries(parts: Sequence[dict], paths: Sequence[str]) -> dict:
    """One run summary from the summaries of disjoint parts of ``paths`` (one per process).

    Images and errors come back in the order of ``paths``; counts are recomputed.

    Args:
        parts (Sequence[dict]): summaries of :func:`predict_to_folder`, same settings.
        paths (Sequence[str]): the whole input list.

    Raises:
        ValueError: when the parts overlap or do not cover ``paths``.
    """
    if not parts:
        raise ValueError("no summaries to merge")
    order = {p: i for i, p in enumerate(paths)}
    seen: List[str] = []
    for part in parts:
        seen += [e["image"] for e in part["images"]] + [e["image"] for e in part["errors"]]
    if sorted(seen, key=lambda p: order.get(p, -1)) != list(paths):
        raise ValueError(f"the {len(parts)} parts do not cover the {len(paths)} inputs exactly "
                         f"once ({len(seen)} results)")
    images = sorted((e for p in parts for e in p["images"]), key=lambda e: order[e["image"]])
    errors = sorted((e for p in parts for e in p["errors"]), key=lambda e: order[e["image"]])
    merged = dict(parts[0])
    num_defect = sum(e["verdict"] == DEFECT for e in images)
    merged.update(
        summary=dict(num_inputs=len(paths), num_images=len(images), num_defect=num_defect,
                     num_ok=len(images) - num_defect, num_errors=len(errors)),
        images=images, errors=errors, date=max(p["date"] for p in parts))
    return merged


def write_summary(summary: dict, out_dir: str) -> None:
    """Write ``predictions.json`` and ``verdicts.csv`` of a run summary into ``out_dir``."""
    os.makedirs(out_dir, exist_ok=True)
    with open(osp.join(out_dir, SUMMARY_FILE), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
    rows = verdict_rows(summary)
    fields = list(rows[0].keys()) if rows else ["image"]
    with open(osp.join(out_dir, CSV_FILE), "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


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
