# SegFormer with a MiT-b0 encoder (32-channel first stage, [2, 2, 2, 2] blocks per stage).
_base_ = ['./segformer_mit.py']
model = dict(
    backbone=dict(embed_dims=32, num_layers=[2, 2, 2, 2]),
    decode_head=dict(in_channels=[32, 64, 160, 256], channels=256),
)
