"""UDASegDataPreProcessor: both branches like SegDataPreProcessor; plain batches unchanged."""

import copy

import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.structures import PixelData
from mmseg.models.data_preprocessor import SegDataPreProcessor
from mmseg.structures import SegDataSample

from mmseg_uda.models.data_preprocessors import UDASegDataPreProcessor

ARGS = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True,
            pad_val=0, seg_pad_val=255, size=(16, 16))


def item(h, w, labeled, seed):
    g = torch.Generator().manual_seed(seed)
    sample = SegDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w)))
    if labeled:
        sample.gt_sem_seg = PixelData(data=torch.randint(0, 2, (1, h, w), generator=g))
    return dict(inputs=torch.randint(0, 256, (3, h, w), dtype=torch.uint8, generator=g),
                data_samples=sample)


def test_paired_batch_is_processed_per_branch_like_seg_preprocessor():
    pairs = [dict(source=item(16, 16, True, 0), target=item(12, 16, False, 1)),
             dict(source=item(14, 16, True, 2), target=item(16, 16, False, 3))]
    batch = pseudo_collate(pairs)
    out = UDASegDataPreProcessor(**ARGS)(copy.deepcopy(batch), training=True)
    ref = SegDataPreProcessor(**ARGS)
    for branch in ("source", "target"):
        want = ref(copy.deepcopy(batch[branch]), training=True)
        torch.testing.assert_close(out["inputs"][branch], want["inputs"])
        assert out["inputs"][branch].shape == (2, 3, 16, 16)
        for a, b in zip(out["data_samples"][branch], want["data_samples"]):
            assert a.metainfo["padding_size"] == b.metainfo["padding_size"]
    assert out["data_samples"]["target"][0].metainfo["padding_size"] == (0, 0, 0, 4)
    src1 = out["data_samples"]["source"][1].gt_sem_seg.data
    assert src1.shape == (1, 16, 16) and (src1[:, 14:] == 255).all()


def test_plain_batch_and_errors():
    pre = UDASegDataPreProcessor(**ARGS)
    batch = pseudo_collate([item(16, 16, True, 0)])
    out = pre(copy.deepcopy(batch), training=False)
    torch.testing.assert_close(out["inputs"], SegDataPreProcessor(**ARGS)(batch)["inputs"])
    with pytest.raises(KeyError, match="target"):
        pre(dict(source=batch), training=True)
