"""``tools/predict.py --launcher pytorch``: each process predicts a disjoint part of the images.

Rank ``r`` of ``w`` takes the images ``paths[r::w]`` and writes their pictures into the common
output folder under the names of the whole list; the per-rank summaries are gathered and rank 0
writes one ``predictions.json`` / ``verdicts.csv`` for the whole run (images in input order).
"""

from __future__ import annotations

import os
import sys
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn

from ..deploy.files import unique_stems
from ..deploy.outputs import merge_summaries, write_summary
from .batch import predict_files
from .thresholds import Thresholds


def init_predict_distributed(launcher: str, device: str) -> Tuple[int, int, str]:
    """Start the process group of a ``--launcher`` run; the device of this rank.

    Args:
        launcher (str): ``'none'`` or ``'pytorch'`` (torchrun).
        device (str): ``--device``: ``'cpu'`` (gloo) or ``'cuda'`` / ``'cuda:N'`` (nccl; each
            rank takes ``cuda:LOCAL_RANK``).

    Returns:
        tuple: ``(rank, world_size, device)``. Ranks other than 0 print nothing on stdout
        from here on (their errors still go to stderr).

    Raises:
        ValueError: another launcher, or torchrun's environment missing (named).
    """
    if launcher == "none":
        return 0, 1, device
    if launcher != "pytorch":
        raise ValueError(f"--launcher {launcher!r}: prediction supports 'none' and 'pytorch' "
                         "(torchrun)")
    missing = [k for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "LOCAL_RANK")
               if k not in os.environ]
    if missing:
        raise ValueError(f"--launcher pytorch needs torchrun's environment ({', '.join(missing)} "
                         "not set): run it with python -m torch.distributed.run "
                         "--nproc_per_node=N tools/predict.py ... --launcher pytorch")
    import torch.distributed as dist

    cuda = device.startswith("cuda")
    if cuda:
        device = f"cuda:{int(os.environ['LOCAL_RANK'])}"
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    if dist.get_rank() != 0:  # one report on stdout, from rank 0; errors still on stderr
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115  (for the life of the process)
    return dist.get_rank(), dist.get_world_size(), device


def predict_files_distributed(model: nn.Module, paths: Sequence[str], out_dir: str,
                              thresholds: Optional[Thresholds] = None, progress: bool = True,
                              meta: Optional[dict] = None, **kwargs) -> dict:
    """:func:`~mmseg_uda.apis.predict_files` split over the ranks of the process group.

    Without an initialised process group this is ``predict_files``. Every rank returns the
    merged summary; rank 0 writes it.

    Args:
        model (nn.Module): this rank's model.
        paths (Sequence[str]): all image files (the same list on every rank).
        out_dir (str): the common output folder.
        thresholds (Thresholds, optional): verdict thresholds. Default: ``Thresholds()``.
        progress (bool): progress bar on rank 0. Default: True.
        meta (dict, optional): extra top-level entries of the JSON. Default: None.
        **kwargs: the other arguments of ``predict_files`` (thresholds, window, tta, ...).
    """
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return predict_files(model, paths, out_dir, thresholds, progress=progress, meta=meta,
                             **kwargs)
    rank, world = dist.get_rank(), dist.get_world_size()
    meta = dict(meta or {}, distributed=dict(world_size=world, split="paths[rank::world_size]"))
    part = predict_files(model, list(paths)[rank::world], out_dir, thresholds,
                         progress=progress and rank == 0,
                         meta=meta, names=unique_stems(paths), write_summary_files=False,
                         **kwargs)
    parts = [None] * world
    dist.all_gather_object(parts, part)
    merged = merge_summaries(parts, paths)
    if rank == 0:
        write_summary(merged, out_dir)
    dist.barrier()
    return merged


def prepare_output_dir_distributed(out_dir: str, overwrite: bool = False) -> str:
    """:func:`~mmseg_uda.apis.prepare_output_dir` on rank 0, its verdict shared by all ranks
    (so that no rank writes before rank 0 has checked that the folder is empty)."""
    import torch.distributed as dist

    from ..deploy.files import prepare_output_dir

    if not (dist.is_available() and dist.is_initialized()):
        return prepare_output_dir(out_dir, overwrite)
    error = [None]
    if dist.get_rank() == 0:
        try:
            prepare_output_dir(out_dir, overwrite)
        except OSError as exc:
            error[0] = str(exc)
    dist.broadcast_object_list(error, src=0)
    if error[0]:
        raise FileExistsError(error[0])
    return out_dir
