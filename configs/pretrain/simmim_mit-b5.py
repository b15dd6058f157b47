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
_base_ = ['./simmim_mit-b0_cpu.py']
crop_size = (512, 512)  # the crop of the GPU training configs
model = dict(
    # The segmentors' MiT-b5 (64-channel first stage, [3, 6, 40, 3] blocks), starting from
    # the ImageNet weights of MIT_B5_WEIGHTS: continued pretraining adapts them to the
    # factory's surfaces instead of learning from nothing.
    backbone=dict(
        # fused attention kernels on the GPU; the same state-dict keys as MixVisionTransformer
        type='MixVisionTransformerSDPA',
        embed_dims=64, num_layers=[3, 6, 40, 3],
        # the GPU configs' stochastic depth
        drop_path_rate=0.1,
        init_cfg=dict(type='MiTPretrained',
                      checkpoint='{{$MIT_B5_WEIGHTS:pretrained/mit_b5.pth}}')),
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
# Schedule: 10k iterations of 16 crops of 512² (~160k crops: many passes over a few thousand
# photos). Continued pretraining keeps a lower learning rate than from scratch (1e-4 instead
# of SimMIM's 8e-4 for batch 2048 scaled down) so that the ImageNet features are refined, not
# overwritten; 500 warm-up iterations (the new mask token and decoder start random), then
# linear decay to 0. Checkpoints every 1000 iterations: --export-from any of them.
optim_wrapper = dict(optimizer=dict(lr=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, by_epoch=False, begin=500),
]
train_cfg = dict(max_iters=10000)
default_hooks = dict(checkpoint=dict(interval=1000, max_keep_ckpts=3))
