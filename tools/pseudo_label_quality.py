"""Quality of a UDA model's pseudo-labels against target labels the training never saw.

    python tools/pseudo_label_quality.py CONFIG CKPT [CKPT ...] [--split train.txt]
        [--target-root DIR] [--threshold 0.968] [--out quality.json] [--cfg-options ...]

For each checkpoint of a DACS run (e.g. ``iter_250.pth``, ``iter_500.pth``, ...) the teacher
and the student segment the target images of ``--split`` (default: the *unlabeled training*
split, whose masks exist in a benchmark set such as CFD but are never used for training), and
the tool reports, per network: defect IoU / precision / recall of the arg-max pseudo-labels,
the mean confidence on true defect and on background pixels, the fraction of true-defect and
of background pixels whose confidence reaches the threshold ``tau``, and the reference's
scalar weight (fraction of all pixels >= tau). This is the diagnosis of self-training: do
the pseudo-labels get better over time, and what would each weighting keep?

The teacher runs as in training (train mode with Dropout/DropPath off, BN on the image's own
statistics); the student in eval mode, as at test time.
"""

from __future__ import annotations

import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from tools._cli import CfgOptionsAction, add_debug_flag, parse_early, status_only  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", help="the UDA training config")
    parser.add_argument("checkpoints", nargs="+", help="checkpoints of that run")
    parser.add_argument("--split", default="train.txt",
                        help="target split to score (its masks must exist). Default: train.txt")
    parser.add_argument("--target-root", help="target dataset root (default: the val "
                        "dataloader's data_root of the config)")
    parser.add_argument("--threshold", type=float, default=None,
                        help="confidence threshold tau (default: the model's)")
    parser.add_argument("--max-images", type=int, default=0, help="score at most N images")
    parser.add_argument("--out", help="write the results as JSON")
    parser.add_argument("--cfg-options", nargs="+", action=CfgOptionsAction,
                        help="config overrides")
    add_debug_flag(parser)
    return parser.parse_args(argv)


parse_early(__name__, parse_args)  # --help before the stack is imported

import torch  # noqa: E402
from mmengine.dataset import pseudo_collate  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmengine.runner import load_checkpoint  # noqa: E402
from mmseg.registry import DATASETS, MODELS  # noqa: E402

import mmseg_uda  # noqa: E402,F401
from mmseg_uda.models.uda import disable_stochastic_layers  # noqa: E402
from mmseg_uda.models.uda import functional as UF  # noqa: E402
from mmseg_uda.utils import exit_tool, load_config, run_tool  # noqa: E402


class Tally:
    """Pixel counts of one network over a set of images."""

    def __init__(self) -> None:
        self.tp = self.fp = self.fn = 0
        self.n_defect = self.n_background = 0
        self.conf_defect = self.conf_background = 0.0
        self.sure_defect = self.sure_background = 0

    def add(self, logits: torch.Tensor, truth: torch.Tensor, tau: float, bg: int = 0,
            ignore: int = 255) -> None:
        label, conf = UF.pseudo_labels(logits)
        valid = truth != ignore
        is_def, pred_def = (truth != bg) & valid, (label != bg) & valid
        is_bg = (truth == bg) & valid
        self.tp += int((is_def & pred_def).sum())
        self.fp += int((pred_def & ~is_def).sum())
        self.fn += int((is_def & ~pred_def).sum())
        self.n_defect += int(is_def.sum())
        self.n_background += int(is_bg.sum())
        self.conf_defect += float(conf[is_def].sum())
        self.conf_background += float(conf[is_bg].sum())
        self.sure_defect += int((conf[is_def] >= tau).sum())
        self.sure_background += int((conf[is_bg] >= tau).sum())

    def summary(self) -> dict:
        def ratio(a, b):
            return a / b if b else float("nan")

        n = self.n_defect + self.n_background
        return dict(
            defect_iou=ratio(self.tp, self.tp + self.fp + self.fn),
            defect_precision=ratio(self.tp, self.tp + self.fp),
            defect_recall=ratio(self.tp, self.tp + self.fn),
            confidence_on_defect=ratio(self.conf_defect, self.n_defect),
            confidence_on_background=ratio(self.conf_background, self.n_background),
            defect_pixels_above_tau=ratio(self.sure_defect, self.n_defect),
            background_pixels_above_tau=ratio(self.sure_background, self.n_background),
            reference_scalar_weight=ratio(self.sure_defect + self.sure_background, n),
        )


@torch.no_grad()
def score(model, dataset, tau: float, max_images: int = 0) -> dict:
    tallies = {"teacher": Tally(), "student": Tally()}
    count = len(dataset) if max_images <= 0 else min(max_images, len(dataset))
    for i in range(count):
        data = model.data_preprocessor(pseudo_collate([dataset[i]]), False)
        inputs, samples = data["inputs"], data["data_samples"]
        truth = samples[0].gt_sem_seg.data.to(inputs.device)
        metas = [s.metainfo for s in samples]
        model.train()
        disable_stochastic_layers(model.teacher)
        tallies["teacher"].add(model.teacher.module.inference_logits(inputs, metas), truth, tau)
        model.eval()
        tallies["student"].add(model.student.inference_logits(inputs, metas), truth, tau)
    return {name: t.summary() for name, t in tallies.items()}


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    init_default_scope(cfg.get("default_scope", "mmseg"))
    model_cfg = cfg.model.copy()
    if model_cfg.get("source_only"):
        raise SystemExit(f"{args.config} is a source-only config: it has no teacher")
    model = MODELS.build(model_cfg)
    tau = args.threshold if args.threshold is not None else model.pseudo_threshold
    ds_cfg = cfg.val_dataloader.dataset.copy()
    ds_cfg.update(split=args.split, test_mode=True)
    if args.target_root:
        ds_cfg.data_root = args.target_root
    dataset = DATASETS.build(ds_cfg)
    results = []
    for ckpt in args.checkpoints:
        if not osp.isfile(ckpt):
            raise SystemExit(f"checkpoint not found: {ckpt!r}")
        meta = load_checkpoint(model, ckpt, map_location="cpu", strict=True)
        it = (meta.get("meta") or {}).get("iter")
        res = dict(checkpoint=osp.abspath(ckpt), iter=it, tau=tau, split=args.split,
                   teacher_steps=model.teacher_steps, **score(model, dataset, tau,
                                                               args.max_images))
        results.append(res)
        for net in ("teacher", "student"):
            s = res[net]
            print(f"[{osp.basename(ckpt)} iter={it}] {net:7s} IoU={s['defect_iou']:.3f} "
                  f"P={s['defect_precision']:.3f} R={s['defect_recall']:.3f} "
                  f"conf(defect)={s['confidence_on_defect']:.3f} "
                  f"conf(bg)={s['confidence_on_background']:.3f} "
                  f">=tau: defect {s['defect_pixels_above_tau']:.3f} "
                  f"bg {s['background_pixels_above_tau']:.3f} "
                  f"scalar weight {s['reference_scalar_weight']:.3f}", flush=True)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    exit_tool(run_tool(status_only(main), "tools/pseudo_label_quality.py"))
