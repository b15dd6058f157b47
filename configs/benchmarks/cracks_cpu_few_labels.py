# DACS with a few labeled target images: the CPU crack benchmark (cracks_cpu.py: same
# generated source, budget, seeds and evaluation on CFD's test.txt) where N images of the
# target's train.txt, with their masks, join the supervised stream. The N images are chosen
# per seed by a seeded shuffle of train.txt (never test.txt; the 5 of a seed are the first 5
# of its 10), listed in each run dir's labeled_target.txt.
#   python tools/benchmark_adaptation.py configs/benchmarks/cracks_cpu_few_labels.py \
#       --target ../shared/data/cfd
# Share of the labeled target images among the source items: r = 0.5 (the UDADataset
# default), i.e. exactly one of the 2 source crops of every batch, chosen from the batch
# layout (2 source + 2 target crops) and not tuned: the other source crop keeps the generated
# cracks in every step. Compare with the dacs and oracle rows of cracks_cpu.py (docs/benchmarks.md).
_base_ = ['./cracks_cpu.py']
methods = dict(
    _delete_=True,
    dacs_5_labels=dict(config='configs/dacs_cracks_cpu.py', labeled_target=5),
    dacs_10_labels=dict(config='configs/dacs_cracks_cpu.py', labeled_target=10),
    # The same 5 labels without adaptation (source + 5 labeled target images): what the
    # labels alone bring.
    source_only_5_labels=dict(config='configs/source_only_cracks_cpu.py', labeled_target=5),
)
