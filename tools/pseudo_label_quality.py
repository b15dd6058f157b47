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

With more than one defect class (a new defect type such as the magnetic tiles) it adds a table
per network with one row per true class: IoU, precision and recall of its pseudo-labels, its
pixel share in the masks against its share of the pseudo-labels, the mean confidence and the
share of its pixels >= ``tau``, and the class most of its missed pixels are pseudo-labeled as
(a rare class that the teacher calls something else is lost to self-training). The JSON gets
these under ``per_class`` and the confusion matrix (true class x pseudo-label) as
``confusion``.

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
    """Pixel counts of one network over a set of images.

    A confusion matrix (true class x pseudo-label) and, per true class, the summed
    confidence and the number of pixels whose confidence reaches ``tau``; the defect-union
    numbers and the per-class ones are both read from it.
    """

    def __init__(self, num_classes: int = 2, background: int = 0) -> None:
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes}")
        self.num_classes, self.background = num_classes, background
        self.confusion = torch.zeros(num_classes, num_classes, dtype=torch.long)
        self.conf_sum = torch.zeros(num_classes, dtype=torch.float64)
        self.sure = torch.zeros(num_classes, dtype=torch.long)

    def add(self, logits: torch.Tensor, truth: torch.Tensor, tau: float,
            ignore: int = 255) -> None:
        if logits.shape[1] != self.num_classes:
            raise ValueError(f"the network predicts {logits.shape[1]} classes, the dataset "
                             f"names {self.num_classes}")
        label, conf = UF.pseudo_labels(logits)
        truth = truth.reshape(label.shape).to(label.device)
        valid = truth != ignore
        t, p, c = truth[valid].long(), label[valid].long(), conf[valid].double()
        if t.numel() and int(t.max()) >= self.num_classes:
            raise ValueError(f"the target masks hold class ids up to {int(t.max())}, the "
                             f"dataset names {self.num_classes} classes")
        k = self.num_classes
        self.confusion += torch.bincount(t * k + p, minlength=k * k).reshape(k, k).cpu()
        self.conf_sum += torch.zeros(k, dtype=torch.float64, device=c.device).scatter_add_(
            0, t, c).cpu()
        self.sure += torch.bincount(t[c >= tau], minlength=k).cpu()

    def summary(self, class_names=None) -> dict:
        def ratio(a, b):
            return float(a) / float(b) if b else float("nan")

        cm, bg = self.confusion, self.background
        defect = torch.ones(self.num_classes, dtype=torch.bool)
        defect[bg] = False
        tp = int(cm[defect][:, defect].sum())  # a defect called some defect class
        fp = int(cm[bg, defect].sum())
        fn = int(cm[defect, bg].sum())
        n_defect, n_background = int(cm[defect].sum()), int(cm[bg].sum())
        sure_defect, sure_background = int(self.sure[defect].sum()), int(self.sure[bg])
        out = dict(
            defect_iou=ratio(tp, tp + fp + fn),
            defect_precision=ratio(tp, tp + fp),
            defect_recall=ratio(tp, tp + fn),
            confidence_on_defect=ratio(self.conf_sum[defect].sum(), n_defect),
            confidence_on_background=ratio(self.conf_sum[bg], n_background),
            defect_pixels_above_tau=ratio(sure_defect, n_defect),
            background_pixels_above_tau=ratio(sure_background, n_background),
            reference_scalar_weight=ratio(sure_defect + sure_background,
                                          n_defect + n_background),
        )
        if self.num_classes > 2:
            names = list(class_names) if class_names is not None else \
                [str(i) for i in range(self.num_classes)]
            total = int(cm.sum())
            per_class = {}
            for i in range(self.num_classes):
                hit, truth_i, pred_i = int(cm[i, i]), int(cm[i].sum()), int(cm[:, i].sum())
                row = cm[i].clone()
                row[i] = -1
                worst = int(row.argmax())
                per_class[names[i]] = dict(
                    iou=ratio(hit, truth_i + pred_i - hit),
                    precision=ratio(hit, pred_i),
                    recall=ratio(hit, truth_i),
                    true_share=ratio(truth_i, total),
                    pseudo_share=ratio(pred_i, total),
                    confidence=ratio(self.conf_sum[i], truth_i),
                    above_tau=ratio(self.sure[i], truth_i),
                    most_confused_with=names[worst],
                    most_confused_share=ratio(cm[i, worst], truth_i),
                )
            out.update(per_class=per_class, class_names=names, confusion=cm.tolist())
        return out


@torch.no_grad()
def score(model, dataset, tau: float, max_images: int = 0, background: int = 0) -> dict:
    names = list(dataset.metainfo["classes"])
    tallies = {net: Tally(len(names), background) for net in ("teacher", "student")}
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
    return {net: t.summary(names) for net, t in tallies.items()}


def print_classes(name: str, net: str, scores: dict) -> None:
    """The per-class table of a network with several defect classes."""
    print(f"[{name}] {net}: per true class (IoU / precision / recall of the arg-max "
          f"pseudo-labels, pixel share true -> pseudo-labeled, mean confidence, share >= tau, "
          f"the class most of its missed pixels become)")
    print(f"  {'class':12s} {'IoU':>6s} {'prec':>6s} {'recall':>6s} {'true%':>7s} "
          f"{'pseudo%':>7s} {'conf':>5s} {'>=tau':>6s}  confused with")
    for cls, c in scores["per_class"].items():
        print(f"  {cls[:12]:12s} {c['iou']:6.3f} {c['precision']:6.3f} {c['recall']:6.3f} "
              f"{100 * c['true_share']:7.3f} {100 * c['pseudo_share']:7.3f} "
              f"{c['confidence']:5.3f} {c['above_tau']:6.3f}  {c['most_confused_with']} "
              f"({100 * c['most_confused_share']:.0f} %)", flush=True)


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
                   teacher_steps=model.teacher_steps,
                   **score(model, dataset, tau, args.max_images, model.background_index))
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
            if "per_class" in s:
                print_classes(osp.basename(ckpt), net, s)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    exit_tool(run_tool(status_only(main), "tools/pseudo_label_quality.py"))
