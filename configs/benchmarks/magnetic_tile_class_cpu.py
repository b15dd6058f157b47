# Each magnetic-tile defect class as its own binary task: generated tiles of that one type
# (the magnetic_tile style, generator 1.3.0) -> the real tiles of that class, with the CPU
# protocol of cracks_cpu.py (MiT-b0 from scratch, 400 iterations, seeds 0 and 1). Where the
# five-class protocol (magnetic_tile_cpu.py) learns no class on two CPU cores, even from real
# labels, a one-class task per type shows whether each generated type transfers, and whether
# DACS adds to it. MT_CLASS picks the class (blowhole, break, crack, fray or uneven; default
# crack); the target is the converter's binary subset of that class (its own train / test
# split, masks 0/1):
#   python tools/dataset_converters/magnetic_tile.py ../shared/data/magnetic_tile data/mt_blowhole \
#       --classes Blowhole
#   MT_CLASS=blowhole python tools/benchmark_adaptation.py \
#       configs/benchmarks/magnetic_tile_class_cpu.py --target data/mt_blowhole \
#       --work-dir work_dirs/benchmarks/mt_class_blowhole
# Results: docs/benchmarks.md ("Magnetic tiles, one class at a time").
_base_ = ['./cracks_cpu.py']
target = dict(root='data/mt_{{$MT_CLASS:crack}}')
source = dict(generate=dict(type='{{$MT_CLASS:crack}}', num=600, size='352x352', seed=0,
                            style='magnetic_tile'))
# the binary configs' two classes, the second named after the type (the generated set's
# meta.json and the converter's classes.txt name it so)
cfg_options = ['param_scheduler.0.end=50', 'param_scheduler.1.begin=50',
               "metainfo.classes=('background','{{$MT_CLASS:crack}}')"]
methods = dict(
    _delete_=True,
    source_only='configs/source_only_cracks_cpu.py',
    dacs='configs/dacs_cracks_cpu.py',
    oracle=dict(config='configs/source_only_cracks_cpu.py', source='target'),
)
defect_class = '{{$MT_CLASS:crack}}'
