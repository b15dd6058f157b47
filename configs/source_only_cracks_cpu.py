# The source-only baseline of dacs_cracks_cpu.py: the same network, data, schedule and
# seed, without the target losses (2 CPU cores, ~0.45 s/iteration, ~8 min).
#   SOURCE_ROOT=... TARGET_ROOT=/work/shared/data/cfd python tools/train.py \
#       configs/source_only_cracks_cpu.py
_base_ = ['./dacs_cracks_cpu.py']
model = dict(source_only=True)
