# Runtime shared by every config: mmseg registries (scope), this package's registrations,
# iteration-based logging, checkpoints and visualisation.
default_scope = 'mmseg'
# Registers DefectDataset, DefectMetric, the UDA models and hooks into mmseg's registries,
# after applying the stack fixes (mmcv.ops fallback for mmcv-lite, torch>=2.6 checkpoints).
custom_imports = dict(imports=['mmseg_uda'], allow_failed_imports=False)

env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # tools/train.py switches to 'gloo' by itself when no GPU is visible (CPU DDP).
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=4000, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'),
)
