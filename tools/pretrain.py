"""Self-supervised pretraining of the segmentors' MiT backbone on unlabeled photos.

    python tools/pretrain.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
                                    [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi]
    python tools/pretrain.py CONFIG --export-from CKPT [--out FILE]   # from any checkpoint

Trains the model of CONFIG (``SimMIM`` or ``DenseVICReg``, configs/pretrain/) with the MMEngine
Runner exactly like ``tools/train.py`` (work-dir lock, ``--resume``, AMP, distributed
launchers, ETA lines), then writes the encoder alone to ``WORK_DIR/backbone.pth`` (``--out``):
mmseg ``MixVisionTransformer`` keys, ``{'meta', 'state_dict'}``, which
``init_cfg=dict(type='MiTPretrained', checkpoint=...)`` loads strictly into a backbone of the
same MiT size. ``--export-from`` writes that file from an
intermediate Runner checkpoint of a pretraining run instead of training. See docs/pretrain.md.
"""

from __future__ import annotations

import argparse
import datetime
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout

# Only argparse before main(): --help answers without importing torch / MMEngine / MMSeg.
from tools._cli import add_cfg_options, run_main  # noqa: E402
from tools.train import parse_run_args  # noqa: E402

BACKBONE_FILE = "backbone.pth"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Self-supervised pretraining of a MiT backbone (writes WORK_DIR/"
                    f"{BACKBONE_FILE} for init_cfg=dict(type='MiTPretrained', checkpoint=...))")
    parser.add_argument("config", help="pretraining config, e.g. "
                        "configs/pretrain/simmim_mit-b0_cpu.py")
    parser.add_argument("--work-dir", help="folder for logs, checkpoints and the backbone "
                        "(default: work_dirs/<config name>)")
    parser.add_argument(
        "--resume", nargs="?", const="auto", default=None, metavar="CKPT",
        help="resume pretraining: without a value from the latest checkpoint in the work dir, "
             "or from the .pth given (model, optimizer, scheduler, iteration)")
    parser.add_argument("--amp", action="store_true",
                        help="mixed precision (bf16 autocast where the GPU supports it)")
    parser.add_argument("--overwrite", action="store_true",
                        help="allow pretraining into a work dir that already holds checkpoints "
                             "of another run (they may be overwritten)")
    parser.add_argument("--out", help=f"backbone file to write (default: WORK_DIR/{BACKBONE_FILE})")
    parser.add_argument("--export-from", metavar="CKPT",
                        help="train nothing: write the backbone file from this checkpoint of a "
                             "pretraining run (e.g. WORK_DIR/iter_500.pth)")
    add_cfg_options(
        parser, help="override config settings (e.g. train_cfg.max_iters=2000; more photo "
                     "folders: the dataset's extra_roots, docs/pretrain.md); misspelt keys "
                     "are refused")
    return parse_run_args(parser, argv)


OBJECTIVES = {"SimMIM": "SimMIM masked image modelling",
              "DenseVICReg": "dense VICReg (matched cells of two views)"}


def _objective(cfg) -> str:
    """How the backbone of the (loaded) pretraining config ``cfg`` was trained, in words."""
    kind = str((cfg.get("model") or {}).get("type", "unknown"))
    return OBJECTIVES.get(kind, kind)


def _meta(config: str, objective: str, **more) -> dict:
    return dict(config=osp.abspath(config), objective=objective,
                written=datetime.datetime.now().isoformat(timespec="seconds"),
                writer="mmseg_uda tools/pretrain.py", **more)


def export_from_checkpoint(checkpoint: str, out: str, config: str, objective: str) -> str:
    """Write the backbone of a pretraining (Runner) checkpoint to ``out``; returns the MiT
    size. The checkpoint is unpickled in full: only your own runs' files."""
    from mmseg_uda.compat.checkpoint import check_loadable
    from mmseg_uda.models.weights import (
        convert_mit_state_dict,
        read_state_dict,
        save_mit_weights,
    )

    check_loadable(checkpoint)
    state_dict, layout = convert_mit_state_dict(
        read_state_dict(checkpoint, allow_pickle=True), checkpoint)
    meta = _meta(config, objective, checkpoint=osp.abspath(checkpoint))
    return save_mit_weights(state_dict, out, meta, source=checkpoint, layout=layout)


def export_from_model(model, out: str, config: str, objective: str, iteration: int) -> str:
    """Write the backbone of a trained pretraining model (``SimMIM``, ``DenseVICReg``; wrapped
    or not) to ``out``."""
    from mmengine.model import is_model_wrapper

    from mmseg_uda.models.weights import save_mit_weights

    model = model.module if is_model_wrapper(model) else model
    return save_mit_weights(model.backbone.state_dict(), out,
                            _meta(config, objective, iterations=int(iteration)),
                            source="pretrained model")


def main(argv=None):
    args = parse_args(argv)
    import mmseg_uda  # noqa: F401  (the stack fixes, before anything of mmseg is imported)
    from tools.train import load_run_config, train_locked

    cfg = load_run_config(args)
    out = args.out or osp.join(cfg.work_dir, BACKBONE_FILE)
    if args.export_from:
        if not osp.isfile(args.export_from):
            raise SystemExit(f"--export-from: checkpoint not found: {args.export_from!r}")
        name = export_from_checkpoint(args.export_from, out, args.config, _objective(cfg))
        print(f"{args.export_from}: {name} backbone -> {out}")
        return 0
    if "backbone" not in (cfg.get("model") or {}):
        raise SystemExit(f"{args.config}: model has no 'backbone' to pretrain (expected a "
                         "pretraining config, e.g. configs/pretrain/simmim_mit-b0_cpu.py)")
    runner = train_locked(cfg, args)  # the photo folders are checked before the Runner
    if runner is not None:  # rank 0
        name = export_from_model(runner.model, out, args.config, _objective(cfg),
                                 runner.iter)
        runner.logger.info(f"pretrained {name} backbone ({runner.iter} iterations) -> {out}; "
                           f"use it with init_cfg=dict(type='MiTPretrained', "
                           f"checkpoint='{out}')")
    return 0


if __name__ == "__main__":
    run_main(main, parse_args, "tools/pretrain.py")
