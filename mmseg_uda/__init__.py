"""mmseg_uda: unsupervised domain adaptation for defect segmentation on MMSegmentation 1.x.

Importing the package first applies the stack fixes of :mod:`mmseg_uda.compat` (pure-PyTorch
``mmcv.ops`` fallback for mmcv-lite, trusted checkpoint loading on torch >= 2.6, no
``pkg_resources``), then registers the project's datasets, transforms, models, metrics and hooks
into mmseg's registries. Configs load it with
``custom_imports=dict(imports=['mmseg_uda'], allow_failed_imports=False)``.
"""

from . import compat

COMPAT_STATE = compat.apply()

from . import datasets, engine, evaluation, models  # noqa: E402  (after compat, by design)
from .version import __version__  # noqa: E402

__all__ = ["COMPAT_STATE", "__version__", "datasets", "engine", "evaluation", "models"]
