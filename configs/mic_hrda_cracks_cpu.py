# mic_hrda_cracks.py on 2 CPU cores: the HRDA CPU config (MiT-b0 from scratch, 256 crops) with
# MIC. Blocks of 32 px (1/8 of the crop side; the reference's 64 px are 1/16 of 1024): 16 px
# blocks on a 256 crop would hide too little of a crack for the context to matter.
#   SOURCE_ROOT=data/synthetic_cracks TARGET_ROOT=/work/shared/data/cfd \
#       python tools/train.py configs/mic_hrda_cracks_cpu.py
_base_ = ['./hrda_cracks_cpu.py']
model = dict(mic=dict(block_size=32, mask_ratio=0.7, loss_weight=1.0, color_aug=True))
