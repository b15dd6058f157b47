# DACS on large images on 2 CPU cores: dacs_cracks_cpu.py with 362x362 crops, the one-scale
# baseline of HRDA's large-image protocol (configs/benchmarks/cracks_cpu_large.py). 362^2
# pixels = 2 x 256^2, the pixels hrda_cracks_cpu_large.py puts through the student per crop
# (a 256^2 context + a 256^2 detail box): both see the same number of pixels per step, DACS
# as one full-resolution crop, HRDA as a half-resolution 512 context plus a full-resolution
# box inside it. Tested on the whole image (mode 'whole', as dacs_cracks_cpu.py).
#   SOURCE_ROOT=... TARGET_ROOT=data/cfd_mosaic python tools/train.py \
#       configs/dacs_cracks_cpu_large.py
_base_ = ['./dacs_cracks_cpu.py']
crop_size = (362, 362)
model = dict(data_preprocessor=dict(size=crop_size))
# The parent's pipelines with this crop size.
source_pipeline = [dict(t, crop_size=crop_size) if t['type'] == 'RandomCrop' else t
                   for t in _base_.source_pipeline]
target_pipeline = [dict(t, crop_size=crop_size) if t['type'] == 'RandomCrop' else t
                   for t in _base_.target_pipeline]
train_dataloader = dict(
    dataset=dict(source=dict(pipeline=source_pipeline), target=dict(pipeline=target_pipeline)))
