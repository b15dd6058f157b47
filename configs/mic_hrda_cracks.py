# MIC on top of the HRDA headline (HRDA + DACS + mean teacher, MiT-b5): the student also
# learns the teacher's pseudo-labels of each target crop from a copy with 70 % of its 64x64
# blocks masked out, so it must use the context of a crack to complete it.
#   MIT_B5_WEIGHTS=pretrained/mit_b5.pth SOURCE_ROOT=data/synthetic_cracks \
#   TARGET_ROOT=data/cfd python tools/train.py configs/mic_hrda_cracks.py --amp
# Cost: the masked crops join the student's [source; mixed] pass (3 x B crops instead of 2 x B):
# about +50 % student time and memory per iteration.
_base_ = ['./hrda_cracks.py']
model = dict(
    # The MIC paper's values (GTA->Cityscapes, HRDA on 1024 crops): 64-px blocks, masking
    # ratio 0.7, loss weight 1 — the blocks are 1/16 of the crop side, large enough to hide
    # a whole crack segment, small enough that every crop keeps visible context.
    mic=dict(block_size=64, mask_ratio=0.7, loss_weight=1.0, color_aug=True),
)
