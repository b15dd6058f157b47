"""Data preprocessing of paired source/target batches."""

from __future__ import annotations

from typing import Any, Dict

from mmseg.models.data_preprocessor import SegDataPreProcessor
from mmseg.registry import MODELS

BRANCHES = ("source", "target")


@MODELS.register_module()
class UDASegDataPreProcessor(SegDataPreProcessor):
    """``SegDataPreProcessor`` for batches of :class:`~mmseg_uda.datasets.UDADataset`.

    A paired batch, as collated by MMEngine's ``pseudo_collate``, is
    ``{'source': {'inputs': [...], 'data_samples': [...]}, 'target': {...}}``. Each branch is
    moved to the device, converted BGR->RGB, normalised and padded exactly like
    ``SegDataPreProcessor`` does for one batch (images padded with ``pad_val``, label maps with
    ``seg_pad_val``; each sample's ``padding_size`` is recorded in its meta). The result is
    ``{'inputs': {'source': Tensor, 'target': Tensor},
    'data_samples': {'source': [...], 'target': [...]}}``, which the UDA model's ``loss``
    receives. Ordinary (validation / test) batches are processed like ``SegDataPreProcessor``.

    Takes exactly the arguments of :class:`mmseg.models.SegDataPreProcessor` (``mean``,
    ``std``, ``size``, ``size_divisor``, ``pad_val``, ``seg_pad_val``, ``bgr_to_rgb``,
    ``rgb_to_bgr``, ``test_cfg``); ``batch_augments`` are not supported for paired batches.
    """

    def forward(self, data: dict, training: bool = False) -> Dict[str, Any]:
        """Preprocess a paired batch (both branches) or an ordinary batch.

        Args:
            data (dict): a collated batch.
            training (bool): whether training-time padding applies. Default: False.

        Returns:
            dict: ``inputs`` and ``data_samples``, each a ``{'source', 'target'}`` dict for a
            paired batch.
        """
        if not any(branch in data for branch in BRANCHES):
            return super().forward(data, training)
        missing = [b for b in BRANCHES if b not in data]
        if missing:
            raise KeyError(f"a paired batch needs the keys {BRANCHES}; missing {missing} "
                           f"(got {sorted(data)})")
        if self.batch_augments is not None:
            raise ValueError("UDASegDataPreProcessor does not support batch_augments")
        out = {branch: super(UDASegDataPreProcessor, self).forward(data[branch], training)
               for branch in BRANCHES}
        return dict(inputs={b: out[b]["inputs"] for b in BRANCHES},
                    data_samples={b: out[b]["data_samples"] for b in BRANCHES})
