# DACS (ClassMix self-training, EMA teacher) for cracks: SegFormer MiT-b5, synthetic labeled
# source -> unlabeled real target, evaluated on the labeled target test split.
#   SOURCE_ROOT=... TARGET_ROOT=... python tools/train.py configs/dacs_cracks.py
#   torchrun --nproc_per_node=4 tools/train.py configs/dacs_cracks.py --launcher pytorch
# Same model, data and schedule as source_only_cracks.py; only the target losses differ
# (hyper-parameters: _base_/uda/dacs.py).
_base_ = ['./source_only_cracks.py']
model = dict(source_only=False)
