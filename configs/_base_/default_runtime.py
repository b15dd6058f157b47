# Runtime shared by every config: mmseg registries (scope), this package's registrations,
# iteration-based logging, crash-safe checkpoints, the NaN guard and visualisation.
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
    # A line with the ETA at iterations 1, 2, 5, 10 (before the logger's first line), and the
    # stack's known harmless messages filtered (paramwise_options dump, deprecations...).
    progress=dict(type='ProgressHook'),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # SafeCheckpointHook: MMEngine's CheckpointHook, but each file is written to a temporary
    # name, fsynced and renamed, old ones are rotated out only after that, `last_checkpoint`
    # is relative to the work dir, and a checkpoint with NaN/Inf weights is never written.
    # save_best: also keep best_defect_IoU_iter_N.pth, the checkpoint with the best IoU of the
    # defect class(es) at validation (computed by SafeCheckpointHook from DefectMetric).
    # save_last is MMEngine's default, written out so that `--cfg-options
    # default_hooks.checkpoint.save_last=False` is not taken for a typo of save_best.
    checkpoint=dict(type='SafeCheckpointHook', by_epoch=False, interval=4000, max_keep_ckpts=3,
                    save_best='defect_IoU', rule='greater', save_last=True),
    # Stops the run (exit status 1, one line naming the iteration and the loss terms) after
    # `patience` consecutive iterations with a non-finite loss or non-finite weights.
    non_finite=dict(type='NonFiniteGuardHook', patience=3),
    # One warning when the pseudo-labels carry a mean weight < 0.01 over 100 iterations (from
    # iteration 200): the teacher is never confident enough and self-training is silently
    # off. Reads the logged pseudo.weight; does nothing for source-only models.
    self_training=dict(type='SelfTrainingWatchHook', window=100, min_weight=0.01),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'),
)
