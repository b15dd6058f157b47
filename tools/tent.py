"""Tent: adapt a trained model to a target domain at test time, without labels.

    python tools/tent.py CONFIG CHECKPOINT --target DIR --out adapted.pth [--overwrite]
                         [--split train.txt] [--iters 100] [--lr 1e-4] [--batch-size 2]
                         [--crop-size PX] [--eval-images 8] [--seed 0] [--device cpu|cuda:0]
                         [--cfg-options k=v ...]

Wang et al., "Tent: Fully Test-Time Adaptation by Entropy Minimization" (ICLR 2021). Only the
affine parameters of the normalisation layers (LayerNorm, BatchNorm, GroupNorm) are trained, by
minimising the mean per-pixel prediction entropy on random crops of the unlabeled target
images (Adam); BatchNorm layers normalise with the target batches and update their running
statistics. Everything else is frozen, Dropout/DropPath are off.

CHECKPOINT is a checkpoint of ``tools/train.py`` (DACS, HRDA, source-only, supervised) or a
``{meta, state_dict}`` weight file for CONFIG. For a UDA model, the network that ``tools/test.py``
evaluates is adapted (the student, or the teacher with ``model.eval_model='teacher'``). The
output has the same state-dict keys as the input (``{meta, state_dict}``; optimizer state and
message hub are dropped), so ``python tools/test.py CONFIG adapted.pth`` evaluates it.

``--target`` is a folder of images or a dataset root with ``images/`` (and ``--split`` naming a
split file of image names in it). The mean entropy on ``--eval-images`` fixed centre crops is
printed before and after adaptation (eval mode, as tools/test.py sees the model).
"""

from __future__ import annotations

import argparse
import datetime
import os
import os.path as osp
import random
import sys
import time
from typing import List, Optional

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from tools._cli import CfgOptionsAction, add_debug_flag, parse_early  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Tent: adapt the normalisation parameters of a trained model to unlabeled "
                    "target images by entropy minimisation")
    parser.add_argument("config", help="config file of the model")
    parser.add_argument("checkpoint", help="checkpoint to adapt (tools/train.py output)")
    parser.add_argument("--target", required=True,
                        help="folder of target images, or a dataset root with images/")
    parser.add_argument("--split", help="split file (relative to --target or absolute) naming "
                        "the images to use, one name per line (default: all images)")
    parser.add_argument("--out", required=True, help="adapted checkpoint file to write")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    parser.add_argument("--iters", type=int, default=100, help="optimisation steps "
                        "(default: 100)")
    parser.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate "
                        "(default: 1e-4)")
    parser.add_argument("--batch-size", type=int, default=2, help="crops per step "
                        "(default: 2)")
    parser.add_argument("--crop-size", type=int, metavar="PX", help="side of the random "
                        "square crops (default: the config's training crop size, else 512)")
    parser.add_argument("--eval-images", type=int, default=8, help="images whose centre crop "
                        "measures the entropy before and after (default: 8)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    parser.add_argument("--log-interval", type=int, default=10, help="print the entropy "
                        "every this many steps (default: 10)")
    parser.add_argument(
        "--cfg-options", nargs="+", action=CfgOptionsAction,
        help="override config settings, key=value; misspelt keys are refused")
    add_debug_flag(parser)
    return parser.parse_args(argv)


parse_early(__name__, parse_args)  # --help before the stack is imported

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import mmseg_uda  # noqa: E402,F401  (stack fixes before mmseg)
from mmseg_uda.apis import init_model, list_images, load_image, preprocess  # noqa: E402
from mmseg_uda.engine.hooks.progress_hook import EARLY_ITERS  # noqa: E402
from mmseg_uda.models.adaptation import configure_tent, entropy, norm_parameter_names  # noqa: E402

PREFIX = "[tools/tent.py]"
from mmseg_uda.utils import exit_tool, run_tool  # noqa: E402


def target_images(target: str, split: Optional[str] = None) -> List[str]:
    """Image paths of the target folder (``images/`` of a dataset root), optionally a split.

    Raises:
        FileNotFoundError: a missing folder or split file, or no image found (named).
    """
    if not osp.isdir(target):
        raise FileNotFoundError(f"--target folder not found: {target!r}")
    folder = osp.join(target, "images") if osp.isdir(osp.join(target, "images")) else target
    paths = list_images(folder)
    if split is None:
        return paths
    split_file = split if osp.isabs(split) else osp.join(target, split)
    if not osp.isfile(split_file):
        raise FileNotFoundError(f"split file not found: {split_file!r}")
    with open(split_file) as f:
        names = {line.strip() for line in f if line.strip()}
    chosen = [p for p in paths if osp.splitext(osp.basename(p))[0] in names
              or osp.basename(p) in names]
    if not chosen:
        raise FileNotFoundError(f"none of the {len(names)} names in {split_file!r} is an image "
                                f"in {folder!r}")
    return chosen


def adapted_network(model: nn.Module) -> nn.Module:
    """The segmentor that tools/test.py evaluates (a UDA model's student or teacher)."""
    seg = getattr(model, "eval_segmentor", None)
    return seg if isinstance(seg, nn.Module) else model


