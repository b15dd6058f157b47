# SegFormer with a MiT-b3 encoder (64-channel first stage, [3, 4, 18, 3] blocks per stage).
_base_ = ['./segformer_mit.py']
model = dict(
    backbone=dict(embed_dims=64, num_layers=[3, 4, 18, 3]),
    decode_head=dict(in_channels=[64, 128, 320, 512], channels=768),
)
