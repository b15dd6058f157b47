# A new defect type by inheritance only: HRDA + DACS of hrda_cracks.py adapting generated
# magnetic tiles (labeled source) to the real magnetic-tile photos (unlabeled target), five
# defect classes + background. Only the data section and the number of classes change; model,
# UDA settings and schedule are the headline's. Walk-through: docs/new_defect_type.md.
# 1. The labeled source: generated tiles, class ids in the order of --type (= metainfo below):
#   python -m synthetic generate --type blowhole,break,crack,fray,uneven --style magnetic_tile \
#       --num 2000 --size 352x352 --seed 0 --out data/synthetic_magnetic_tile --workers 2
# 2. The real tiles (unlabeled target = train split, evaluation = test split), class-id masks
#   0 background, 1 blowhole, 2 break, 3 crack, 4 fray, 5 uneven:
#   python tools/dataset_converters/magnetic_tile.py ../shared/data/magnetic_tile data/magnetic_tile
# 3. Train (other folders without editing: MT_SOURCE_ROOT, MT_TARGET_ROOT = the line's
#   unlabeled photos, MT_ROOT = the labeled evaluation set with test.txt):
#   python tools/train.py configs/hrda_magnetic_tile.py --amp
# The generated set's meta.json names its classes; a source whose classes differ from
# metainfo.classes (names or order) is refused when the dataset is built.
_base_ = ['./hrda_cracks.py']
data_root = '{{$MT_ROOT:data/magnetic_tile}}'
source_root = '{{$MT_SOURCE_ROOT:data/synthetic_magnetic_tile}}'
target_root = '{{$MT_TARGET_ROOT:data/magnetic_tile}}'
metainfo = dict(
    classes=('background', 'blowhole', 'break', 'crack', 'fray', 'uneven'),
    palette=[[0, 0, 0], [255, 0, 0], [0, 200, 0], [0, 120, 255], [255, 200, 0],
             [200, 0, 255]])
# The tiles are 105-632 x 227-403 px: 384 crops (192 context + 192 detail box) cover most of
# a tile at native resolution; smaller tiles are padded (no loss, pseudo-label weight 0).
crop_size = (384, 384)
model = dict(
    segmentor=dict(
        # Six classes; the class-wise scale attention follows the decoder's classes.
        decode_head=dict(decoder=dict(num_classes=6)),
        detail_crop_size=(192, 192),
        detail_stride=(96, 96),
        test_cfg=dict(crop_size=crop_size, stride=(192, 192)),
    ),
    data_preprocessor=dict(size=crop_size),
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
    dataset=dict(
        source=dict(data_root=source_root, metainfo=metainfo, pipeline=source_pipeline),
        target=dict(data_root=target_root, metainfo=metainfo, pipeline=target_pipeline),
        # Classes of very different frequency (blowholes and cracks cover < 1 % of a tile,
        # fray and uneven regions 20-40 %): draw source images by rare class first,
        # p(c) = softmax((1 - f_c) / 0.01), the reference's temperature.
        rare_class_sampling=dict(_delete_=True, temperature=0.01),
    ),
)
val_dataloader = dict(dataset=dict(data_root=data_root, metainfo=metainfo))
test_dataloader = val_dataloader
