# CPU adaptation benchmark: generated cracks (source) -> a real crack set (target), every
# method with the same budget and seeds, 2 CPU cores, models from scratch (no pretrained
# weights can be downloaded here). Target default: CFD (train.txt = unlabeled target,
# test.txt = evaluation).
#   python tools/benchmark_adaptation.py configs/benchmarks/cracks_cpu.py \
#       --target ../shared/data/cfd
# Results and commands: docs/benchmarks.md.
target = dict(root='../shared/data/cfd')
# One generated source set for every method: the CFD-like default style at CFD's size.
source = dict(generate=dict(type='crack', num=600, size='480x320', seed=0, style='pavement'))
seeds = [0, 1]
# 400 iterations (50 of warm-up) so that every method x both seeds fits in ~90 minutes of
# 2 cores (two invocations side by side, one per seed); `--iters 1000` is the longer protocol
# of the first table in docs/benchmarks.md.
budget = dict(max_iters=400, val_interval=100)
cfg_options = ['param_scheduler.0.end=50', 'param_scheduler.1.begin=50']
methods = dict(
    source_only='configs/source_only_cracks_cpu.py',
    dacs='configs/dacs_cracks_cpu.py',
    hrda='configs/hrda_cracks_cpu.py',
    mic_hrda='configs/mic_hrda_cracks_cpu.py',
    dann='configs/dann_cracks_cpu.py',
    coral='configs/coral_cracks_cpu.py',
    mmd='configs/mmd_cracks_cpu.py',
    # Test-time adaptation of the source-only model (its final checkpoint, same seed):
    # 200 entropy-minimisation steps on the unlabeled target train split.
    tent=dict(config='configs/source_only_cracks_cpu.py',
              tent=dict(after='source_only', args=['--iters', '200', '--lr', '1e-4'])),
    # The ceiling: the same network trained on the target's labeled train split.
    oracle=dict(config='configs/source_only_cracks_cpu.py', source='target'),
)
defect_class = 'crack'
delete_checkpoints = False
