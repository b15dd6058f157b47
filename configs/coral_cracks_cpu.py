# DACS + Deep CORAL on 2 CPU cores: dacs_cracks_cpu.py plus the distance between the feature
# covariances of source and target crops (last MiT-b0 stage, feature pixels as samples).
#   SOURCE_ROOT=data/synthetic_cracks TARGET_ROOT=/work/shared/data/cfd \
#       python tools/train.py configs/coral_cracks_cpu.py
_base_ = ['./dacs_cracks_cpu.py']
model = dict(alignment=dict(type='CORALAlignment', in_index=-1, loss_weight=1.0))
