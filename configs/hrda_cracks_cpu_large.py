# HRDA on large images on 2 CPU cores: hrda_cracks_cpu.py with the headline's proportions
# at half its size: a 512x512 crop seen as a 256x256 context (x0.5) plus a 256x256 detail box
# at full resolution (the headline: 1024 -> 512 + 512), detail windows of 256 at stride 128,
# an outer 512 window at stride 256 for the test images. Per crop the student sees the
# pixels of one 362^2 crop, DACS's crop in dacs_cracks_cpu_large.py (the large-image
# protocol, configs/benchmarks/cracks_cpu_large.py).
#   SOURCE_ROOT=... TARGET_ROOT=data/cfd_mosaic python tools/train.py \
#       configs/hrda_cracks_cpu_large.py
_base_ = ['./hrda_cracks_cpu.py']
crop_size = (512, 512)
model = dict(
    segmentor=dict(
        detail_crop_size=(256, 256),
        detail_stride=(128, 128),
        test_cfg=dict(crop_size=crop_size, stride=(256, 256)),
    ),
    data_preprocessor=dict(size=crop_size),
)
# The parent's pipelines with this crop size.
source_pipeline = [dict(t, crop_size=crop_size) if t['type'] == 'RandomCrop' else t
                   for t in _base_.source_pipeline]
target_pipeline = [dict(t, crop_size=crop_size) if t['type'] == 'RandomCrop' else t
                   for t in _base_.target_pipeline]
train_dataloader = dict(
    dataset=dict(source=dict(pipeline=source_pipeline), target=dict(pipeline=target_pipeline)))
