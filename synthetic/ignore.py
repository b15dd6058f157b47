"""Ignore masks from a trained model: where real background photos already show defects.

Real photos of a line may hold defects nobody labeled. Rendering new defects into them and
calling everything else background would teach the model that those defects are background.
:func:`predict_ignore_masks` runs a trained segmentor (any config and checkpoint of this
project, e.g. a source-only model) over the photos and marks the pixels whose defect
probability (1 - p(background)) exceeds a threshold, dilated by a small margin; the generator
labels them 255 (ignore) where no rendered defect lies.

This is the only part of :mod:`synthetic` that needs torch and ``mmseg_uda``; it imports them
when called.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from .measure import read_image


def predict_ignore_masks(model: Sequence[str], paths: Sequence[str], threshold: float = 0.5,
                         dilate_px: int = 2, progress: bool = True) -> list[np.ndarray]:
    """uint8 masks (255 = ignore, 0 = not) of the defects a model sees in each photo.

    Args:
        model: ``(config, checkpoint)`` paths.
        paths: Photo files.
        threshold: Defect probability above which a pixel is ignored. Default 0.5.
        dilate_px: Margin (px) added around each detection. Default 2.
        progress: Show a progress bar. Default True.

    Raises:
        ValueError: If ``model`` is not a (config, checkpoint) pair; the loader's errors for a
            missing or mismatched checkpoint pass through (they name the file).
    """
    if isinstance(model, str) or len(model) != 2:
        raise ValueError(f"ignore_from must be (config, checkpoint), got {model!r}")
    config, checkpoint = (str(m) for m in model)
    import mmseg_uda  # noqa: F401  (stack fixes before mmseg is imported)
    from mmseg_uda.apis import init_model, predict_image

    net = init_model(config, checkpoint)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(paths), unit="img", desc="ignore masks", dynamic_ncols=True)
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * dilate_px + 1, 2 * dilate_px + 1))
    masks = []
    for p in paths:
        out = predict_image(net, read_image(p))
        m = (out["defect_prob"] > threshold).astype(np.uint8)
        if dilate_px > 0:
            m = cv2.dilate(m, k)
        masks.append(m * np.uint8(255))
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return masks
