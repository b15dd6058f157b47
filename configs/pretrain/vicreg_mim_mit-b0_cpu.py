# Dense VICReg and masked image modelling in one pretraining (DenseVICReg(mim_weight > 0)):
# the first view of each pair is masked as in SimMIM and its masked squares reconstructed
# (normalised-patch target), while its cells are matched with the unmasked second view as in
# vicreg_mit-b0_cpu.py. Meant to keep what each objective is good at on its own (VICReg: line-
# like defects; SimMIM: blob- and texture-like ones, docs/pretrain.md) without choosing per
# defect type. Same data, views, encoder passes per iteration and schedule as vicreg_mit-b0_cpu.
# Measured (docs/benchmarks.md, "Both objectives in one pretraining"): worse than either
# objective alone on every dev-split probe and with DACS on CFD — kept as a tested option.
#   TARGET_ROOT=/work/shared/data/cfd python tools/pretrain.py \
#       configs/pretrain/vicreg_mim_mit-b0_cpu.py
_base_ = ['./vicreg_mit-b0_cpu.py']
model = dict(
    # The reconstruction L1 (~0.8 at the start) weighted like one VICReg term (25), set
    # before any measurement; SimMIM's mask: 60 % of the 32-px squares.
    mim_weight=25.0,
    mask_patch_size=32,
    mask_ratio=0.6,
)
