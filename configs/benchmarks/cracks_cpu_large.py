# HRDA's own measurement on the CPU: large images, where one crop at full resolution cannot
# hold the context. The target is CFD tiled into 1440x960 mosaics of 3x3 photos at native
# resolution (8 train mosaics = the 72 train photos, unlabeled; 6 test mosaics = the 46 test
# photos, the evaluation):
#   python tools/dataset_converters/mosaic.py ../shared/data/cfd data/cfd_mosaic --grid 3x3
#   python tools/benchmark_adaptation.py configs/benchmarks/cracks_cpu_large.py \
#       --target data/cfd_mosaic --source data/synthetic_cracks_mosaic
# The generated source is tiled the same way: cracks_cpu.py's source (600 images of 480x320,
# pavement, seed 0) in 3x3 mosaics, so the two protocols differ only in image size (crack
# widths, crack density and the share of crack pixels stay those of the small protocol):
#   python -m synthetic generate --type crack --num 600 --size 480x320 --seed 0 \
#       --style pavement --out data/synthetic_cracks_480
#   python tools/dataset_converters/mosaic.py data/synthetic_cracks_480 \
#       data/synthetic_cracks_mosaic --grid 3x3 --splits train.txt val.txt
# (Rendered directly at 1440x960 the generator draws the same one or two cracks per image
# over 9x the area: 0.28 % crack pixels against CFD's 1.6 % and 0.87 % at 480x320, and DACS
# had 3.6 crack IoU after 200 of 400 iterations; docs/benchmarks.md.)
# Equal compute per step: DACS takes one 362x362 crop at full resolution, HRDA a 512x512
# crop as a 256x256 context (x0.5) + a 256x256 detail box, the same student pixels
# (dacs_cracks_cpu_large.py, hrda_cracks_cpu_large.py). HRDA's teacher and test-time
# sliding windows cost more; the table's minutes say how much. Same schedule as cracks_cpu.py
# (400 iterations, 50 warm-up). Results: docs/benchmarks.md, "HRDA on large images".
target = dict(root='data/cfd_mosaic')
source = dict(root='data/synthetic_cracks_mosaic')
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