def default_crop_size(cfg) -> int:
    """The training crop side of a config (``model.data_preprocessor.size``), else 512."""
    size = (cfg.model.get("data_preprocessor") or {}).get("size")
    return int(min(size)) if size else 512


def crop(x: torch.Tensor, size: int, rng: Optional[random.Random]) -> torch.Tensor:
    """A (size x size) crop of a (1, 3, H, W) input: random with ``rng``, else centred.

    Images smaller than ``size`` are cropped square to their short side and resized up.
    """
    h, w = x.shape[-2:]
    side = min(size, h, w)
    if rng is None:
        y, x0 = (h - side) // 2, (w - side) // 2
    else:
        y, x0 = rng.randint(0, h - side), rng.randint(0, w - side)
    out = x[..., y:y + side, x0:x0 + side]
    if side != size:
        out = F.interpolate(out, size=(size, size), mode="bilinear", align_corners=False)
    return out


@torch.no_grad()
def mean_entropy(network: nn.Module, crops: List[torch.Tensor]) -> float:
    """Mean per-pixel entropy (nats) of the network in eval mode over the crops."""
    was_training = network.training
    network.eval()
    values = [entropy(network.inference_logits(c)).mean().item() for c in crops]
    network.train(was_training)
    return float(np.mean(values))


def main(argv=None) -> int:
    args = parse_args(argv)
    log = lambda msg: print(f"{PREFIX} {msg}", flush=True)  # noqa: E731
    try:
        if args.iters < 1 or args.batch_size < 1 or args.lr <= 0:
            raise ValueError(f"--iters and --batch-size must be >= 1 and --lr > 0, got "
                             f"{args.iters}, {args.batch_size}, {args.lr}")
        if not osp.isfile(args.checkpoint):
            raise FileNotFoundError(f"checkpoint file not found: {args.checkpoint!r}")
        if osp.isdir(args.out):
            raise ValueError(f"--out is a folder: {args.out!r}; give a .pth file path")
        if osp.exists(args.out) and not args.overwrite:
            raise FileExistsError(f"--out {args.out!r} exists; pass --overwrite to replace it")
        paths = target_images(args.target, args.split)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"{PREFIX} error: {exc}") from None
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    try:
        model = init_model(args.config, args.checkpoint, device=args.device,
                           cfg_options=args.cfg_options)
    except (OSError, RuntimeError) as exc:  # unreadable file, weights of another model
        raise SystemExit(f"{PREFIX} error: {exc}") from None
    network = adapted_network(model)
    if not callable(getattr(network, "inference_logits", None)):
        raise SystemExit(f"{PREFIX} error: {type(network).__name__} has no inference_logits(); "
                         "Tent needs a WeightedEncoderDecoder / HRDA segmentor")
    size = args.crop_size or default_crop_size(model.cfg)
    log(f"{len(paths)} target image(s), {size}x{size} crops, {args.iters} steps of "
        f"{args.batch_size}, lr {args.lr:g}, adapting {type(network).__name__}")
    inputs = [preprocess(model, load_image(p)) for p in paths]
    eval_crops = [crop(x, size, None) for x in inputs[:max(1, args.eval_images)]]
    before = {n: p.detach().clone() for n, p in model.state_dict().items()}
    start = mean_entropy(network, eval_crops)
    log(f"entropy before: {start:.4f} nats (mean over {len(eval_crops)} centre crops)")

    params = configure_tent(network)
    optimizer = torch.optim.Adam(params, lr=args.lr, betas=(0.9, 0.999))
    t0 = time.time()
    for step in range(1, args.iters + 1):
        batch = torch.cat([crop(inputs[rng.randrange(len(inputs))], size, rng)
                           for _ in range(args.batch_size)])
        loss = entropy(network.inference_logits(batch)).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step in EARLY_ITERS or step % max(1, args.log_interval) == 0 or step == args.iters:
            per_step = (time.time() - t0) / step
            eta = datetime.timedelta(seconds=int(per_step * (args.iters - step)))
            log(f"step {step}/{args.iters}: batch entropy {loss.item():.4f} "
                f"({per_step:.2f} s/step, eta {eta})")
    network.eval()
    network.requires_grad_(False)
    end = mean_entropy(network, eval_crops)
    log(f"entropy after: {end:.4f} nats (before {start:.4f}, change {end - start:+.4f})")

    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    changed = [k for k, v in state.items() if not torch.equal(v, before[k].cpu())]
    src = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    meta = dict(src.get("meta") or {}) if isinstance(src, dict) else {}
    meta["tent"] = dict(source_checkpoint=osp.abspath(args.checkpoint),
                        target=osp.abspath(args.target), split=args.split, iters=args.iters,
                        lr=args.lr, batch_size=args.batch_size, crop_size=size,
                        entropy_before=start, entropy_after=end,
                        adapted_parameters=len(norm_parameter_names(network)),
                        changed_tensors=len(changed))
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    torch.save(dict(meta=meta, state_dict=state), args.out)
    log(f"{len(changed)} tensor(s) changed (norm affine parameters, BatchNorm running "
        f"statistics); wrote {args.out}")
    return 0


if __name__ == "__main__":
    exit_tool(run_tool(main, "tools/tent.py"))
