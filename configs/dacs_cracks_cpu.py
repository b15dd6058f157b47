# dacs_cracks.py shrunk to 2 CPU cores: MiT-b0 from scratch (no pretrained weights
# can be downloaded here), 256² crops, batch 2 source + 2 target, 1000 iterations.
# ~0.8 s/iteration on 2 free cores (~14 min). The baseline is source_only_cracks_cpu.py.
#   SOURCE_ROOT=... TARGET_ROOT=/work/shared/data/cfd python tools/train.py \
#       configs/dacs_cracks_cpu.py
_base_ = ['./dacs_cracks.py']
crop_size = (256, 256)
model = dict(
    segmentor=dict(
        # MiT-b0: 32-channel first stage, 2 blocks per stage (the CPU oracle's network),
        # from scratch (no pretrained weights on this machine).
        backbone=dict(embed_dims=32, num_layers=[2, 2, 2, 2], init_cfg=None),
        decode_head=dict(
            in_channels=[32, 64, 160, 256],
            channels=256,
            # Cracks are 1-5 % of the pixels; from scratch the crack class needs weight.
            loss_decode=dict(type='WeightedCrossEntropyLoss', class_weight=[1.0, 5.0])),
    ),
    data_preprocessor=dict(size=crop_size),
    # ...but not on pseudo-labels: the weight corrects the imbalance of true labels, on the
    # teacher's (already crack-biased) labels it amplifies its bias and self-training
    # thickens the cracks round after round (docs/benchmarks.md, DACS diagnosis).
    pseudo_class_weight=(1.0, 0.2),
    # Teacher horizon ~1/(1 - alpha) iterations. With the reference 0.999 and
    # alpha_t = min(1 - 1/(t+1), alpha) the teacher of a run shorter than 1000 iterations is
    # the plain average of every student since the random initialisation: a stale teacher
    # for a model trained from scratch in a few hundred iterations. 0.99: the last ~100.
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
