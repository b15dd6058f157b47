# DACS + DANN on 2 CPU cores: dacs_cracks_cpu.py plus a domain discriminator on the last MiT-b0
# stage (256 channels, 1/32 resolution) behind a gradient reversal layer whose coefficient
# rises from 0 to 1 with the training progress (iteration / train_cfg.max_iters).
#   SOURCE_ROOT=data/synthetic_cracks TARGET_ROOT=/work/shared/data/cfd \
#       python tools/train.py configs/dann_cracks_cpu.py
# DANN alone (no self-training): add --cfg-options model.source_only=True
_base_ = ['./dacs_cracks_cpu.py']
model = dict(
    alignment=dict(
        type='DANNAlignment',
        in_channels=256,  # channels of the aligned stage (MiT-b0 stage 4)
        in_index=-1,
        # A small weight: the adversarial gradient must not swamp the segmentation losses.
        loss_weight=0.1,
        hidden_channels=128,
        grl_gamma=10.0,  # Ganin & Lempitsky's schedule 2 / (1 + exp(-10 p)) - 1
        max_coeff=1.0,
    ),
)
