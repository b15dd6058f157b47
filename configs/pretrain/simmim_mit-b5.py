# Continued self-supervised pretraining (SimMIM-style masked image modelling) of the ImageNet
# MiT-b5 encoder of the GPU configs (hrda_cracks.py, dacs_cracks.py, source_only_cracks.py)
# on the factory's unlabeled photos, before adaptation. One GPU:
#   MIT_B5_WEIGHTS=pretrained/mit_b5.pth TARGET_ROOT=data/my_photos \
#       python tools/pretrain.py configs/pretrain/simmim_mit-b5.py --amp
#   torchrun --nproc_per_node=4 tools/pretrain.py configs/pretrain/simmim_mit-b5.py \
#       --amp --launcher pytorch        # 4 GPUs: 4x the batch, same iterations
# writes work_dirs/simmim_mit-b5/backbone.pth; train with it by pointing MIT_B5_WEIGHTS at it
# (MiTPretrained loads it strictly), e.g.
#   MIT_B5_WEIGHTS=work_dirs/simmim_mit-b5/backbone.pth python tools/train.py \
#       configs/hrda_cracks.py --amp
# Not run on this project's CPU machines (no GPU, no ImageNet weights); docs/pretrain.md.
_base_ = ['./simmim_mit-b0_cpu.py', '../_base_/pretrain/mit_b5_continued.py']
crop_size = (512, 512)  # the crop of the GPU training configs
model = dict(
    backbone=_base_.mit_b5_backbone,  # the ImageNet MiT-b5 of MIT_B5_WEIGHTS
    data_preprocessor=dict(size=crop_size),
)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomRescale', ratio_range=(0.5, 2.0)),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=[0.25, 0.25], direction=['horizontal', 'vertical']),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(batch_size=16, num_workers=8,
                        dataset=dict(pipeline=train_pipeline))
# 10k iterations of 16 crops of 512² (~160k crops: many passes over a few thousand photos),
# at the continued-pretraining learning rate (1e-4 instead of SimMIM's 8e-4 for batch 2048
# scaled down; the mask token and decoder start random: 500 warm-up iterations).
optim_wrapper = dict(optimizer=dict(lr=_base_.continued_lr))
param_scheduler = _base_.continued_scheduler
train_cfg = dict(max_iters=_base_.continued_iters)
default_hooks = dict(checkpoint=_base_.continued_checkpoint)
