"""Image embeddings from a segmentor's backbone, for domain-gap diagnosis."""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
import torch.nn as nn
from tqdm import tqdm

from .files import load_image
from .inference import _segmentor, preprocess


def resize_max_side(img: np.ndarray, max_side: Optional[int]) -> np.ndarray:
    """Shrink an image so that its longer side is at most ``max_side`` pixels (area filter).

    Args:
        img (np.ndarray): (H, W, 3) image.
        max_side (int, optional): longest side in pixels; None keeps the image. Default: None.
    """
    if not max_side or max(img.shape[:2]) <= max_side:
        return img
    scale = max_side / max(img.shape[:2])
    size = (max(1, round(img.shape[1] * scale)), max(1, round(img.shape[0] * scale)))
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA)


@torch.no_grad()
def backbone_embedding(model: nn.Module, img: np.ndarray,
                       stages: Optional[Sequence[int]] = (-1,)) -> np.ndarray:
    """Global-average-pooled backbone features of one image, stages concatenated.

    Args:
        model (nn.Module): a segmentor with a ``backbone`` returning one feature map per stage
            (mmseg's MixVisionTransformer does).
        img (np.ndarray): (H, W, 3) uint8 BGR image.
        stages (Sequence[int], optional): which stage outputs to pool (python indices, -1 =
            last); None pools every stage. Default: (-1,).

    Returns:
        np.ndarray: (D,) float32, D = sum of the chosen stages' channels.
    """
    seg = _segmentor(model)
    if not hasattr(seg, "backbone"):
        raise TypeError(f"{type(seg).__name__} has no backbone to embed images with")
    feats = seg.backbone(preprocess(model, img))
    if isinstance(feats, torch.Tensor):
        feats = [feats]
    try:
        chosen = list(feats) if stages is None else [feats[i] for i in stages]
    except IndexError:
        raise ValueError(f"stages {list(stages)} out of range: the backbone gives "
                         f"{len(feats)} stage outputs") from None
    return torch.cat([f.float().mean(dim=(-2, -1)) for f in chosen], dim=1)[0].cpu().numpy()


def extract_embeddings(model: nn.Module, paths: Sequence[str],
                       stages: Optional[Sequence[int]] = (-1,),
                       max_side: Optional[int] = None, progress: bool = True,
                       desc: str = "embed") -> Tuple[np.ndarray, List[str], List[dict]]:
    """Backbone embeddings of image files; unreadable files are skipped and reported.

    Args:
        model (nn.Module): the segmentor (eval mode).
        paths (Sequence[str]): image files.
        stages (Sequence[int], optional): backbone stages to pool and concatenate; None for
            all. Default: (-1,).
        max_side (int, optional): shrink images whose longer side exceeds this (pixels).
            Default: None.
        progress (bool): show a tqdm progress bar. Default: True.
        desc (str): progress-bar label. Default: ``'embed'``.

    Returns:
        tuple: ``(embeddings (N, D) float32, embedded paths, errors [{image, error}])``.
    """
    rows, used, errors = [], [], []
    for path in tqdm(paths, desc=desc, unit="img", disable=not progress):
        try:
            img = resize_max_side(load_image(path), max_side)
            rows.append(backbone_embedding(model, img, stages))
            used.append(path)
        except Exception as exc:  # a broken file must not stop the analysis
            errors.append(dict(image=path, error=f"{type(exc).__name__}: {exc}"))
    dim = rows[0].shape[0] if rows else 0
    return (np.stack(rows) if rows else np.zeros((0, dim), np.float32)), used, errors
