"""Run an exported model (``tools/export_onnx.py``) with ONNX Runtime: numpy in, probabilities out.

The graph takes ``input``: (N, 3, H, W) float32 images, already converted and normalised; it
returns ``probs``: (N, C, H, W) softmax probabilities and, for models with a scale attention
(HRDA), ``attention``: (N, 1, H, W). Everything needed around it is in the model's metadata
(key :data:`METADATA_KEY`, a JSON object): ``mean`` / ``std`` (RGB order, 0-255 scale),
``bgr_to_rgb``, ``classes``, ``palette``, ``pixel_threshold`` / ``min_area`` (the calibration
when one was given at export), ``input_size`` (``[H, W]``, or null for a graph that takes any
size) and the parity figures measured at export.

numpy, OpenCV and onnxruntime only.
"""

from __future__ import annotations

import json
from typing import Dict, List, Optional, Sequence

import numpy as np

from .outputs import inspect_probabilities
from .thresholds import Thresholds

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

    def run(self, img: np.ndarray) -> Dict[str, np.ndarray]:
        """Probabilities (C, H, W) and, if the model has one, attention (H, W) of one image.

        Raises:
            ValueError: an image whose size is not the model's fixed input size (named).
        """
        if self.input_size is not None and tuple(img.shape[:2]) != self.input_size:
            h, w = self.input_size
            raise ValueError(f"image is {img.shape[0]}x{img.shape[1]} (HxW) but the model was "
                             f"exported for {h}x{w}; re-export with --input-size "
                             f"{img.shape[0]} {img.shape[1]} (or --dynamic where supported)")
        values = self.session.run(None, {INPUT_NAME: self.preprocess(img)})
        out = dict(zip(self.output_names, values))
        result = dict(probs=out[PROBS_NAME][0].astype(np.float32), attention=None)
        if ATTENTION_NAME in out:
            result["attention"] = out[ATTENTION_NAME][0, 0].astype(np.float32)
        return result

    def predict(self, img: np.ndarray, thresholds: Optional[Thresholds] = None) -> dict:
        """Mask, regions, verdict and scores of one image (as ``tools/predict.py``).

        Args:
            img (np.ndarray): (H, W, 3) uint8 BGR image.
            thresholds (Thresholds, optional): Default: the model's (:meth:`thresholds`).
        """
        out = self.run(img)
        return inspect_probabilities(out["probs"], self.classes,
                                     thresholds or self.thresholds(), out["attention"])
