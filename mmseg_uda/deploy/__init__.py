"""Deployment: run an exported model on a line PC with numpy, OpenCV and onnxruntime only.

``tools/export_onnx.py`` writes the ``.onnx`` file (graph + preprocessing constants, classes,
palette and thresholds in its metadata); ``python -m mmseg_uda.deploy.predict MODEL IMAGES --out
DIR`` writes the masks, overlays, heat maps, boxes and verdicts that ``tools/predict.py`` writes.

Nothing in this package imports torch, MMEngine or MMSeg, except :mod:`mmseg_uda.deploy.export`
(the exporter, used on the training machine), which is not imported here. The mask / region /
verdict rules (:mod:`.postprocess`), pictures (:mod:`.visualize`), files (:mod:`.files`),
thresholds (:mod:`.thresholds`) and the output folder (:mod:`.outputs`) are the ones the PyTorch
tools use (re-exported by :mod:`mmseg_uda.apis`).
"""

from .files import ImageReadError, list_images, load_image, prepare_output_dir, unique_stems
from .outputs import (
    FOLDERS,
    inspect_probabilities,
    merge_summaries,
    predict_to_folder,
    write_summary,
)
from .postprocess import DEFECT, OK
from .runtime import METADATA_KEY, OnnxModelError, OnnxSegmentor, normalize
from .thresholds import Thresholds

__all__ = [
    "DEFECT", "FOLDERS", "METADATA_KEY", "OK", "ImageReadError", "OnnxModelError",
    "OnnxSegmentor", "Thresholds", "inspect_probabilities", "list_images", "load_image",
    "merge_summaries", "normalize", "predict_to_folder", "prepare_output_dir", "unique_stems",
    "write_summary",
]
