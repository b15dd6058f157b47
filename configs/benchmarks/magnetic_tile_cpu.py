# CPU adaptation benchmark of a new defect type: generated magnetic tiles (five defect classes,
# labeled) -> the real magnetic-tile photos (unlabeled train split; labeled test split for the
# evaluation), source-only, DACS, HRDA + DACS and the oracle with the same budget and seeds,
# 2 CPU cores, models from scratch. The table reports the IoU of each defect class, their mean
# (mIoU over the five defect classes, background left out: the score and the "gap closed") and
# the false-alarm tiles.
# The target is the converted set (class-id masks; its split is the source set's):
#   python tools/dataset_converters/magnetic_tile.py ../shared/data/magnetic_tile data/magnetic_tile
#   python tools/benchmark_adaptation.py configs/benchmarks/magnetic_tile_cpu.py \
#       --target data/magnetic_tile
# Two invocations side by side (--seeds 0 and --seeds 1, same --work-dir) use both cores; then
# --only-finished writes the table of both. Results: docs/benchmarks.md.
target = dict(root='data/magnetic_tile')
# One generated source for every method but the oracle: class ids in the order of metainfo in
# configs/hrda_magnetic_tile.py, 352x352 (about the tiles' median size).
source = dict(generate=dict(type='blowhole,break,crack,fray,uneven', num=600, size='352x352',
                            seed=0, style='magnetic_tile'))
seeds = [0, 1]
# 400 iterations (50 of warm-up) as in cracks_cpu.py, validation at 200 and 400. Estimated,
# not measured with six classes: training ~6 (source-only, oracle), ~17 (DACS) and ~18 (HRDA)
# minutes per run on this machine when loaded (the crack benchmark), plus ~2 minutes per
# evaluation of the 119 test tiles (3 per run: 2 validations and the test) -> ~70 minutes
# per seed lane, both lanes side by side in about 70-90 minutes.
# Caution (docs/benchmarks.md): in-domain, source-only learnt only crack (and break after
# 1000 iterations) from scratch; at this budget most classes score 0 for every method.
budget = dict(max_iters=400, val_interval=200)
cfg_options = ['param_scheduler.0.end=50', 'param_scheduler.1.begin=50']
# The magnetic-tile configs read MT_SOURCE_ROOT / MT_TARGET_ROOT / MT_ROOT: the runner sets
# them to the run's source and to the target.
root_env = dict(source=['MT_SOURCE_ROOT'], target=['MT_TARGET_ROOT', 'MT_ROOT'])
methods = dict(
    source_only=dict(config='configs/dacs_magnetic_tile_cpu.py',
                     cfg_options=['model.source_only=True']),
    dacs='configs/dacs_magnetic_tile_cpu.py',
    hrda='configs/hrda_magnetic_tile_cpu.py',
    # The ceiling: the source-only network trained on the target's labeled train split.
    oracle=dict(config='configs/dacs_magnetic_tile_cpu.py', source='target',
                cfg_options=['model.source_only=True']),
)
defect_class = ['blowhole', 'break', 'crack', 'fray', 'uneven']
delete_checkpoints = False
