# cracks_cpu_ssl.py with the other pretraining objective: dense VICReg
# (configs/pretrain/vicreg_mit-b0_cpu.py: two views of each photo, matched cells embedded alike)
# instead of SimMIM's masked image modelling; same photos (the target's train.txt), same
# 600 iterations and encoder passes per iteration, same rows.
#   python tools/benchmark_adaptation.py configs/benchmarks/cracks_cpu_vicreg.py \
#       --target ../shared/data/cfd
# Results: docs/benchmarks.md ("Self-supervised pretraining").
_base_ = ['./cracks_cpu_ssl.py']
pretrain = dict(config='configs/pretrain/vicreg_mit-b0_cpu.py')
