# HRDA on MiT-b5 + DAFormer decoder: a low-resolution context crop and a full-resolution detail
# crop through the same encoder-decoder, fused by a learned scale attention (HRDAEncoderDecoder,
# HRDAHead). Defaults are the reference's: context at 0.5x, 512x512 detail crops of 1024x1024
# training crops, detail loss weight 0.1, detail windows at stride 256 for inference.
_base_ = ['./mit_b5.py']
# One DAFormer decoder config for both decoders of the HRDA head (the attention decoder swaps
# the ASPP fusion for a 1x1 convolution: HRDA's light attention decoder).
daformer_decoder = dict(
    type='DAFormerHead',
    in_channels=[64, 128, 320, 512],
    in_index=[0, 1, 2, 3],
    embed_dims=256,
    channels=256,
    fusion='aspp',
    dilations=(1, 6, 12, 18),
    dropout_ratio=0.1,
    num_classes=2,
    norm_cfg=dict(type='BN', requires_grad=True),
    align_corners=False,
    loss_decode=dict(type='WeightedCrossEntropyLoss', loss_weight=1.0),
)
model = dict(
    type='HRDAEncoderDecoder',
    data_preprocessor=dict(size=(1024, 1024)),
    # Context = the whole crop at half resolution: sees 2x the area for the same cost.
    context_scale=0.5,
    # Detail crop at full resolution; box coordinates are multiples of 8 (output stride 4 /
    # context scale 0.5) so the box lands on whole logits of both scales.
    detail_crop_size=(512, 512),
    # Detail windows at inference overlap by half, then are averaged.
    detail_stride=(256, 256),
    # Loss = 0.9 * CE(fused) + 0.1 * CE(detail crop alone): keeps the detail branch a good
    # segmenter on its own, not only a correction of the context.
    detail_loss_weight=0.1,
    # Decoder stride of MiT stage 1 (logits at 1/4 of each crop).
    output_stride=4,
    # Context and detail crops (both 512x512 for 1024 crops) in ONE batched pass: the step is
    # launch-bound on H100s, so fewer, larger passes are the first speed lever.
    batch_crops=True,
    decode_head=dict(
        _delete_=True,
        type='HRDAHead',
        decoder=daformer_decoder,
        attention_decoder=dict(daformer_decoder, fusion='conv'),
        # One attention channel per class (the reference's choice).
        attention_classwise=True,
    ),
    test_cfg=dict(
        # Outer 1024x1024 window at stride 512 for images larger than the training crop.
        mode='slide',
        crop_size=(1024, 1024),
        stride=(512, 512),
        # None: every crop of an image in one pass; set e.g. 4 on small GPUs.
        max_crops_per_pass=None,
        # predict() adds scale_attention / context / detail maps to the data samples.
        output_scale_maps=True,
    ),
)
