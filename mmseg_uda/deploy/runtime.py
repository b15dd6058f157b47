"""Run an exported model (``tools/export_onnx.py``) with ONNX Runtime: numpy in, probabilities out.

The graph takes ``input``: (N, 3, H, W) float32 images, already converted and normalised; it
returns ``probs``: (N, C, H, W) softmax probabilities and, for models with a scale attention
(HRDA), ``attention``: (N, 1, H, W). Everything needed around it is in the model's metadata
(key :data:`METADATA_KEY`, a JSON object): ``mean`` / ``std`` (RGB order, 0-255 scale),
``bgr_to_rgb``, ``classes``, ``palette``, ``pixel_threshold`` / ``min_area`` (the calibration
when one was given at export), ``input_size`` (``[H, W]``, or null for a graph exported with
``--dynamic`` that takes any batch, height and width), ``tile_stride`` (the model's own slide
step when it was exported at its slide window, else null) and the parity figures measured at
export. A fixed-size model also takes larger images, in windows of its input size; both kinds
take test-time augmentation (:mod:`.views`).

numpy, OpenCV and onnxruntime only.
"""

from __future__ import annotations

import json
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .outputs import inspect_probabilities
from .thresholds import Thresholds
from .views import average_views, tile_average

METADATA_KEY = "mmseg_uda"
FORMAT_VERSION = 1
INPUT_NAME = "input"
PROBS_NAME = "probs"
ATTENTION_NAME = "attention"
# Keys every exported model's metadata must hold.
REQUIRED_KEYS = ("format_version", "mean", "std", "bgr_to_rgb", "classes", "palette",
                 "pixel_threshold", "min_area", "input_size")


class OnnxModelError(ValueError):
    """An ONNX file that is not an export of this project; the message names the file."""


def normalize(img: np.ndarray, mean: Sequence[float], std: Sequence[float],
              bgr_to_rgb: bool = True) -> np.ndarray:
    """(H, W, 3) uint8 BGR image -> (1, 3, H, W) float32 network input.

    The same arithmetic as MMSeg's ``SegDataPreProcessor`` at test time without padding:
    channel order conversion, then ``(x - mean) / std`` per channel.
    """
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) BGR image, got shape {img.shape}")
    x = img[..., ::-1] if bgr_to_rgb else img
    x = x.transpose(2, 0, 1).astype(np.float32)
    x = (x - np.asarray(mean, np.float32)[:, None, None]) / \
        np.asarray(std, np.float32)[:, None, None]
    return np.ascontiguousarray(x[None])


def read_metadata(path: str, custom: Dict[str, str]) -> dict:
    """Parse and check the :data:`METADATA_KEY` entry of a model's custom metadata."""
    if METADATA_KEY not in custom:
        raise OnnxModelError(f"{path!r} has no {METADATA_KEY!r} metadata: export the model with "
                             "tools/export_onnx.py")
    try:
        meta = json.loads(custom[METADATA_KEY])
    except json.JSONDecodeError as exc:
        raise OnnxModelError(f"{path!r}: metadata {METADATA_KEY!r} is not JSON: {exc}") from exc
    missing = [k for k in REQUIRED_KEYS if k not in meta]
    if missing:
        raise OnnxModelError(f"{path!r}: metadata {METADATA_KEY!r} lacks {', '.join(missing)}")
    if meta["format_version"] != FORMAT_VERSION:
        raise OnnxModelError(f"{path!r}: metadata format_version {meta['format_version']} is not "
                             f"the supported {FORMAT_VERSION}; re-export the model")
    return meta


def _checked_tiles(window: Sequence[int], stride: Sequence[int]):
    """``((h, w), (sh, sw))`` as ints, each step in [1, its window side]."""
    window, stride = tuple(int(v) for v in window), tuple(int(v) for v in stride)
    if not all(1 <= s <= w for s, w in zip(stride, window)):
        raise ValueError(f"tile stride {stride[0]}x{stride[1]} must be in [1, the window "
                         f"{window[0]}x{window[1]}] on each side")
    return window, stride


