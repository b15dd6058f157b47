# The HRDA headline (HRDA + DACS + mean teacher, MiT-b5) with DAFormer's ImageNet feature
# distance: the student's last-stage features of the source crops are kept close (L2) to those
# of a frozen copy of the ImageNet-pretrained MiT-b5, so training on synthetic images does not
# overwrite the generic features that transfer to real photos.
#   MIT_B5_WEIGHTS=pretrained/mit_b5.pth SOURCE_ROOT=data/synthetic_cracks \
#   TARGET_ROOT=data/cfd python tools/train.py configs/fd_hrda_cracks.py --amp
# Needs the pretrained weights (model.segmentor.backbone.init_cfg); the frozen copy is made
# from them at initialisation and is not saved in checkpoints. Cost: one extra backbone pass of
# the student and one of the frozen copy over the source crops' context view (x0.5).
_base_ = ['./hrda_cracks.py']
model = dict(
    imnet_feature_dist=dict(
        loss_weight=0.005,  # DAFormer's value
        # None = all feature pixels. DAFormer restricts the distance to "thing" classes
        # (objects ImageNet knows); for cracks both classes are textures, so we keep all;
        # classes=(1,) would be the analogue (cracks only).
        classes=None,
        scale_min_ratio=0.75,  # a feature pixel counts if > 75 % of its patch is selected
        in_index=-1,  # last MiT stage (1/32 resolution)
    ),
)
