"""Test-time augmentation in the Runner (``tools/test.py --tta``): probability averaging."""

from __future__ import annotations

from typing import List

import torch
from mmengine.structures import PixelData
from mmseg.models.segmentors import SegTTAModel
from mmseg.registry import MODELS
from mmseg.utils import SampleList


@MODELS.register_module()
class DefectTTAModel(SegTTAModel):
    """MMSeg's ``SegTTAModel`` for this project's segmentors and UDA wrappers.

    Each augmented view (``TestTimeAug`` in the test pipeline: flips, rescales) is predicted by
    the wrapped model, whose ``postprocess_result`` un-flips it and resizes it to the original
    image; the views' softmax probabilities are averaged. Differences from ``SegTTAModel``: the
    number of classes is read through a UDA wrapper's ``inference_model()`` (DACS has no
    ``out_channels``), and the merged sample's ``seg_logits`` hold the log of the averaged
    probabilities (not the last view's logits), so that every consumer of ``seg_logits`` sees
    the merged prediction.

    Args:
        module (dict | nn.Module): the model to wrap (set by ``tools/test.py --tta``).
    """

    def merge_preds(self, data_samples_list: List[SampleList]) -> SampleList:
        """Average the probabilities of every view of each image; arg-max is the prediction."""
        merged = []
        for views in data_samples_list:
            probs = torch.stack([v.seg_logits.data.float().softmax(dim=0) for v in views]).mean(0)
            sample = views[0].clone()
            sample.set_data({"seg_logits": PixelData(data=probs.clamp_min(1e-12).log()),
                             "pred_sem_seg": PixelData(data=probs.argmax(dim=0, keepdim=True))})
            merged.append(sample)
        return merged