class OnnxSegmentor:
    """An exported segmentation model in an ONNX Runtime session.

    Args:
        path (str): the ``.onnx`` file written by ``tools/export_onnx.py``.
        num_threads (int, optional): intra-op threads of ONNX Runtime. Default: None (its
            default, one per core).
        providers (Sequence[str], optional): execution providers. Default: None
            (``['CPUExecutionProvider']``).

    Raises:
        FileNotFoundError: no such file.
        OnnxModelError: not an export of this project (missing / bad metadata or outputs).
    """

    def __init__(self, path: str, num_threads: Optional[int] = None,
                 providers: Optional[Sequence[str]] = None) -> None:
        import os.path as osp

        import onnxruntime as ort

        if not osp.isfile(path):
            raise FileNotFoundError(f"ONNX model not found: {path!r}")
        options = ort.SessionOptions()
        if num_threads:
            options.intra_op_num_threads = int(num_threads)
        try:
            self.session = ort.InferenceSession(
                path, sess_options=options,
                providers=list(providers or ["CPUExecutionProvider"]))
        except Exception as exc:  # onnxruntime raises its own exception types
            raise OnnxModelError(f"ONNX Runtime cannot load {path!r}: {exc}") from exc
        self.path = path
        self.meta = read_metadata(path, self.session.get_modelmeta().custom_metadata_map)
        self.output_names: List[str] = [o.name for o in self.session.get_outputs()]
        if PROBS_NAME not in self.output_names:
            raise OnnxModelError(f"{path!r} has no {PROBS_NAME!r} output "
                                 f"(outputs: {self.output_names})")
        self.classes = list(self.meta["classes"])
        self.palette = [list(map(int, c)) for c in self.meta["palette"]]
        size = self.meta["input_size"]
        self.input_size = None if size is None else (int(size[0]), int(size[1]))

    def thresholds(self, pixel_threshold: Optional[float] = None,
                   min_area: Optional[int] = None) -> Thresholds:
        """The model's thresholds (metadata), with command-line values winning."""
        base = Thresholds(pixel_threshold=self.meta["pixel_threshold"],
                          min_area=self.meta["min_area"],
                          source=self.meta.get("thresholds_source", "model metadata"))
        overridden = [n for n, v in (("pixel_threshold", pixel_threshold),
                                     ("min_area", min_area)) if v is not None]
        if not overridden:
            return base
        return Thresholds(
            pixel_threshold=base.pixel_threshold if pixel_threshold is None else pixel_threshold,
            min_area=base.min_area if min_area is None else min_area,
            source=f"command line ({', '.join(overridden)}) over {base.source}")

    def preprocess(self, img: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 BGR image -> (1, 3, H, W) float32 input of the graph."""
        return normalize(img, self.meta["mean"], self.meta["std"], self.meta["bgr_to_rgb"])

    def _graph(self, x: np.ndarray) -> Dict[str, Optional[np.ndarray]]:
        """One pass of the graph: normalised (1, 3, h, w) -> probs (C, h, w), attention."""
        values = self.session.run(None, {INPUT_NAME: x})
        out = dict(zip(self.output_names, values))
        result = dict(probs=out[PROBS_NAME][0].astype(np.float32), attention=None)
        if ATTENTION_NAME in out:
            result["attention"] = out[ATTENTION_NAME][0, 0].astype(np.float32)
        return result

    def tiling(self, size: Sequence[int], window: Optional[int] = None,
               stride: Optional[Sequence[int]] = None,
               tta: Optional[dict] = None) -> Optional[Tuple[Tuple[int, int], Tuple[int, int]]]:
        """The windows an image of ``size`` is predicted in: ``((h, w), (sh, sw))`` or None for
        the whole image at once.

        A model exported with ``--dynamic`` takes any size: whole, or square ``window`` tiles
        when asked (``tools/predict.py --window``). A fixed-size model takes its input size
        whole, and a larger image in windows of its input size (step ``stride``, else the
        model's ``tile_stride``, else half the window).

        Raises:
            ValueError: naming the sizes: an image smaller than a fixed-size model's input, a
                ``window`` for a fixed-size model, TTA scales other than 1 for a fixed-size
                model.
        """
        height, width = (int(v) for v in size)
        if stride is not None:
            stride = (int(stride[0]), int(stride[-1]))
        if self.input_size is None:
            if window is None:
                if stride is not None:
                    raise ValueError("a stride needs a window (--window) for a model exported "
                                     "with --dynamic")
                return None
            return _checked_tiles((int(window),) * 2, stride or (max(1, int(window) // 2),) * 2)
        h, w = self.input_size
        if window is not None:
            raise ValueError(f"--window is for models exported with --dynamic; this model was "
                             f"exported for {h}x{w} and larger images are tiled with that window")
        scales = [s for s in (tta or {}).get("scales", ()) if s != 1.0]
        if scales:
            raise ValueError(f"TTA scales {scales} need a model exported with --dynamic; this "
                             f"one takes {h}x{w} (HxW) views only")
        tiles = _checked_tiles((h, w), stride or self.meta.get("tile_stride") or
                               (max(1, h // 2), max(1, w // 2)))
        if (height, width) == (h, w):
            return None
        if height < h or width < w:
            raise ValueError(f"image is {height}x{width} (HxW) but the model was exported for "
                             f"{h}x{w}: it takes that size, or larger images in windows of it; "
                             f"re-export with --input-size {height} {width} or --dynamic")
        return tiles

    def run(self, img: np.ndarray, tta: Optional[dict] = None, window: Optional[int] = None,
            stride: Optional[Sequence[int]] = None) -> Dict[str, Optional[np.ndarray]]:
        """Probabilities (C, H, W) and, if the model has one, attention (H, W) of one image.

        Args:
            img (np.ndarray): (H, W, 3) uint8 BGR image.
            tta (dict, optional): ``dict(flips=..., scales=...)``
                (:func:`~mmseg_uda.deploy.views.tta_settings`): the mean of the views'
                probabilities. With ``window`` every tile is augmented (as
                ``tools/predict.py --window --tta``); a fixed-size model's windows are run in
                every view (as the model's own slide mode in ``tools/predict.py --tta``).
                Default: None.
            window (int, optional): square tiles for a model exported with ``--dynamic``.
            stride (Sequence[int], optional): (sh, sw) or (s,) tile step. See :meth:`tiling`.

        Raises:
            ValueError: the image or the options do not fit the model (:meth:`tiling`).
        """
        tiles = self.tiling(img.shape[:2], window, stride, tta)
        x = self.preprocess(img)
        if tiles is not None and self.input_size is not None:
            # the windows of a fixed-size model stand for the model's own slide mode, which
            # PyTorch's TTA runs in every view: views outside, windows inside
            def tiled(view):
                return tile_average(self._graph, view, *tiles)

            return average_views(tiled, x, **tta) if tta else tiled(x)
        # whole image, or --window tiles each augmented (as tools/predict.py --window --tta)
        predict = self._graph if not tta else \
            (lambda view: average_views(self._graph, view, **tta))
        return predict(x) if tiles is None else tile_average(predict, x, *tiles)

    def predict(self, img: np.ndarray, thresholds: Optional[Thresholds] = None,
                **options) -> dict:
        """Mask, regions, verdict and scores of one image (as ``tools/predict.py``).

        Args:
            img (np.ndarray): (H, W, 3) uint8 BGR image.
            thresholds (Thresholds, optional): Default: the model's (:meth:`thresholds`).
            **options: ``tta``, ``window``, ``stride`` of :meth:`run`.
        """
        out = self.run(img, **options)
        return inspect_probabilities(out["probs"], self.classes,
                                     thresholds or self.thresholds(), out["attention"])
