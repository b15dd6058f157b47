# magnetic_tile_cpu.py with the CNN encoder of configs/dacs_magnetic_tile_cpu_r18.py (ResNet-18
# from scratch) and 1500 iterations: the budget at which that network learns crack and a
# second class from the real labels (docs/benchmarks.md, "A CNN encoder for the CPU protocol").
# Source-only, DACS and the oracle, 2 seeds; HRDA is not part of it (no CNN HRDA config yet).
#   python tools/benchmark_adaptation.py configs/benchmarks/magnetic_tile_cpu_r18.py \
#       --target data/magnetic_tile --seeds 0      # and --seeds 1 beside it
# ~13 (source-only, oracle) and ~27 (DACS) minutes per run, two lanes side by side: ~55 minutes.
_base_ = ['./magnetic_tile_cpu.py']
budget = dict(max_iters=1500, val_interval=500)
cfg_options = []  # the config's own 100-iteration warm-up
methods = dict(
    _delete_=True,
    source_only=dict(config='configs/dacs_magnetic_tile_cpu_r18.py',
                     cfg_options=['model.source_only=True']),
    dacs='configs/dacs_magnetic_tile_cpu_r18.py',
    oracle=dict(config='configs/dacs_magnetic_tile_cpu_r18.py', source='target',
                cfg_options=['model.source_only=True']),
)
