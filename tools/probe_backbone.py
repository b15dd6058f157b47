"""Linear probe of MiT encoders: does a (pretrained) backbone's frozen feature map separate
defect pixels from background, before any fine-tuning?

    python tools/probe_backbone.py WEIGHTS [WEIGHTS ...] --target ROOT [--out probe.json]
    python tools/probe_backbone.py scratch:0 work_dirs/simmim_mit-b0_cpu/backbone.pth \
        --target ../shared/data/cfd

Each WEIGHTS is a MiT weight file (any layout ``MiTPretrained`` reads, e.g. the
``backbone.pth`` of ``tools/pretrain.py``) or ``scratch:SEED`` (the random initialisation of
the CPU configs' MiT-b0 with that seed). The features of the four stages, upsampled to the
first stage's grid (stride 4) and concatenated, are one sample per 4x4 cell; a logistic
regression (balanced class weights) is fitted on cells of the ROOT's ``train.txt`` images
(all defect cells and ``--background-cells`` random background cells per image) and scored on
every cell of its ``test.txt`` images: average precision and IoU at 0.5. Nothing is tuned on
the test images by the probe itself, but *choosing an encoder by its scores* is a choice made
on ROOT's ``test.txt``: pass a development split of the training photos
(``tools/dataset_converters/dev_split.py``, whose ``test.txt`` is held-out *train* photos), not
the set the model will be evaluated on. A ROOT without the ``dev_split.json`` that tool writes
gets a warning saying so. See docs/pretrain.md.
"""

from __future__ import annotations

import argparse
import json
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from tools._cli import add_debug_flag, run_main  # noqa: E402

STRIDE = 4  # the first MiT stage's grid


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Linear probe of MiT encoder features on a "
                                     "labeled target (train.txt fit, test.txt score)")
    parser.add_argument("weights", nargs="+", help="MiT weight files, or scratch:SEED")
    parser.add_argument("--target", required=True, help="dataset root with images/, masks/, "
                        "train.txt and test.txt")
    parser.add_argument("--defect-class", type=int, default=1, help="class id probed (1)")
    parser.add_argument("--background-cells", type=int, default=800,
                        help="random background cells per training image (800)")
    parser.add_argument("--seed", type=int, default=0, help="cell draw and solver seed (0)")
    parser.add_argument("--out", help="JSON file for the scores")
    add_debug_flag(parser)
    return parser.parse_args(argv)


def base_model_config():
    """The CPU configs' SegFormer MiT-b0 config (backbone and data preprocessor)."""
    from mmengine.config import Config

    return Config.fromfile(osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))),
                                    "configs", "_base_", "models", "mit_b0.py"))


def build_backbone(spec: str):
    """(MixVisionTransformer, description) for a weight file or ``scratch:SEED``."""
    import copy

    import torch
    from mmseg.registry import MODELS

    from mmseg_uda.models.weights import (
        convert_mit_state_dict,
        infer_architecture,
        load_mit_weights,
        read_state_dict,
    )

    cfg = copy.deepcopy(base_model_config().model.backbone)
    if spec.startswith("scratch:"):
        torch.manual_seed(int(spec.split(":", 1)[1]))
        backbone = MODELS.build(cfg)
        backbone.init_weights()
        return backbone.eval(), spec
    state_dict, _ = convert_mit_state_dict(read_state_dict(spec), spec)
    embed_dims, num_layers = infer_architecture(state_dict)
    cfg.update(embed_dims=embed_dims, num_layers=num_layers)
    backbone = MODELS.build(cfg)
    load_mit_weights(backbone, spec)
    return backbone.eval(), spec


def cells(backbone, img_path: str, mask_path: str, defect: int, norm: dict):
    """(features (n, d), labels (n,)) of the labeled 4x4 cells of one image; ``norm``: the
    segmentors' data preprocessor (RGB mean / std)."""
    import cv2
    import numpy as np
    import torch
    import torch.nn.functional as F

    from mmseg_uda.analysis import cell_labels

    img = cv2.imread(img_path, cv2.IMREAD_COLOR)[..., ::-1].astype(np.float32)
    mean = np.array(norm["mean"], np.float32)
    std = np.array(norm["std"], np.float32)
    x = torch.from_numpy((img - mean) / std).permute(2, 0, 1)[None]
    with torch.no_grad():
        feats = backbone(x)
        size = feats[0].shape[-2:]
        f = torch.cat([F.interpolate(m, size=size, mode="bilinear", align_corners=False)
                       for m in feats], dim=1)[0]
    labels = cell_labels(cv2.imread(mask_path, cv2.IMREAD_UNCHANGED), STRIDE, defect)
    h, w = min(size[0], labels.shape[0]), min(size[1], labels.shape[1])
    f = f[:, :h, :w].reshape(f.shape[0], -1).T.numpy()
    labels = labels[:h, :w].reshape(-1)
    keep = labels >= 0
    return f[keep], labels[keep]


def main(argv=None):
    args = parse_args(argv)
    import numpy as np
    from mmengine.registry import init_default_scope

    import mmseg_uda  # noqa: F401  (the stack fixes, before anything of mmseg is imported)
    from mmseg_uda.analysis import fit_probe, probe_scores
    from mmseg_uda.datasets import DefectDataset

    init_default_scope("mmseg")
    if not osp.isfile(osp.join(args.target, "dev_split.json")):
        print(f"warning: {args.target!r} is not a development split (no dev_split.json): its "
              "test.txt is scored, so choosing an encoder by these scores tunes on that split. "
              "If it is your evaluation split, probe a dev split of the training photos instead: "
              "python tools/dataset_converters/dev_split.py ROOT DEV_ROOT", file=sys.stderr,
              flush=True)
    sets = {split: DefectDataset(data_root=args.target, split=f"{split}.txt", validate="none",
                                 pipeline=[], serialize_data=False)
            for split in ("train", "test")}
    rng = np.random.default_rng(args.seed)
    norm = base_model_config().data_preprocessor
    results = {}
    for spec in args.weights:
        start = time.time()
        backbone, name = build_backbone(spec)
        xs, ys = [], []
        for info in sets["train"].data_list:
            f, y = cells(backbone, info["img_path"], info["seg_map_path"], args.defect_class, norm)
            bg = np.flatnonzero(y == 0)
            keep = np.concatenate([np.flatnonzero(y == 1),
                                   rng.permutation(bg)[:args.background_cells]])
            xs.append(f[keep])
            ys.append(y[keep])
        clf = fit_probe(np.concatenate(xs), np.concatenate(ys), seed=args.seed)
        probs, labels = [], []
        for info in sets["test"].data_list:
            f, y = cells(backbone, info["img_path"], info["seg_map_path"], args.defect_class,
                         norm)
            probs.append(clf.predict_proba(f)[:, 1])
            labels.append(y)
        scores = probe_scores(np.concatenate(probs), np.concatenate(labels))
        scores["seconds"] = time.time() - start
        results[name] = scores
        print(f"{name}: AP {100 * scores['average_precision']:.1f}  IoU@0.5 "
              f"{100 * scores['iou']:.1f}  (precision {100 * scores['precision']:.1f}, recall "
              f"{100 * scores['recall']:.1f}; {scores['cells']} test cells, "
              f"{scores['seconds']:.0f} s)", flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(dict(target=osp.abspath(args.target), stride=STRIDE, seed=args.seed,
                           background_cells=args.background_cells, results=results), f,
                      indent=2)
    return 0


if __name__ == "__main__":
    run_main(main, parse_args, "tools/probe_backbone.py")
