"""Pure functions of HRDA: crop-box alignment, window tiling and merging, scale fusion."""

import pytest
import torch
import torch.nn.functional as F

from mmseg_uda.models.utils import (
    CropBox,
    crop_divisor,
    fuse_scales,
    merge_windows,
    pad_to_multiple,
    sample_crop_box,
    sliding_windows,
    stack_windows,
)


def test_crop_divisor_is_lcm_of_both_logit_strides():
    assert crop_divisor(4, 0.5) == 8
    assert crop_divisor(4, 0.25) == 16
    assert crop_divisor(4, 1.0) == 4
    assert crop_divisor(8, 0.5) == 16
    with pytest.raises(ValueError, match="whole number"):
        crop_divisor(4, 0.3)
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        crop_divisor(4, 2.0)


@pytest.mark.parametrize("img_size", [(101, 77), (64, 64), (67, 45), (129, 200)])
@pytest.mark.parametrize("scale", [0.5, 0.25])
def test_sampled_boxes_are_aligned_inside_and_reach_every_start(img_size, scale):
    divisor = crop_divisor(4, scale)
    crop = (32, 32)
    gen = torch.Generator().manual_seed(0)
    starts_y, starts_x = set(), set()
    for _ in range(300):
        box = sample_crop_box(img_size, crop, divisor, generator=gen)
        assert (box.height, box.width) == crop
        assert box.y1 >= 0 and box.y2 <= img_size[0] and box.x1 >= 0 and box.x2 <= img_size[1]
        assert all(v % divisor == 0 for v in box)
        # whole cells of the detail logits (stride 4) and of the context logits (4 / scale)
        box.scaled(1 / 4)
        box.scaled(scale / 4)
        starts_y.add(box.y1)
        starts_x.add(box.x1)
    assert starts_y == set(range(0, img_size[0] - crop[0] + 1, divisor))
    assert starts_x == set(range(0, img_size[1] - crop[1] + 1, divisor))


def test_box_errors_name_the_values():
    with pytest.raises(ValueError, match="multiples of 8"):
        sample_crop_box((64, 64), (30, 32), 8)
    with pytest.raises(ValueError, match="does not fit"):
        sample_crop_box((40, 64), (48, 48), 8)
    with pytest.raises(ValueError, match="whole cells"):
        CropBox(0, 12, 0, 8).scaled(1 / 8)


def test_generator_makes_boxes_reproducible():
    boxes = [sample_crop_box((512, 512), (64, 64), 8, torch.Generator().manual_seed(3))
             for _ in range(2)]
    assert boxes[0] == boxes[1]


def test_pad_to_multiple_pads_bottom_right_only():
    x = torch.arange(15.0).view(1, 1, 3, 5)
    y = pad_to_multiple(x, 4, value=-1)
    assert y.shape[-2:] == (4, 8)
    torch.testing.assert_close(y[..., :3, :5], x)
    assert (y[..., 3, :] == -1).all() and (y[..., :, 5:] == -1).all()
    aligned = x[..., :2, :4]
    assert pad_to_multiple(aligned, 2) is aligned  # nothing to pad: no copy


@pytest.mark.parametrize("img_size,window,stride", [
    ((64, 96), (32, 32), (16, 16)),
    ((72, 40), (32, 32), (24, 16)),
    ((24, 40), (32, 32), (16, 16)),  # image smaller than the window in one dimension
])
def test_sliding_windows_cover_the_image_with_equal_windows(img_size, window, stride):
    boxes = sliding_windows(img_size, window, stride, divisor=8)
    cover = torch.zeros(img_size)
    for box in boxes:
        assert (box.height, box.width) == (min(window[0], img_size[0]),
                                           min(window[1], img_size[1]))
        box.crop(cover).add_(1)
    assert (cover > 0).all()


