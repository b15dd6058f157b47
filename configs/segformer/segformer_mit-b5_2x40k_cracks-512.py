# Supervised SegFormer MiT-b5 on a labeled crack set (e.g. the oracle: real target labels).
_base_ = [
    '../_base_/models/mit_b5.py',
    '../_base_/datasets/defect.py',
    '../_base_/schedules/adamw_poly_40k.py',
    '../_base_/default_runtime.py',
]
