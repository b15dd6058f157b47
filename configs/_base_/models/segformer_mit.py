# SegFormer: MixVisionTransformer encoder + all-MLP decoder (mmseg's SegformerHead).
# The backbone here has MiT-b0's shape; _base_/models/mit_b{0..5}.py set the other sizes.
# BN, not SyncBN: SyncBN needs CUDA + a process group. For multi-GPU training set
# `sync_bn = 'torch'` in a config to convert every BN layer.
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],  # ImageNet statistics (RGB): what pretrained MiTs expect
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,  # padding never counts in the loss
    size=(512, 512),  # training batches are padded to the crop size
)
model = dict(
    type='WeightedEncoderDecoder',  # mmseg's EncoderDecoder + pixel-weighted losses
    data_preprocessor=data_preprocessor,
    # Pretrained MiT weights: convert and load them with tools/convert_weights.py (a plain
    # init_cfg=Pretrained on an unconverted file leaves the backbone random with only a log line).
    pretrained=None,
    backbone=dict(
        type='MixVisionTransformer',
        in_channels=3,
        embed_dims=32,
        num_stages=4,
        num_layers=[2, 2, 2, 2],
        num_heads=[1, 2, 5, 8],
        patch_sizes=[7, 3, 3, 3],
        sr_ratios=[8, 4, 2, 1],
        out_indices=(0, 1, 2, 3),
        mlp_ratio=4,
        qkv_bias=True,
        drop_rate=0.0,
        attn_drop_rate=0.0,
        drop_path_rate=0.1,
    ),
    decode_head=dict(
        type='SegformerHead',
        in_channels=[32, 64, 160, 256],
        in_index=[0, 1, 2, 3],
        channels=256,
        dropout_ratio=0.1,
        num_classes=2,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='WeightedCrossEntropyLoss', loss_weight=1.0),
    ),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'),
)
