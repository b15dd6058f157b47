# DACS + multi-kernel MMD on 2 CPU cores: dacs_cracks_cpu.py plus the squared MMD between
# source and target feature pixels of the last MiT-b0 stage (RBF kernels around the median
# distance, 512 pixels sampled per domain).
#   SOURCE_ROOT=data/synthetic_cracks TARGET_ROOT=/work/shared/data/cfd \
#       python tools/train.py configs/mmd_cracks_cpu.py
_base_ = ['./dacs_cracks_cpu.py']
model = dict(alignment=dict(type='MMDAlignment', in_index=-1, loss_weight=1.0,
                            max_samples=512))
