# SegFormer with a MiT-b1 encoder (64-channel first stage, [2, 2, 2, 2] blocks per stage).
_base_ = ['./segformer_mit.py']
model = dict(
    backbone=dict(embed_dims=64, num_layers=[2, 2, 2, 2]),
    decode_head=dict(in_channels=[64, 128, 320, 512], channels=256),
)
