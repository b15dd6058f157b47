# Crack UDA data: labeled synthetic source + unlabeled real target for training, evaluation
# on the labeled target test split. Both roots use the DefectDataset layout (ROOT/images,
# ROOT/masks, ROOT/<split>.txt) and can be moved without editing files:
#   SOURCE_ROOT=/data/synthetic_cracks TARGET_ROOT=/data/cfd python tools/train.py CFG
# The target may be photos only (ROOT/images): it then trains on every image, and
# tools/train.py turns the evaluation off (no masks to score against) and says so.
# A child config that sets source_root, target_root or metainfo changes them everywhere they
# are used below (the tools' config loader, mmseg_uda/utils/data_config.py); the number of
# classes of the model follows metainfo.
source_root = '{{$SOURCE_ROOT:data/synthetic_cracks}}'
target_root = '{{$TARGET_ROOT:data/cfd}}'
dataset_type = 'DefectDataset'
metainfo = dict(classes=('background', 'crack'), palette=[[0, 0, 0], [255, 0, 0]])
crop_size = (512, 512)

source_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    # Keep the native pixel scale (the generator renders cracks at the target's width in
    # pixels) with a mild jitter.
    dict(type='RandomRescale', ratio_range=(0.75, 1.25)),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=[0.25, 0.25], direction=['horizontal', 'vertical']),
    dict(type='PackSegInputs'),
]
# The target is unlabeled: no LoadAnnotations. No rescale: it is trained and tested at its
# own pixel scale. Crops smaller than crop_size are padded by the preprocessor, and the
# padding gets pseudo-label weight 0.
target_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=[0.25, 0.25], direction=['horizontal', 'vertical']),
    dict(type='PackSegInputs'),
]
# Evaluation at native resolution: resizing would blur thin cracks in the ground truth.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]

train_dataloader = dict(
    batch_size=2,  # per GPU: 2 source + 2 target crops (the reference's batch)
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='UDADataset',
        source=dict(type=dataset_type, data_root=source_root, split='train.txt',
                    metainfo=metainfo, pipeline=source_pipeline),
        # train.txt if the target has one, else every image in ROOT/images.
        target=dict(type=dataset_type, data_root=target_root, split=['train.txt', None],
                    with_masks=False, metainfo=metainfo, pipeline=target_pipeline),
        # Binary cracks: rare-class sampling would only prefer images with cracks, which
        # almost all synthetic images have. Multi-class sources: dict(temperature=0.01).
        rare_class_sampling=None,
        # A few labeled target images in the supervised stream, off while split is None:
        # split='train.txt' (a file of the target's folder, or absolute), num=N of its images
        # (chosen by a shuffle seeded with seed; None = all), ratio = their exact share of
        # the source items (0.5: one of the 2 source crops of every batch). docs/uda.md.
        labeled_target=dict(split=None, num=None, ratio=0.5, seed=0),
    ),
)
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    # test.txt, else val.txt (the generator's held-out split), else every image.
    dataset=dict(type=dataset_type, data_root=target_root, split=['test.txt', 'val.txt', None],
                 metainfo=metainfo, pipeline=test_pipeline, test_mode=True),
)
test_dataloader = val_dataloader
val_evaluator = dict(type='DefectMetric')
test_evaluator = val_evaluator
