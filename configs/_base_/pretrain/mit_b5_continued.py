# Continued self-supervised pretraining of the GPU configs' MiT-b5, shared by
# configs/pretrain/simmim_mit-b5.py and vicreg_mit-b5.py (each also inherits its objective's
# CPU config, so the names here are distinct from every top-level key of those).

# The segmentors' MiT-b5 (64-channel first stage, [3, 6, 40, 3] blocks) starting from the
# ImageNet weights of MIT_B5_WEIGHTS: continued pretraining adapts them to the factory's
# surfaces instead of learning from nothing. Fused attention kernels on the GPU (the same
# state-dict keys as MixVisionTransformer) and the GPU configs' stochastic depth.
mit_b5_backbone = dict(
    type='MixVisionTransformerSDPA',
    embed_dims=64, num_layers=[3, 6, 40, 3],
    drop_path_rate=0.1,
    init_cfg=dict(type='MiTPretrained', checkpoint='{{$MIT_B5_WEIGHTS:pretrained/mit_b5.pth}}'))
# 10k iterations at lr 1e-4 (lower than from scratch, so that the ImageNet features are
# refined, not overwritten); 500 warm-up iterations (the objective's new layers start random),
# then linear decay to 0; a checkpoint every 1000 iterations (--export-from any of them).
continued_lr = 1e-4
continued_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, by_epoch=False, begin=500),
]
continued_iters = 10000
continued_checkpoint = dict(interval=1000, max_keep_ckpts=3)
