"""Debug panels of the self-training iteration, written through MMEngine's visualizer."""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS
from torch import Tensor

from ...datasets.defect_dataset import default_palette

IGNORE_COLOUR = (128, 128, 128)
TITLE_HEIGHT = 14


def collect_debug_outputs(model: torch.nn.Module) -> Dict[str, Tensor]:
    """Every ``debug_outputs`` dict found on ``model`` and its submodules.

    Keys are prefixed with the submodule's name (``'student.attention'`` for an
    ``attention`` map that the student segmentor stores); the top-level model's keys are
    kept as they are. Non-tensor values are skipped.

    Args:
        model (torch.nn.Module): the (unwrapped) training model.

    Returns:
        dict[str, Tensor]: name -> tensor, in module order.
    """
    found: Dict[str, Tensor] = {}
    for name, module in model.named_modules():
        outputs = getattr(module, "debug_outputs", None)
        if not isinstance(outputs, dict):
            continue
        for key, value in outputs.items():
            if isinstance(value, Tensor):
                found[f"{name}.{key}" if name else str(key)] = value
    return found


def _colour_labels(label: np.ndarray, palette: Sequence[Sequence[int]],
                   ignore_index: int) -> np.ndarray:
    lut = np.zeros((256, 3), np.uint8)
    lut[:] = IGNORE_COLOUR
    for i, colour in enumerate(palette[:256]):
        lut[i] = colour
    out = lut[np.clip(label, 0, 255).astype(np.uint8)]
    out[label == ignore_index] = IGNORE_COLOUR
    return out


def _colour_map(values: np.ndarray) -> np.ndarray:
    lo, hi = float(values.min()), float(values.max())
    if lo < 0.0 or hi > 1.0:  # not a probability/weight: stretch to [0, 1]
        values = (values - lo) / max(hi - lo, 1e-12)
    grey = np.clip(values * 255.0, 0, 255).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(grey, cv2.COLORMAP_VIRIDIS), cv2.COLOR_BGR2RGB)


def tensor_tiles(name: str, value: Tensor, palette: Sequence[Sequence[int]],
                 ignore_index: int = 255, max_samples: int = 2,
                 max_channels: int = 4) -> List[Tuple[str, List[np.ndarray]]]:
    """Turn one debug tensor into columns of RGB uint8 tiles (one tile per sample).

    Conventions: a float (N, 3, H, W) tensor is an RGB image in [0, 1]; an integer (N, H, W)
    or (N, 1, H, W) tensor is a label map (coloured with ``palette``, ``ignore_index``
    grey); a float (N, H, W) or (N, 1, H, W) tensor is a map (viridis; stretched to its range
    unless already in [0, 1]); a float (N, C, H, W) tensor with another C gives one map per
    channel (at most ``max_channels``). Other shapes are skipped (empty list).

    Args:
        name (str): column title.
        value (Tensor): the tensor.
        palette (Sequence[Sequence[int]]): RGB colour of each class.
        ignore_index (int): label shown grey. Default: 255.
        max_samples (int): samples (rows) shown. Default: 2.
        max_channels (int): channels shown of a multi-channel map. Default: 4.

    Returns:
        list[tuple[str, list[np.ndarray]]]: ``(title, tiles)`` columns.
    """
    if value.dim() < 3:
        return []
    v = value.detach()[:max_samples].cpu()
    if v.dim() == 4 and v.shape[1] == 1:
        v = v[:, 0]
    if v.dim() == 3:
        if v.dtype.is_floating_point:
            return [(name, [_colour_map(t.float().numpy()) for t in v])]
        return [(name, [_colour_labels(t.numpy().astype(np.int64), palette, ignore_index)
                        for t in v])]
    if v.dim() == 4 and v.dtype.is_floating_point:
        if v.shape[1] == 3:
            return [(name, [np.clip(t.permute(1, 2, 0).float().numpy() * 255.0, 0, 255)
                            .astype(np.uint8) for t in v])]
        return [(f"{name}[{c}]", [_colour_map(t[c].float().numpy()) for t in v])
                for c in range(min(v.shape[1], max_channels))]
    return []


