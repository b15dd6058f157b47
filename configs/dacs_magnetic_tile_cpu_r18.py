# dacs_magnetic_tile_cpu.py with a small CNN encoder: ResNet-18 (mmseg's ResNetV1c, deep stem)
# from scratch in place of MiT-b0, the same SegFormer MLP decoder on its four stages.
# Why (docs/benchmarks.md, "A CNN encoder for the CPU protocol"): from scratch, trained on
# 203 labeled real tiles and scored on 70 others (1500 iterations, 2 seeds), MiT-b0 learns
# one defect class (crack) and this network two (crack, and fray or blowhole): 3-5x the defect
# mIoU at about the same cost per iteration on 2 cores. It is a CPU stand-in for the
# pretrained MiT-b5 of hrda_magnetic_tile.py (what a GPU user trains), not a replacement.
# With model.source_only=True it is the source-only baseline:
#   python tools/train.py configs/dacs_magnetic_tile_cpu_r18.py
_base_ = ['./dacs_magnetic_tile_cpu.py']
model = dict(
    segmentor=dict(
        # mmseg's defaults (4 stages, strides 1/2/2/2, no dilation, BN, pytorch style) left out.
        backbone=dict(
            _delete_=True,
            type='ResNetV1c',
            depth=18,
            out_indices=(0, 1, 2, 3),
            norm_cfg=dict(type='BN', requires_grad=True),
            init_cfg=None,  # from scratch: no weights can be downloaded here
        ),
        decode_head=dict(in_channels=[64, 128, 256, 512], channels=128),
    ),
)
