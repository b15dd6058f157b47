# Self-supervised pretraining of the CPU configs' MiT-b0 encoder with a dense joint-embedding
# objective (DenseVICReg: matched cells of two views of a photo get the same embedding; VICReg's
# variance / covariance terms prevent collapse) — the alternative to SimMIM's masked image
# modelling (simmim_mit-b0_cpu.py), same data, same encoder passes per iteration.
#   TARGET_ROOT=/work/shared/data/cfd python tools/pretrain.py \
#       configs/pretrain/vicreg_mit-b0_cpu.py
# writes work_dirs/vicreg_mit-b0_cpu/backbone.pth, loaded as the SimMIM one (docs/pretrain.md).
_base_ = ['./simmim_mit-b0_cpu.py']
crop_size = (256, 256)  # each view: the crop of the CPU training configs
model = dict(
    _delete_=True,
    type='DenseVICReg',
    backbone=_base_.model.backbone,
    # the two views arrive side by side: one 256 x 512 input per pair
    data_preprocessor=dict(_base_.data_preprocessor, size=(crop_size[0], 2 * crop_size[1])),
    # the four stage maps fused at stride 8 (32 x 32 cells per view), a 512-d embedding
    feature_stride=8,
    expander_channels=512,
    # VICReg's weights (invariance, variance, covariance); not tuned
    invariance_weight=25.0,
    variance_weight=25.0,
    covariance_weight=1.0,
)
# Each view: its own box (pixel scale 0.5-2.0, as the SimMIM crops and the training configs),
# flips, and the factory photometric changes (lighting gradients and gamma, low contrast,
# motion blur, JPEG, colour jitter): what differs between two photos of one surface, and
# between a generated and a real one.
view_pipeline = [
    dict(type='RandomLighting', prob=0.8),
    dict(type='RandomLowContrast', prob=0.3),
    dict(type='RandomMotionBlur', prob=0.3),
    dict(type='RandomJPEGCompression', prob=0.3),
    dict(type='PhotoMetricDistortion'),
]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='TwoViewCrops', crop_size=crop_size, ratio_range=(0.5, 2.0), flip_prob=0.5,
         view_pipeline=view_pipeline),
    dict(type='PackSegInputs',
         meta_keys=('img_path', 'ori_shape', 'img_shape', 'pad_shape', 'views',
                    'ori_view_shape')),
]
# 4 pairs = 8 crops of 256² through the encoder per iteration, as SimMIM's batch of 8: the
# same encoder compute per iteration (~1.2 s on one core), 600 iterations.
train_dataloader = dict(batch_size=4, dataset=dict(pipeline=train_pipeline))
# Optimiser, schedule (600 iterations, 100 warm-up), hooks: those of simmim_mit-b0_cpu.py.
