# DACS self-training with a mean teacher (DAFormer/HRDA reference values). A config wraps the
# segmentor of its model base with it:
#   model = dict(_base_.uda, _delete_=True, segmentor=_base_.model, data_preprocessor=...)
uda = dict(
    type='DACS',
    source_only=False,
    # Teacher EMA: alpha_t = min(1 - 1/(t+1), alpha); t = 0 copies the student.
    alpha=0.999,
    # Pseudo-label weight: 'batch' = the reference's one scalar per batch (fraction of pixels
    # with max prob >= tau); 'image', 'pixel' (indicator), 'soft' (the probability) and
    # 'class_balanced' are the alternatives (mmseg_uda/models/uda/functional.py).
    # Added to the teacher's logits before pseudo-labelling (None = 0); -log(class weight)
    # when the segmentor's loss weights classes (see dacs_cracks_cpu.py).
    pseudo_logit_adjustment=None,
    pseudo_threshold=0.968,
    pseudo_weight='batch',
    pseudo_keep_ratio=0.5,  # 'class_balanced': most confident share kept per pseudo-class
    # Per-class multiplier of pseudo-label weights (None = 1), e.g. to cancel a class
    # weighting of the segmentor's loss on pseudo-labels.
    pseudo_class_weight=None,
    # Pixels of each target *crop* never trusted (top, bottom, left, right); padding is always
    # excluded. Crop-relative, unlike the reference's image-relative margins.
    crop_border_margin=0,
    # ClassMix pastes half of the classes present in each source crop (never 'ignore').
    mix_exclude_classes=(),
    # Mixed images: colour jitter with probability 0.8 (strength 0.2), Gaussian blur with
    # probability 0.5 (sigma 0.15-1.15 px).
    color_jitter_prob=0.8,
    color_jitter_strength=0.2,
    blur_prob=0.5,
    blur_sigma=(0.15, 1.15),
    # One student pass over [source; mixed]: less time; the same losses as two passes in eval
    # mode only (in train mode the decoders' BatchNorm statistics are per pass).
    batched_student=True,
    # True: the reference's train-mode computation (a pass per group and per HRDA scale for
    # the student, contexts / all detail windows in two passes for the teacher; kornia 0.5.8
    # colour jitter, jitter and blur decided once per batch). docs/hrda.md, "Reference-exact".
    reference_exact=False,
    eval_model='student',
)
custom_hooks = [
    # Source / target / mix / pseudo-label / weight panels (and any map the segmentor exposes).
    dict(type='UDADebugHook', interval=1000),
    # Multi-GPU: check that the EMA teacher stays identical on every rank (a no-op on one).
    dict(type='RankConsistencyHook', prefixes=('teacher.',), interval=1000),
]
