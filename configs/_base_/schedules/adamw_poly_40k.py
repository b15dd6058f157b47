# The reference schedule: AdamW lr 6e-5, weight decay 0.01, decoder lr x10, no decay on norms
# and positional convs; linear warm-up over 1500 iterations, then poly (power 1) to 0 at 40k.
warmup_iters = 1500
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(
        custom_keys={
            'pos_block': dict(decay_mult=0.0),
            'norm': dict(decay_mult=0.0),
            'head': dict(lr_mult=10.0),  # decoder (decode_head, and HRDA's attention head)
        }),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=warmup_iters),
    # No `end`: the Runner ends the poly decay at train_cfg.max_iters, so a config that
    # changes max_iters keeps a schedule that reaches 0 at its last iteration.
    dict(type='PolyLR', eta_min=0.0, power=1.0, by_epoch=False, begin=warmup_iters),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=40000, val_interval=4000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