def _legend(class_names: Sequence[str], palette: Sequence[Sequence[int]],
            width: int) -> np.ndarray:
    """Rows of colour swatches with the class names, ``width`` pixels wide (RGB uint8)."""
    entries = [(str(n), tuple(int(c) for c in palette[i % len(palette)]))
               for i, n in enumerate(class_names)]
    lines: List[List[Tuple[str, tuple, int]]] = [[]]
    x = 2
    for name, colour in entries:
        w = 14 + cv2.getTextSize(name, cv2.FONT_HERSHEY_SIMPLEX, 0.33, 1)[0][0] + 8
        if lines[-1] and x + w > width:
            lines.append([])
            x = 2
        lines[-1].append((name, colour, x))
        x += w
    strip = np.full((len(lines) * TITLE_HEIGHT + 2, width, 3), 255, np.uint8)
    for k, line in enumerate(lines):
        y = k * TITLE_HEIGHT
        for name, colour, x0 in line:
            cv2.rectangle(strip, (x0, y + 3), (x0 + 10, y + TITLE_HEIGHT - 3), colour, -1)
            cv2.rectangle(strip, (x0, y + 3), (x0 + 10, y + TITLE_HEIGHT - 3), (0, 0, 0), 1)
            cv2.putText(strip, name, (x0 + 14, y + TITLE_HEIGHT - 4), cv2.FONT_HERSHEY_SIMPLEX,
                        0.33, (0, 0, 0), 1, cv2.LINE_AA)
    return strip


def render_debug_panel(outputs: Dict[str, Tensor], palette: Optional[Sequence] = None,
                       ignore_index: int = 255, max_samples: int = 2,
                       class_names: Optional[Sequence[str]] = None) -> Optional[np.ndarray]:
    """One RGB uint8 panel: a column per debug tensor, a row per sample, titles on top.

    Tiles are resized to the size of the first tile (nearest neighbour, so label maps keep
    their values). Returns None when nothing can be shown.

    Args:
        outputs (dict[str, Tensor]): debug tensors (see :func:`tensor_tiles`).
        palette (Sequence, optional): RGB colour per class. Default: a generated palette.
        ignore_index (int): label shown grey. Default: 255.
        max_samples (int): samples (rows) shown. Default: 2.
        class_names (Sequence[str], optional): names of the classes; given, a legend of
            their colours is added under the panel (which colour is which of several
            classes). Default: None (no legend).

    Returns:
        np.ndarray | None: (H, W, 3) uint8 RGB image.
    """
    palette = list(palette) if palette else default_palette(256)
    columns: List[Tuple[str, List[np.ndarray]]] = []
    for name, value in outputs.items():
        columns.extend(tensor_tiles(name, value, palette, ignore_index, max_samples))
    columns = [c for c in columns if c[1]]
    if not columns:
        return None
    th, tw = columns[0][1][0].shape[:2]
    rows = max(len(tiles) for _, tiles in columns)
    panel = np.full((TITLE_HEIGHT + rows * th, len(columns) * tw, 3), 255, np.uint8)
    for col, (title, tiles) in enumerate(columns):
        x = col * tw
        cv2.putText(panel, title[: max(4, tw // 6)], (x + 2, TITLE_HEIGHT - 3),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.33, (0, 0, 0), 1, cv2.LINE_AA)
        for row, tile in enumerate(tiles):
            if tile.shape[:2] != (th, tw):
                tile = cv2.resize(tile, (tw, th), interpolation=cv2.INTER_NEAREST)
            y = TITLE_HEIGHT + row * th
            panel[y:y + th, x:x + tw] = tile
    if class_names:
        panel = np.vstack([panel, _legend(class_names, palette, panel.shape[1])])
    return panel


@HOOKS.register_module()
class UDADebugHook(Hook):
    """Write a debug panel of the last training iteration every ``interval`` iterations.

    The panel shows every tensor the training model keeps in a ``debug_outputs`` dict —
    on the UDA model (source / target / mixed images, source / pseudo / mixed labels,
    pseudo / mixed weights) and on any submodule (e.g. an HRDA segmentor's scale attention,
    shown as ``student.<key>``) — one column per tensor, one row per sample. Images go
    through ``runner.visualizer.add_image`` (so to every configured backend: local files
    under ``<work_dir>/<timestamp>/vis_data/vis_image/``, TensorBoard, ...); nothing is
    drawn inside the model's forward.

    Args:
        interval (int): iterations between panels (also written after the first iteration).
            Default: 500.
        max_samples (int): samples (rows) per panel. Default: 2.
        name (str): image name given to the visualizer. Default: ``'uda_debug'``.
    """

    priority = "LOW"

    def __init__(self, interval: int = 500, max_samples: int = 2,
                 name: str = "uda_debug") -> None:
        if interval < 1:
            raise ValueError(f"interval must be >= 1, got {interval}")
        self.interval = int(interval)
        self.max_samples = int(max_samples)
        self.name = name

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if not (runner.iter == 0 or self.every_n_train_iters(runner, self.interval)):
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        debug = collect_debug_outputs(model)
        meta = getattr(runner.visualizer, "dataset_meta", None) or {}
        ignore = getattr(getattr(getattr(model, "student", model), "decode_head", None),
                         "ignore_index", 255)
        panel = render_debug_panel(debug, meta.get("palette"), ignore, self.max_samples,
                                   meta.get("classes"))
        if panel is not None:
            runner.visualizer.add_image(self.name, panel, step=runner.iter + 1)
