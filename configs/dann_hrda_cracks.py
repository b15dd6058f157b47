# The HRDA headline (HRDA + DACS + mean teacher, MiT-b5) with DANN feature alignment: a domain
# discriminator on the last MiT-b5 stage of the source and target crops' context view (x0.5)
# behind a gradient reversal layer, λ rising from 0 to 1 over train_cfg.max_iters.
#   MIT_B5_WEIGHTS=pretrained/mit_b5.pth SOURCE_ROOT=data/synthetic_cracks \
#   TARGET_ROOT=data/cfd python tools/train.py configs/dann_hrda_cracks.py --amp
# Cost: one extra backbone pass over the 2 x B context views (512x512) per iteration.
_base_ = ['./hrda_cracks.py']
model = dict(
    alignment=dict(
        type='DANNAlignment',
        in_channels=512,  # MiT-b5 stage 4
        in_index=-1,
        loss_weight=0.1,  # untuned; small so the adversarial term does not swamp the CE
        hidden_channels=256,
        grl_gamma=10.0,
        max_coeff=1.0,
    ),
)
