# GPU adaptation benchmark (one H100, ~30 minutes of device time): the MiT-b5 configs with a
# short schedule, generated cracks -> a real crack set, one seed. Not run yet: no GPU was
# lent to the sessions that wrote it (docs/benchmarks.md). Every MiT-b5 config loads the
# ImageNet encoder from $MIT_B5_WEIGHTS (the reference setting); to train from scratch pass
#   --cfg-options model.segmentor.backbone.init_cfg=None
#   python tools/benchmark_adaptation.py configs/benchmarks/cracks_gpu.py \
#       --target /data/cfd --cfg-options ...
target = dict(root='../shared/data/cfd')
# HRDA's 1024 crops need large images: render the source at 1024 (CFD itself is 480x320, so
# on CFD HRDA sees padded crops; use a high-resolution target to measure what HRDA adds).
source = dict(generate=dict(type='crack', num=2000, size=1024, seed=0, style='pavement',
                            workers=8))
seeds = [0]
budget = dict(max_iters=2000, val_interval=500)
methods = dict(
    source_only='configs/source_only_cracks.py',
    dacs='configs/dacs_cracks.py',
    hrda='configs/hrda_cracks.py',
    oracle=dict(config='configs/source_only_cracks.py', source='target'),
)
# Warm-up shorter than the 2000-iteration budget.
cfg_options = ['param_scheduler.0.end=200', 'param_scheduler.1.begin=200']
defect_class = 'crack'
delete_checkpoints = True
