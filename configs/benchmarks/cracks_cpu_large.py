# HRDA's own measurement on the CPU: large images, where one crop at full resolution cannot
# hold the context. The target is CFD tiled into 1440x960 mosaics of 3x3 photos at native
# resolution (8 train mosaics = the 72 train photos, unlabeled; 6 test mosaics = the 46 test
# photos, the evaluation):
#   python tools/dataset_converters/mosaic.py ../shared/data/cfd data/cfd_mosaic --grid 3x3
#   python tools/benchmark_adaptation.py configs/benchmarks/cracks_cpu_large.py \
#       --target data/cfd_mosaic
# The generated source is rendered at the mosaics' size (crack widths are in pixels, so the
# cracks keep their width; 200 images = 3x the pixels of cracks_cpu.py's 600 at 480x320).
# Equal compute per step: DACS takes one 362x362 crop at full resolution, HRDA a 512x512
# crop as a 256x256 context (x0.5) + a 256x256 detail box, the same student pixels
# (dacs_cracks_cpu_large.py, hrda_cracks_cpu_large.py). HRDA's teacher and test-time
# sliding windows cost more; the table's minutes say how much. Same schedule as cracks_cpu.py
# (400 iterations, 50 warm-up). Results: docs/benchmarks.md, "HRDA on large images".
target = dict(root='data/cfd_mosaic')
source = dict(generate=dict(type='crack', num=200, size='1440x960', seed=0, style='pavement'))
seeds = [0, 1]
budget = dict(max_iters=400, val_interval=200)
cfg_options = ['param_scheduler.0.end=50', 'param_scheduler.1.begin=50']
methods = dict(
    source_only=dict(config='configs/dacs_cracks_cpu_large.py',
                     cfg_options=['model.source_only=True']),
    dacs='configs/dacs_cracks_cpu_large.py',
    hrda='configs/hrda_cracks_cpu_large.py',
    oracle=dict(config='configs/dacs_cracks_cpu_large.py', source='target',
                cfg_options=['model.source_only=True']),
)
defect_class = 'crack'
delete_checkpoints = False
