# Continued self-supervised pretraining of the ImageNet MiT-b5 encoder of the GPU configs with
# the dense joint-embedding objective (DenseVICReg, as vicreg_mit-b0_cpu.py) on the factory's
# unlabeled photos. One GPU:
#   MIT_B5_WEIGHTS=pretrained/mit_b5.pth TARGET_ROOT=data/my_photos \
#       python tools/pretrain.py configs/pretrain/vicreg_mit-b5.py --amp
# writes work_dirs/vicreg_mit-b5/backbone.pth, used as the SimMIM one (simmim_mit-b5.py):
#   MIT_B5_WEIGHTS=work_dirs/vicreg_mit-b5/backbone.pth python tools/train.py \
#       configs/hrda_cracks.py --amp
# Several GPUs (torchrun ... --launcher pytorch): the expander's BatchNorm and the variance /
# covariance statistics are per GPU, over its own cells (thousands per batch). Not run on this
# project's CPU machines (no GPU, no ImageNet weights); docs/pretrain.md.
_base_ = ['./vicreg_mit-b0_cpu.py', '../_base_/pretrain/mit_b5_continued.py']
crop_size = (512, 512)  # each view: the crop of the GPU training configs
model = dict(
    backbone=_base_.mit_b5_backbone,  # the ImageNet MiT-b5 of MIT_B5_WEIGHTS
    data_preprocessor=dict(size=(crop_size[0], 2 * crop_size[1])),
    # 64 x 64 cells per view at stride 8: a random 4096 of each view set for the statistics
    max_cells=4096,
)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='TwoViewCrops', crop_size=crop_size, ratio_range=(0.5, 2.0), flip_prob=0.5,
         view_pipeline=_base_.view_pipeline),
    dict(type='PackSegInputs',
         meta_keys=('img_path', 'ori_shape', 'img_shape', 'pad_shape', 'views',
                    'ori_view_shape')),
]
# 8 pairs of 512² views per GPU (16 crops through the encoder, as simmim_mit-b5.py's batch)
# on the continued-pretraining schedule (the expander starts random: 500 warm-up iterations).
train_dataloader = dict(batch_size=8, num_workers=8, dataset=dict(pipeline=train_pipeline))
optim_wrapper = dict(optimizer=dict(lr=_base_.continued_lr))
param_scheduler = _base_.continued_scheduler
train_cfg = dict(max_iters=_base_.continued_iters)
default_hooks = dict(checkpoint=_base_.continued_checkpoint)
