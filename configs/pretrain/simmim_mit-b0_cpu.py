# Self-supervised pretraining (SimMIM-style masked image modelling) of the MiT-b0 encoder of
# the CPU configs (dacs_cracks_cpu.py, source_only_cracks_cpu.py, ...) on the unlabeled target
# photos: CFD-size data (72 train photos of 480x320), 1 CPU core.
#   TARGET_ROOT=/work/shared/data/cfd python tools/pretrain.py \
#       configs/pretrain/simmim_mit-b0_cpu.py
# writes work_dirs/simmim_mit-b0_cpu/backbone.pth; a training config starts from it with
#   --cfg-options model.segmentor.backbone.init_cfg.type=MiTPretrained \
#                 model.segmentor.backbone.init_cfg.checkpoint=work_dirs/.../backbone.pth
# (see docs/pretrain.md). Add the generated source photos with
#   --cfg-options train_dataloader.dataset.extra_roots=[data/synthetic_cracks]
_base_ = ['../_base_/models/mit_b0.py', '../_base_/default_runtime.py']
target_root = '{{$TARGET_ROOT:data/cfd}}'
crop_size = (256, 256)  # the crop of the CPU training configs
model = dict(
    _delete_=True,
    type='SimMIM',
    # The segmentors' backbone (MiT-b0 of _base_/models/mit_b0.py), from scratch: its state
    # dict is what MiTPretrained loads into model.segmentor.backbone afterwards.
    backbone=_base_.model.backbone,
    # The segmentors' normalisation (ImageNet mean/std, RGB), crops padded to crop_size.
    data_preprocessor=dict(_base_.data_preprocessor, size=crop_size),
    # 32 px = MiT's output stride: every cell of the deepest map is wholly masked or not;
    # 60 % of them masked (SimMIM's ratio for 32-px patches).
    mask_patch_size=32,
    mask_ratio=0.6,
)
# Random resized crops (rescale 0.5-2.0, then a 256 crop) and flips: each photo gives many
# different views, which 72 photos need.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomRescale', ratio_range=(0.5, 2.0)),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=[0.25, 0.25], direction=['horizontal', 'vertical']),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='UnlabeledImageDataset',
        data_root=target_root,
        # The target's train.txt (else every image, refused when a test.txt exists):
        # never the evaluation images.
        split=['train.txt', None],
        # More folders with the same split, e.g. the generated source (target+source).
        extra_roots=[],
        pipeline=train_pipeline,
    ),
)
# Schedule: 600 iterations of 8 crops (~65 passes over 72 photos) take ~10 minutes on one
# core (~1 s/iteration); AdamW as SimMIM (lr 1e-3 for this batch of 8, weight decay 0.05,
# gradient norm clipped at 5), 100 warm-up iterations, then linear decay to 0. No
# validation (there is nothing to score).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={
        'pos_block': dict(decay_mult=0.0),
        'norm': dict(decay_mult=0.0),
        'mask_token': dict(decay_mult=0.0),
    }),
    clip_grad=dict(max_norm=5.0),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=100),
    dict(type='PolyLR', eta_min=0.0, power=1.0, by_epoch=False, begin=100),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=600)
val_cfg = None
val_dataloader = None
val_evaluator = None
test_cfg = None
test_dataloader = None
test_evaluator = None
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=300, max_keep_ckpts=2, save_best=None),
)
