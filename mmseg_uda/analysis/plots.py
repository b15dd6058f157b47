"""Figures of the calibration and domain-gap tools (matplotlib, no display needed)."""

from __future__ import annotations

import os
import os.path as osp
from typing import Optional, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

SOURCE_COLOUR, TARGET_COLOUR = "#1f77b4", "#d62728"


def _save(fig, path: str, dpi: int) -> str:
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_calibration(pixel_curve: dict, pixel_point: dict, item_curve: dict, item_point: dict,
                     target_recall: float, path: str, item_unit: str = "image",
                     title: Optional[str] = None, dpi: int = 110) -> str:
    """Pixel PR curve, item (image / tile) PR curve and recall / precision against min area.

    Args:
        pixel_curve (dict): pixel curve (``threshold``, ``precision``, ``recall``,
            ``average_precision``).
        pixel_point (dict): chosen pixel operating point (``threshold``, ``precision``,
            ``recall``).
        item_curve (dict): image- or tile-level curve over the minimum area (pixels).
        item_point (dict): chosen minimum area point.
        target_recall (float): the recall target, drawn as a line.
        path (str): PNG file to write.
        item_unit (str): ``'image'`` or e.g. ``'tile 160 px'``, for the labels. Default:
            ``'image'``.
        title (str, optional): figure title. Default: None.
        dpi (int): resolution. Default: 110.

    Returns:
        str: ``path``.
    """
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.4))
    ax = axes[0]
    ax.plot(pixel_curve["recall"], pixel_curve["precision"], color="k", lw=1.5)
    ax.plot(pixel_point["recall"], pixel_point["precision"], "o", color="tab:red", ms=8,
            label=f"p ≥ {pixel_point['threshold']:.3f}: P {pixel_point['precision']:.2f}, "
                  f"R {pixel_point['recall']:.2f}")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1.01), ylim=(0, 1.01),
           title=f"pixels (AP {pixel_curve['average_precision']:.3f})")
    ax.legend(loc="lower left", fontsize=8)
    ax.grid(alpha=0.3)

    ax = axes[1]
    ax.step(item_curve["recall"], item_curve["precision"], where="post", color="k", lw=1.5)
    ax.axvline(target_recall, color="tab:gray", ls="--", lw=1,
               label=f"target recall {target_recall:.2f}")
    ax.plot(item_point["recall"], item_point["precision"], "o", color="tab:red", ms=8,
            label=f"min area {item_point['threshold']:.0f} px: P {item_point['precision']:.2f}, "
                  f"R {item_point['recall']:.2f}")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1.01), ylim=(0, 1.01),
           title=f"{item_unit} verdict (AP {item_curve['average_precision']:.3f})")
    ax.legend(loc="lower left", fontsize=8)
    ax.grid(alpha=0.3)

    ax = axes[2]
    thr = np.asarray(item_curve["threshold"], float)
    keep = thr >= 1  # a minimum area is at least one pixel
    ax.step(thr[keep], np.asarray(item_curve["recall"])[keep], where="post", label="recall",
            color="tab:blue")
    ax.step(thr[keep], np.asarray(item_curve["precision"])[keep], where="post",
            label="precision", color="tab:orange")
    ax.axhline(target_recall, color="tab:gray", ls="--", lw=1)
    ax.axvline(max(item_point["threshold"], 1.0), color="tab:red", lw=1,
               label=f"chosen: {item_point['threshold']:.0f} px")
    ax.set_xscale("log")
    ax.set(xlabel="minimum defect area (pixels)", ylim=(0, 1.02),
           title=f"{item_unit} verdict vs. minimum area (at p ≥ {pixel_point['threshold']:.3f})")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path, dpi)


def plot_embeddings(panels: Sequence[dict], path: str, source_name: str = "source",
                    target_name: str = "target", method: str = "t-SNE",
                    dpi: int = 110) -> str:
    """Scatter plots of 2-D embeddings coloured by domain, one panel per checkpoint.

    Args:
        panels (Sequence[dict]): each with ``coords`` (n, 2), ``domain`` (n,) 0 = source,
            1 = target, and ``title``.
        path (str): PNG file to write.
        source_name (str): legend name of domain 0. Default: ``'source'``.
        target_name (str): legend name of domain 1. Default: ``'target'``.
        method (str): method name for the axis labels. Default: ``'t-SNE'``.
        dpi (int): resolution. Default: 110.

    Returns:
        str: ``path``.
    """
    fig, axes = plt.subplots(1, len(panels), figsize=(5.4 * len(panels), 5), squeeze=False)
    for ax, p in zip(axes[0], panels):
        coords, domain = np.asarray(p["coords"]), np.asarray(p["domain"])
        for value, name, colour, marker in ((0, source_name, SOURCE_COLOUR, "o"),
                                            (1, target_name, TARGET_COLOUR, "^")):
            sel = domain == value
            ax.scatter(coords[sel, 0], coords[sel, 1], s=22, c=colour, marker=marker,
                       alpha=0.75, edgecolors="none", label=f"{name} ({sel.sum()})")
        ax.set_title(p["title"], fontsize=10)
        ax.set_xlabel(f"{method} 1")
        ax.set_ylabel(f"{method} 2")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return _save(fig, path, dpi)
