# Magnetic-tile surface defects (Huang et al. 2020): 392 grey ROI crops of tiles, 105-632 px
# wide, five defect classes. Prepare it once with
#   python tools/dataset_converters/magnetic_tile.py ../shared/data/magnetic_tile data/magnetic_tile
# (class-id masks; the split of the source kept) and point MT_ROOT at the result if elsewhere.
_base_ = ['./defect.py']
data_root = '{{$MT_ROOT:data/magnetic_tile}}'
# Class ids written by the converter (tools/dataset_converters/magnetic_tile.py).
metainfo = dict(
    classes=('background', 'Blowhole', 'Break', 'Crack', 'Fray', 'Uneven'),
    palette=[[0, 0, 0], [255, 0, 0], [0, 200, 0], [0, 120, 255], [255, 200, 0],
             [200, 0, 255]])
# Most tiles are smaller than 400 px: 256 crops keep the native pixel scale (thin cracks and
# small blowholes) and images smaller than the crop are padded by the data preprocessor.
crop_size = (256, 256)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomRescale', ratio_range=(0.75, 1.25)),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=[0.25, 0.25], direction=['horizontal', 'vertical']),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    dataset=dict(data_root=data_root, metainfo=metainfo, pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(data_root=data_root, metainfo=metainfo, pipeline=test_pipeline))
test_dataloader = val_dataloader
