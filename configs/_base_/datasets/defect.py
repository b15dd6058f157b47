# A labeled defect dataset in the project layout (ROOT/images, ROOT/masks, ROOT/train.txt,
# ROOT/test.txt). The location defaults to data/cracks under the repository and can be moved
# without editing files: DATA_ROOT=/path/to/set python tools/train.py CFG
dataset_type = 'DefectDataset'
data_root = '{{$DATA_ROOT:data/cracks}}'
train_split = 'train.txt'
# test.txt, else val.txt (the generator's held-out split); a child config that sets
# data_root or metainfo changes them everywhere below (mmseg_uda/utils/data_config.py).
test_split = ['test.txt', 'val.txt']
metainfo = dict(classes=('background', 'crack'), palette=[[0, 0, 0], [255, 0, 0]])
crop_size = (512, 512)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    # Keep the native pixel scale (crack width in pixels matters) with a mild jitter.
    dict(type='RandomRescale', ratio_range=(0.75, 1.25)),
    # No cat_max_ratio: defects cover ~1-5 % of a crop, so background always dominates.
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=[0.25, 0.25], direction=['horizontal', 'vertical']),
    dict(type='PackSegInputs'),
]
# Evaluation at native resolution: resizing would blur thin defects in the ground truth.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]

train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split=train_split,
        metainfo=metainfo,
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split=test_split,
        metainfo=metainfo,
        pipeline=test_pipeline,
        test_mode=True,
    ),
)
test_dataloader = val_dataloader
val_evaluator = dict(type='DefectMetric')
test_evaluator = val_evaluator
