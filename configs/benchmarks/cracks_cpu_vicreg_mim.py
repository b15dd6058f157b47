# cracks_cpu_vicreg.py with dense VICReg + masked image modelling in one pretraining
# (configs/pretrain/vicreg_mim_mit-b0_cpu.py); same photos, iterations, rows.
#   python tools/benchmark_adaptation.py configs/benchmarks/cracks_cpu_vicreg_mim.py \
#       --target ../shared/data/cfd
# Results: docs/benchmarks.md ("Self-supervised pretraining").
_base_ = ['./cracks_cpu_ssl.py']
pretrain = dict(config='configs/pretrain/vicreg_mim_mit-b0_cpu.py')
