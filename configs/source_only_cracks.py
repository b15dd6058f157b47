# Source-only baseline for crack UDA: SegFormer MiT-b5 trained on synthetic labels only,
# through the same DACS model and paired data path as dacs_cracks.py (the target branch is
# loaded but unused), evaluated on the real target test split.
#   MIT_B5_WEIGHTS=... SOURCE_ROOT=... TARGET_ROOT=... python tools/train.py \
#       configs/source_only_cracks.py
_base_ = [
    './_base_/models/mit_b5.py',
    './_base_/datasets/uda_cracks.py',
    './_base_/schedules/adamw_poly_40k.py',
    './_base_/default_runtime.py',
    './_base_/uda/dacs.py',
]
crop_size = (512, 512)
model = dict(
    _base_.uda,  # the DACS settings of _base_/uda/dacs.py ...
    _delete_=True,
    source_only=True,  # ... as the baseline: no teacher, no pseudo-labels, no mixing
    # ... around the SegFormer MiT-b5 of _base_/models/mit_b5.py, with the ImageNet-pretrained
    # encoder of the reference (SegFormer / HuggingFace / mmseg layout, converted on load,
    # missing keys are an error): MIT_B5_WEIGHTS=/path/to/mit_b5.pth.
    segmentor=dict(
        _base_.model,
        backbone=dict(
            _base_.model.backbone,
            init_cfg=dict(type='MiTPretrained',
                          checkpoint='{{$MIT_B5_WEIGHTS:pretrained/mit_b5.pth}}'))),
    # Normalises and pads the source and the target branch like the segmentor's
    # SegDataPreProcessor (ImageNet mean/std, crops padded to crop_size with label 255).
    data_preprocessor=dict(_base_.data_preprocessor, type='UDASegDataPreProcessor',
                           size=crop_size),
)
# The EMA teacher's parameters are frozen: leave them out of the optimizer (quietly).
optim_wrapper = dict(constructor='TrainableOptimWrapperConstructor')
# Crack-specific schedule (seed 002: 20k iterations, 500 warm-up, linear decay); the
# optimizer is the reference AdamW 6e-5 with the decoder at x10.
warmup_iters = 500
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='PolyLR', eta_min=0.0, power=1.0, by_epoch=False, begin=warmup_iters),
]
train_cfg = dict(max_iters=20000, val_interval=2000)
default_hooks = dict(checkpoint=dict(interval=2000, max_keep_ckpts=3))
