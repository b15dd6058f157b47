"""mmseg_uda: unsupervised domain adaptation for defect segmentation on MMSegmentation 1.x.

Importing the package first applies the stack fixes of :mod:`mmseg_uda.compat` (pure-PyTorch
``mmcv.ops`` fallback for mmcv-lite, trusted checkpoint loading on torch >= 2.6, no
``pkg_resources``), then registers the project's datasets, transforms, models, metrics and hooks
into mmseg's registries. Configs load it with
``custom_imports=dict(imports=['mmseg_uda'], allow_failed_imports=False)``.

On a deployment machine without torch, MMEngine or MMSeg (a line PC with numpy, OpenCV and
onnxruntime only) the package imports without doing either, so that :mod:`mmseg_uda.deploy`
(the ONNX runner) works; the training / inference modules then raise ImportError on use.
"""

import importlib.util as _importlib_util

from .version import __version__

# The packages without which only mmseg_uda.deploy can work (nothing of them is imported here).
MISSING_FOR_TRAINING = tuple(name for name in ("torch", "mmengine", "mmseg")
                             if _importlib_util.find_spec(name) is None)

if MISSING_FOR_TRAINING:
    COMPAT_STATE = None
    __all__ = ["COMPAT_STATE", "MISSING_FOR_TRAINING", "__version__"]
else:
    from . import compat

    COMPAT_STATE = compat.apply()

    from . import datasets, engine, evaluation, models  # noqa: E402  (after compat, by design)

    __all__ = ["COMPAT_STATE", "MISSING_FOR_TRAINING", "__version__", "datasets", "engine",
               "evaluation", "models"]
