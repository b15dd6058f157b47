# The built-in demo (`make demo`): no download, 11.7 minutes measured on 2 idle CPU cores.
# Source: clean 'lab' renders of cracks; target: 'field_demo' (demo_field_style.json), the harsh
# 'field' style (strong light gradients, shadows, blur, noise, colour casts, tone changes,
# distractors, occluders) with cracks wide and dark enough for a model trained from scratch
# for 300 iterations to learn them (docs/benchmarks.md, "Built-in demo": how it was chosen).
# The target is generated WITH labels so the adaptation can be scored: its train.txt is used
# unlabeled, its val.txt for the report.
#   python tools/demo.py                      # = this benchmark + a picture of the result
#   python tools/benchmark_adaptation.py configs/benchmarks/demo_cpu.py
target = dict(generate=dict(type='crack', num=240, size=256, seed=1,
                             style='configs/benchmarks/demo_field_style.json'))
source = dict(generate=dict(type='crack', num=240, size=256, seed=0, style='lab'))
seeds = [0]
budget = dict(max_iters=300, val_interval=100)
methods = dict(
    source_only='configs/source_only_cracks_cpu.py',
    dacs='configs/dacs_cracks_cpu.py',
    hrda='configs/hrda_cracks_cpu.py',
    # The ceiling: trained on the labeled target train split.
    oracle=dict(config='configs/source_only_cracks_cpu.py', source='target'),
)
# Evaluate on the generated target's val split (it has no test.txt); smaller logs.
cfg_options = [
    'val_dataloader.dataset.split=val.txt', 'test_dataloader.dataset.split=val.txt',
    'default_hooks.logger.interval=50',
]
defect_class = 'crack'
delete_checkpoints = False
