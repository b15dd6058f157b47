# hrda_cracks.py shrunk to 2 CPU cores: MiT-b0 from scratch (no pretrained weights can be
# downloaded here), 256x256 crops -> 128x128 context + 128x128 detail crop, SegFormer MLP
# decoders, batch 2 source + 2 target, 1000 iterations. Same data, UDA settings and evaluation
# as the headline.
#   SOURCE_ROOT=data/synthetic_cracks TARGET_ROOT=/work/shared/data/cfd \
#       python tools/train.py configs/hrda_cracks_cpu.py
_base_ = ['./hrda_cracks.py']
crop_size = (256, 256)
# Both decoders are the SegFormer MLP head of the other CPU configs (source-only, DACS), so
# that HRDA differs from them only by its multi-resolution crops and scale attention. Not the
# DAFormer decoder of the GPU config: from scratch, a 64-channel DAFormer decoder predicted no
# crack at all for the first few hundred iterations (0.0 IoU on CFD after 400 on both seeds,
# also without adaptation and with one resolution), and at 256 channels its ASPP costs ~9x
# the step time on 2 cores (docs/benchmarks.md, "HRDA on the CPU").
b0_decoder = dict(
    _delete_=True,
    type='SegformerHead',
    in_channels=[32, 64, 160, 256],
    in_index=[0, 1, 2, 3],
    channels=256,
    dropout_ratio=0.1,
    num_classes=2,
    norm_cfg=dict(type='BN', requires_grad=True),
    align_corners=False,
    # Cracks are 1-5 % of the pixels; from scratch the crack class needs weight.
    loss_decode=dict(type='WeightedCrossEntropyLoss', loss_weight=1.0, class_weight=[1.0, 5.0]))
model = dict(
    segmentor=dict(
        # MiT-b0: 32-channel first stage, 2 blocks per stage, random initialisation.
        backbone=dict(embed_dims=32, num_layers=[2, 2, 2, 2], init_cfg=None),
        # Half-resolution context of the 256 crop and a 128 detail box (multiples of 8).
        detail_crop_size=(128, 128),
        detail_stride=(64, 64),
        decode_head=dict(decoder=b0_decoder, attention_decoder=b0_decoder),
        # Outer window for the 480x320 CFD test images: 256 at stride 128.
        test_cfg=dict(crop_size=crop_size, stride=(128, 128)),
    ),
    data_preprocessor=dict(size=crop_size),
    # Cancel the crack weight on pseudo-labels; a teacher horizon of ~100 iterations for
    # the short schedule (both: see dacs_cracks_cpu.py).
    pseudo_class_weight=(1.0, 0.2),
    alpha=0.99,
)
source_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomRescale', ratio_range=(0.75, 1.25)),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=[0.25, 0.25], direction=['horizontal', 'vertical']),
    dict(type='PackSegInputs'),
]
target_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=[0.25, 0.25], direction=['horizontal', 'vertical']),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    num_workers=1,
    dataset=dict(source=dict(pipeline=source_pipeline), target=dict(pipeline=target_pipeline)),
)
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader
# From scratch a larger learning rate than the pretrained 6e-5 is needed.
optim_wrapper = dict(optimizer=dict(lr=6e-4))
warmup_iters = 100
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='PolyLR', eta_min=0.0, power=1.0, by_epoch=False, begin=warmup_iters),
]
train_cfg = dict(max_iters=1000, val_interval=500)
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=500, max_keep_ckpts=2))
custom_hooks = [
    dict(type='UDADebugHook', interval=250),
    dict(type='RankConsistencyHook', prefixes=('teacher.',), interval=250),
]
