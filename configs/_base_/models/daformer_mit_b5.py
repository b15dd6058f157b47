# DAFormer: MiT-b5 encoder + DAFormer decoder (per-stage 1x1 embeddings to 256 channels,
# depthwise-separable ASPP fusion with dilations 1, 6, 12, 18), single-scale training.
_base_ = ['./mit_b5.py']
model = dict(
    decode_head=dict(
        _delete_=True,
        type='DAFormerHead',
        in_channels=[64, 128, 320, 512],
        in_index=[0, 1, 2, 3],
        embed_dims=256,
        channels=256,
        fusion='aspp',
        dilations=(1, 6, 12, 18),
        dropout_ratio=0.1,
        num_classes=2,
        norm_cfg=dict(type='BN', requires_grad=True),
        align_corners=False,
        loss_decode=dict(type='WeightedCrossEntropyLoss', loss_weight=1.0),
    ),
)
