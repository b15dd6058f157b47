# hrda_magnetic_tile.py shrunk to 2 CPU cores the way hrda_cracks_cpu.py shrinks the crack
# headline: MiT-b0 from scratch (no pretrained weights can be downloaded here), 256x256 crops
# -> 128x128 context + 128x128 detail crop, SegFormer MLP decoders (see hrda_cracks_cpu.py for
# why not the DAFormer decoder from scratch), batch 2 source + 2 target, 1000 iterations. Same
# data (generated source, real tiles as target and test set) and UDA settings.
#   python -m synthetic generate --type blowhole,break,crack,fray,uneven --style magnetic_tile \
#       --num 600 --size 352x352 --seed 0 --out data/synthetic_magnetic_tile --workers 2
#   python tools/train.py configs/hrda_magnetic_tile_cpu.py
_base_ = ['./hrda_magnetic_tile.py']
crop_size = (256, 256)
b0_decoder = dict(
    _delete_=True,
    type='SegformerHead',
    in_channels=[32, 64, 160, 256],
    in_index=[0, 1, 2, 3],
    channels=256,
    dropout_ratio=0.1,
    num_classes=6,
    norm_cfg=dict(type='BN', requires_grad=True),
    align_corners=False,
    # From scratch the small classes need weight (blowholes, breaks and cracks cover < 1-3 %
    # of a tile); the large fray and uneven regions less (the value 5 of the crack configs).
    loss_decode=dict(type='WeightedCrossEntropyLoss', loss_weight=1.0,
                     class_weight=[1.0, 5.0, 5.0, 5.0, 2.0, 2.0]))
model = dict(
    segmentor=dict(
        backbone=dict(embed_dims=32, num_layers=[2, 2, 2, 2], init_cfg=None),
        detail_crop_size=(128, 128),
        detail_stride=(64, 64),
        decode_head=dict(decoder=b0_decoder, attention_decoder=b0_decoder),
        test_cfg=dict(crop_size=crop_size, stride=(128, 128)),
    ),
    data_preprocessor=dict(size=crop_size),
    # Cancel the class weights on pseudo-labels (the weights correct true labels' imbalance,
    # on the teacher's labels they amplify its bias; dacs_cracks_cpu.py), and a teacher
    # horizon of ~100 iterations for the short schedule.
    pseudo_class_weight=(1.0, 0.2, 0.2, 0.2, 0.5, 0.5),
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
