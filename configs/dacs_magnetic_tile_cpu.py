# DACS (one resolution, no HRDA) on the magnetic tiles on 2 CPU cores: dacs_cracks_cpu.py with
# the data of hrda_magnetic_tile.py (generated source, real tiles as target and test set, the
# same environment variables) and six classes. With model.source_only=True it is the
# source-only baseline of the magnetic-tile benchmark (configs/benchmarks/magnetic_tile_cpu.py).
#   python tools/train.py configs/dacs_magnetic_tile_cpu.py
_base_ = ['./dacs_cracks_cpu.py']
data_root = '{{$MT_ROOT:data/magnetic_tile}}'
source_root = '{{$MT_SOURCE_ROOT:data/synthetic_magnetic_tile}}'
target_root = '{{$MT_TARGET_ROOT:data/magnetic_tile}}'
metainfo = dict(
    classes=('background', 'blowhole', 'break', 'crack', 'fray', 'uneven'),
    palette=[[0, 0, 0], [255, 0, 0], [0, 200, 0], [0, 120, 255], [255, 200, 0],
             [200, 0, 255]])
model = dict(
    segmentor=dict(
        decode_head=dict(
            num_classes=6,
            # As hrda_magnetic_tile_cpu.py: weight on the small classes, less on large regions.
            loss_decode=dict(class_weight=[1.0, 5.0, 5.0, 5.0, 2.0, 2.0]))),
    pseudo_class_weight=(1.0, 0.2, 0.2, 0.2, 0.5, 0.5),
)
train_dataloader = dict(
    dataset=dict(
        source=dict(data_root=source_root, metainfo=metainfo),
        target=dict(data_root=target_root, metainfo=metainfo),
        rare_class_sampling=dict(_delete_=True, temperature=0.01),
    ),
)
val_dataloader = dict(dataset=dict(data_root=data_root, metainfo=metainfo))
test_dataloader = val_dataloader