def test_sliding_windows_refuse_misaligned_tiling():
    with pytest.raises(ValueError, match="not aligned"):
        sliding_windows((70, 64), (32, 32), (16, 16), divisor=8)


def test_stack_and_merge_windows_reconstruct_the_frame():
    x = torch.randn(2, 3, 64, 96)
    boxes = sliding_windows((64, 96), (32, 32), (16, 16))
    windows = stack_windows(x, boxes)
    assert windows.shape == (len(boxes) * 2, 3, 32, 32)
    torch.testing.assert_close(windows[2:4], boxes[1].crop(x))  # window-major order
    torch.testing.assert_close(merge_windows(windows, boxes, (64, 96)), x)
    # at 1/4 resolution: merging pooled windows equals pooling the frame
    pooled = F.avg_pool2d(windows, 4)
    torch.testing.assert_close(merge_windows(pooled, boxes, (16, 24), scale=1 / 4),
                               F.avg_pool2d(x, 4))


def test_merge_windows_averages_overlaps():
    boxes = [CropBox(0, 4, 0, 4), CropBox(0, 4, 2, 6)]
    windows = torch.cat([torch.full((1, 1, 4, 4), 1.0), torch.full((1, 1, 4, 4), 3.0)])
    out = merge_windows(windows, boxes, (4, 6))
    assert (out[..., :2] == 1).all() and (out[..., 2:4] == 2).all() and (out[..., 4:] == 3).all()
    with pytest.raises(ValueError, match="uncovered"):
        merge_windows(windows, boxes, (4, 8))


@pytest.mark.parametrize("att_channels", [3, 1])
def test_fusion_equals_the_formula_inside_and_outside_the_box(att_channels):
    torch.manual_seed(0)
    context = torch.randn(2, 3, 16, 20, requires_grad=True)
    attention = torch.rand(2, att_channels, 16, 20)
    detail = torch.randn(2, 3, 8, 6, requires_grad=True)
    box = CropBox(4, 12, 10, 16)
    fused = fuse_scales(context, attention, detail, box)
    mask = torch.zeros(1, 1, 16, 20)
    mask[..., 4:12, 10:16] = 1
    pasted = F.pad(detail, (10, 4, 4, 4))  # detail placed into the frame, zero elsewhere
    expected = mask * (attention * pasted + (1 - attention) * context) + (1 - mask) * context
    torch.testing.assert_close(fused, expected)
    # outside the box the fused logits ARE the context logits, inside the formula
    torch.testing.assert_close(fused[..., :4, :], context[..., :4, :])
    a = attention[..., 4:12, 10:16]
    torch.testing.assert_close(fused[..., 4:12, 10:16],
                               a * detail + (1 - a) * context[..., 4:12, 10:16])
    fused.sum().backward()
    assert context.grad is not None and detail.grad is not None
    torch.testing.assert_close(detail.grad, a.expand_as(detail))


def test_fusion_without_box_covers_the_frame_and_checks_shapes():
    context, detail = torch.randn(1, 2, 8, 8), torch.randn(1, 2, 8, 8)
    attention = torch.rand(1, 2, 8, 8)
    torch.testing.assert_close(fuse_scales(context, attention, detail),
                               attention * detail + (1 - attention) * context)
    with pytest.raises(ValueError, match="do not match the box"):
        fuse_scales(context, attention, detail, CropBox(0, 4, 0, 4))


def test_valid_size_keeps_the_box_on_real_pixels():
    gen = torch.Generator().manual_seed(0)
    for _ in range(100):
        box = sample_crop_box((256, 256), (64, 64), 8, gen, valid_size=(100, 40))
        assert box.y2 <= 100  # fits: inside the real rows
        assert box.x1 == 0  # does not fit: starts at 0, covering all real columns
    starts = {sample_crop_box((256, 256), (64, 64), 8, gen, valid_size=(300, 300)).y1
              for _ in range(300)}
    assert max(starts) == 192  # a valid size beyond the image is the image
