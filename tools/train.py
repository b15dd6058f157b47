"""Train a segmentor or a UDA model from a config (MMSeg's tools/train.py conventions).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
                                 [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi]
    torchrun --nproc_per_node=N tools/train.py CONFIG --launcher pytorch   # multi-GPU (or CPU/gloo)

One run per work dir (a lock file with host and PID); ``--resume`` continues from the newest
complete checkpoint of the work dir. User errors end in one line and exit status 1
(``--debug``: traceback). See docs/reliability.md.
"""

from __future__ import annotations

import argparse
import glob
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a checkout

# Only argparse before main(): --help answers without importing torch / MMEngine / MMSeg.
from tools._cli import add_cfg_options, add_debug_flag, run_main  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Train a segmentor / UDA model")
    parser.add_argument("config", help="train config file path")
    parser.add_argument("--work-dir", help="folder for logs and checkpoints "
                        "(default: work_dirs/<config name>)")
    parser.add_argument(
        "--resume", nargs="?", const="auto", default=None, metavar="CKPT",
        help="resume training: without a value (or followed by the config, as in "
             "MMSegmentation) from the latest checkpoint in the work dir, or from the .pth "
             "given (model, optimizer, scheduler, iteration, teacher)")
    parser.add_argument("--amp", action="store_true",
                        help="mixed precision (bf16 autocast where the GPU supports it)")
    parser.add_argument("--overwrite", action="store_true",
                        help="allow training into a work dir that already holds checkpoints of "
                             "another run (they may be overwritten)")
    add_cfg_options(
        parser, help="override config settings (e.g. train_cfg.max_iters=1000 "
                     "train_cfg.val_interval=250); misspelt keys are refused")
    return parse_run_args(parser, argv)


def parse_run_args(parser: argparse.ArgumentParser, argv=None):
    """Add ``--launcher``, ``--local-rank`` and ``--debug`` to a training tool's parser and
    parse ``argv`` (``--resume CONFIG`` accepted, ``LOCAL_RANK`` set)."""
    parser.add_argument("--launcher", choices=["none", "pytorch", "slurm", "mpi"],
                        default="none", help="job launcher")
    parser.add_argument("--local_rank", "--local-rank", type=int, default=0)
    add_debug_flag(parser)
    args = parser.parse_args(resume_before_config(sys.argv[1:] if argv is None else argv))
    if "LOCAL_RANK" not in os.environ:  # as mmseg_uda.utils.set_local_rank
        os.environ["LOCAL_RANK"] = str(args.local_rank)
    return args


CONFIG_SUFFIXES = (".py", ".json", ".yaml", ".yml")


def resume_before_config(argv):
    """``--resume CONFIG`` (MMSegmentation's order: the flag, then the config) is ``--resume``
    without a checkpoint: a config file after the flag is not taken as its value."""
    argv = list(argv)
    for i, arg in enumerate(argv[:-1]):
        if arg == "--resume" and argv[i + 1].lower().endswith(CONFIG_SUFFIXES):
            argv[i] = "--resume=auto"
    return argv


def guard_existing_run(work_dir: str, resume, overwrite: bool) -> None:
    """Refuse to silently overwrite the checkpoints of an earlier run."""
    if resume or overwrite or not osp.isdir(work_dir):
        return
    found = sorted(glob.glob(osp.join(work_dir, "iter_*.pth")) +
                   glob.glob(osp.join(work_dir, "epoch_*.pth")))
    if found:
        raise SystemExit(
            f"work dir {work_dir!r} already holds checkpoints of an earlier run "
            f"({osp.basename(found[-1])}, ...). Pass --resume to continue it, --work-dir to "
            "start a new run elsewhere, or --overwrite to reuse the folder.")


def main(argv=None):
    args = parse_args(argv)
    import mmseg_uda  # noqa: F401  (the stack fixes, before anything of mmseg is imported)

    train_locked(load_run_config(args), args)


def load_run_config(args):
    """The config of ``args.config`` with ``--cfg-options``, launcher and work dir set."""
    from mmseg_uda.utils import default_work_dir, load_config

    cfg = load_config(args.config, args.cfg_options)
    cfg.launcher = args.launcher
    cfg.work_dir = default_work_dir(cfg, args.config, args.work_dir)
    return cfg


def train_locked(cfg, args):
    """Check ``--resume`` and the data, then train under the work-dir lock.

    Returns:
        Runner | None: the trained Runner on rank 0 (which owns the work dir), else None.
    """
    from mmseg_uda.utils import WorkDirLock, check_data, process_rank

    if args.resume is not None and args.resume != "auto" and not osp.isfile(args.resume):
        raise SystemExit(f"--resume: checkpoint not found: {args.resume!r}")
    # Data folders, classes and the evaluation set, before the Runner (and its config dump).
    args.data_notes = check_data(cfg, "train")
    # Rank 0 owns the work dir: it alone writes checkpoints, so it alone takes the lock.
    lock = WorkDirLock(cfg.work_dir) if process_rank(args.launcher) == 0 else None
    if lock is not None:
        lock.acquire()
    try:
        runner = train(cfg, args)
    finally:
        if lock is not None:
            lock.release()
    return runner if lock is not None else None


def select_resume(cfg, resume: str) -> None:
    """Point ``cfg`` at the checkpoint ``--resume`` continues from (``'auto'``: the work dir's
    newest complete one), or start a new run when the work dir holds none."""
    from mmengine.logging import print_log

    from mmseg_uda.compat.checkpoint import check_loadable
    from mmseg_uda.utils import find_resume_checkpoint

    if resume != "auto":
        check_loadable(resume)
        cfg.resume, cfg.load_from = True, resume
        return
    path, notes = find_resume_checkpoint(cfg.work_dir)
    for note in notes:
        print_log(f"--resume: {note}", logger="current", level=30)
    if path is None:
        print_log(f"--resume: no checkpoint in {cfg.work_dir!r}; starting a new run",
                  logger="current", level=30)
        cfg.resume = False
        return
    print_log(f"--resume: continuing from {path}", logger="current")
    cfg.resume, cfg.load_from = True, path


def train(cfg, args):
    """Build the Runner from ``cfg`` and train; returns the Runner (``tools/pretrain.py``
    exports the trained backbone from it)."""
    from mmengine.logging import print_log
    from mmengine.runner import Runner
    from mmseg.registry import RUNNERS

    from mmseg_uda.utils import (
        check_schedule,
        enable_amp,
        finish_distributed,
        setup_cpu_distributed,
    )

    guard_existing_run(cfg.work_dir, args.resume, args.overwrite)
    check_schedule(cfg)
    if args.amp:
        dtype = enable_amp(cfg)
        print_log(f"AMP enabled: autocast to {dtype}", logger="current")
    if args.resume is not None:
        select_resume(cfg, args.resume)
    elif cfg.get("load_from") and not osp.isfile(cfg.load_from):
        raise SystemExit(f"load_from: checkpoint not found: {cfg.load_from!r}")
    setup_cpu_distributed(cfg, args.launcher)

    runner = RUNNERS.build(cfg) if "runner_type" in cfg else Runner.from_cfg(cfg)
    for note in getattr(args, "data_notes", ()):
        runner.logger.warning(note)
    runner.train()
    finish_distributed()
    return runner


if __name__ == "__main__":
    run_main(main, parse_args, "tools/train.py")
