# A second real surface for the source-only comparison of generated sources: generated cracks
# -> the Crack images of the magnetic-tile set (grey machined ferrite, line lighting, a dark
# surround), with the CPU protocol of cracks_cpu.py (MiT-b0 from scratch, 400 iterations,
# seeds 0 and 1, 600 generated images at about the tiles' median size).
#   source_only        - the metal_line preset (the generator's industrial look)
#   source_only_fitted - metal_line fitted to the 40 unlabeled train tiles (fit-style)
#   source_only_photos - metal_line's cracks rendered into the 40 train tiles themselves, with the
#                        fitted blur/JPEG; 120x240 (the smallest tile is 121x242). No ignore
#                        masks: the source-only models above detect nothing on the tiles, so
#                        --ignore-from them would ignore nothing (every train tile has a crack)
#   source_only_tile   - the magnetic_tile style (issue 19: ferrite surface, tile shapes, the
#                        line's lighting; cracks sized like the train tiles' labelled ones)
#   dacs_tile          - DACS from that source, the 40 train tiles as unlabeled target
#   oracle             - the 40 labeled train tiles
# The target is the crack subset of ../shared/data/magnetic_tile (40 train / 17 test; its
# split, crack class only, masks 0/1 as they are):
#   mkdir -p work_dirs/mt_crack/images work_dirs/mt_crack/masks
#   S=$(realpath ../shared/data/magnetic_tile)
#   ln -s $S/images/Crack_* work_dirs/mt_crack/images/; ln -s $S/masks/Crack_* work_dirs/mt_crack/masks/
#   grep '^Crack_' $S/train.txt > work_dirs/mt_crack/train.txt
#   grep '^Crack_' $S/test.txt > work_dirs/mt_crack/test.txt
#   python tools/benchmark_adaptation.py configs/benchmarks/magnetic_tile_crack_cpu.py \
#       --target work_dirs/mt_crack
# Results: docs/benchmarks.md ("Target-aware source data").
_base_ = ['./cracks_cpu.py']
target = dict(root='work_dirs/mt_crack')
source = dict(generate=dict(type='crack', num=600, size='352x352', seed=0, style='metal_line'))
methods = dict(
    _delete_=True,
    source_only='configs/source_only_cracks_cpu.py',
    source_only_fitted=dict(config='configs/source_only_cracks_cpu.py',
                            generate=dict(fit_style=True)),
    source_only_photos=dict(config='configs/source_only_cracks_cpu.py',
                            generate=dict(fit_style=True, backgrounds='target', size='120x240')),
    source_only_tile=dict(config='configs/source_only_cracks_cpu.py',
                          generate=dict(style='magnetic_tile')),
    dacs_tile=dict(config='configs/dacs_cracks_cpu.py', generate=dict(style='magnetic_tile')),
    oracle=dict(config='configs/source_only_cracks_cpu.py', source='target'),
)
