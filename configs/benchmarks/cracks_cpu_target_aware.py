# Target-aware source data on the CPU protocol of cracks_cpu.py (same target, budget, seeds,
# 600 generated images of 480x320, generator seed 0): the source is
#   fitted  - the pavement style fitted to the target's unlabeled train photos (fit-style);
#   photos  - defects rendered into those photos, with the fitted style's blur and JPEG;
#   photos_ignore - the same, and what a source-only model (the `fitted` one, same seed) detects
#             in the photos is labeled 255 (ignore): CFD's train photos all show real cracks.
# Only the target's train.txt photos are read (never their masks, never test.txt).
#   python tools/benchmark_adaptation.py configs/benchmarks/cracks_cpu_target_aware.py \
#       --target ../shared/data/cfd
# The pavement rows and the oracle are those of cracks_cpu.py (same protocol). Results:
# docs/benchmarks.md ("Target-aware source data").
# The HRDA rows run the batched path they were measured with (hrda_photos_ignore and the
# pavement HRDA row, 2026-12-02 and 2026-11-24), not the HRDA configs' default since
# 2026-12-02 17:52 (model.reference_exact=True), and without the later
# paramwise_cfg.backbone_norm_decay_mult=0.0 (no decay on the backbone's stage-final
# LayerNorms), so that the HRDA rows of the table differ only by their source.
_base_ = ['./cracks_cpu.py']
_fitted = dict(fit_style=True)
_photos = dict(fit_style=True, backgrounds='target')
_photos_ignore = dict(fit_style=True, backgrounds='target',
                      ignore_from=dict(method='source_only_fitted'))
_hrda_batched = ['model.reference_exact=False',
                 'optim_wrapper.paramwise_cfg.backbone_norm_decay_mult=None']
methods = dict(
    _delete_=True,
    source_only_fitted=dict(config='configs/source_only_cracks_cpu.py', generate=_fitted),
    source_only_photos=dict(config='configs/source_only_cracks_cpu.py', generate=_photos),
    source_only_photos_ignore=dict(config='configs/source_only_cracks_cpu.py',
                                   generate=_photos_ignore),
    dacs_fitted=dict(config='configs/dacs_cracks_cpu.py', generate=_fitted),
    dacs_photos=dict(config='configs/dacs_cracks_cpu.py', generate=_photos),
    dacs_photos_ignore=dict(config='configs/dacs_cracks_cpu.py', generate=_photos_ignore),
    hrda_fitted=dict(config='configs/hrda_cracks_cpu.py', generate=_fitted,
                     cfg_options=_hrda_batched),
    hrda_photos=dict(config='configs/hrda_cracks_cpu.py', generate=_photos,
                     cfg_options=_hrda_batched),
    hrda_photos_ignore=dict(config='configs/hrda_cracks_cpu.py', generate=_photos_ignore,
                            cfg_options=_hrda_batched),
)
