# Self-supervised pretraining before adaptation, on the CPU protocol of cracks_cpu.py (same
# target, generated source, budget, seeds): the MiT-b0 encoder of every row is first
# pretrained by masked image modelling (configs/pretrain/simmim_mit-b0_cpu.py) on the
# target's unlabeled train photos (train.txt: never its masks, never test.txt), then the
# method trains from it exactly as in cracks_cpu.py.
#   python tools/benchmark_adaptation.py configs/benchmarks/cracks_cpu_ssl.py \
#       --target ../shared/data/cfd
# One pretraining per seed (its seed), cached in WORK_DIR/pretrain/seed<N> and shared by the
# rows of that seed; it runs again only when its inputs change (config files, iterations,
# photos). The rows without SSL are those of cracks_cpu.py. Results: docs/benchmarks.md
# ("Self-supervised pretraining"). cracks_cpu_vicreg.py: the same rows with the dense VICReg
# objective, the one that helps.
_base_ = ['./cracks_cpu.py']
# 600 iterations of 8 crops: ~10 minutes on one core; data='target+source' adds the generated
# source photos.
pretrain = dict(config='configs/pretrain/simmim_mit-b0_cpu.py', iters=600, data='target')
methods = dict(
    _delete_=True,
    ssl_dacs=dict(config='configs/dacs_cracks_cpu.py', pretrain=True),
    ssl_oracle=dict(config='configs/source_only_cracks_cpu.py', source='target', pretrain=True),
    ssl_source_only=dict(config='configs/source_only_cracks_cpu.py', pretrain=True),
    # SSL and 5 labeled target images (cracks_cpu_few_labels.py: the same 5 images per seed).
    ssl_dacs_5_labels=dict(config='configs/dacs_cracks_cpu.py', pretrain=True,
                           labeled_target=5),
)
