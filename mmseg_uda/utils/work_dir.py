"""A work dir belongs to one run at a time, and ``--resume`` finds a checkpoint that loads.

* :class:`WorkDirLock` — ``<work_dir>/.lock`` holds the host, PID, start time and command of
  the run that owns the folder. A second ``tools/train.py`` on the same folder (a new run or a
  ``--resume``) is refused while that process lives; a lock left by a process that no longer
  runs on this host (``kill -9``, a crash) is stale and taken over with a warning.
* :func:`find_resume_checkpoint` — the newest checkpoint of the work dir that is complete, for
  ``--resume`` without a path: ``last_checkpoint`` may be missing, point into the folder this
  one was copied from, or name a truncated file.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime
import json
import os
import os.path as osp
import re
import socket
import sys
import time
from typing import List, Optional, Tuple

from .errors import CheckpointError, WorkDirLockedError

LOCK_NAME = ".lock"
CKPT_PATTERN = re.compile(r"^(iter|epoch)_(\d+)\.pth$")
# An empty / unreadable lock younger than this is being written by its owner right now.
_UNREADABLE_GRACE_S = 10.0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


class WorkDirLock:
    """An exclusive lock on a work dir, held by one process (rank 0 of a distributed run).

    Args:
        work_dir (str): the folder (created if missing).
        name (str): the lock file's name inside it. Default: ``'.lock'``.
    """

    def __init__(self, work_dir: str, name: str = LOCK_NAME) -> None:
        self.work_dir = work_dir
        self.path = osp.join(work_dir, name)
        self.held = False

    def _holder(self) -> Optional[dict]:
        try:
            with open(self.path, encoding="utf-8") as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def _stale(self, holder: Optional[dict]) -> Optional[str]:
        """Why the existing lock is stale, or None if its owner may still run."""
        if holder is None:
            try:
                age = time.time() - osp.getmtime(self.path)
            except OSError:
                return "it disappeared"
            return f"it is unreadable and {age:.0f} s old" if age > _UNREADABLE_GRACE_S else None
        if holder.get("host") != socket.gethostname():
            return None  # cannot look at another machine's processes
        pid = int(holder.get("pid", -1))
        if pid == os.getpid():
            return "it is this process's own"
        if pid <= 0 or not _pid_alive(pid):
            return f"PID {pid} no longer runs on this host"
        return None

    def acquire(self) -> WorkDirLock:
        """Take the lock or raise :class:`WorkDirLockedError` naming the holder."""
        os.makedirs(self.work_dir, exist_ok=True)
        info = dict(host=socket.gethostname(), pid=os.getpid(),
                    started=datetime.datetime.now().isoformat(timespec="seconds"),
                    command=" ".join([osp.basename(sys.executable), *sys.argv]))
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                reason = self._stale(holder)
                if reason is None:
                    h = holder or {}
                    raise WorkDirLockedError(
                        f"work dir {self.work_dir!r} is in use by another run (host "
                        f"{h.get('host', '?')}, PID {h.get('pid', '?')}, started "
                        f"{h.get('started', '?')}); wait for it to end or choose another "
                        f"--work-dir (if that run is gone, delete {self.path!r})") from None
                print(f"[work dir lock] taking over the stale lock {self.path!r} "
                      f"({reason})", file=sys.stderr)
                with contextlib.suppress(FileNotFoundError):
                    os.remove(self.path)
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(info, f)
            self.held = True
            atexit.register(self.release)
            return self
        raise WorkDirLockedError(f"could not take the lock {self.path!r} (contended)")

    def release(self) -> None:
        """Remove the lock file if this process holds it. Idempotent."""
        if not self.held:
            return
        holder = self._holder()
        if holder is None or holder.get("pid") == os.getpid():
            with contextlib.suppress(FileNotFoundError):
                os.remove(self.path)
        self.held = False

    def __enter__(self) -> WorkDirLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def list_checkpoints(work_dir: str) -> List[Tuple[int, str]]:
    """``(step, path)`` of the ``iter_N.pth`` / ``epoch_N.pth`` files, newest first."""
    found = []
    if osp.isdir(work_dir):
        for name in os.listdir(work_dir):
            match = CKPT_PATTERN.match(name)
            if match:
                found.append((int(match.group(2)), osp.join(work_dir, name)))
    return sorted(found, reverse=True)


def read_last_checkpoint(work_dir: str) -> Optional[str]:
    """The path ``last_checkpoint`` names, resolved against the work dir; None if absent.

    A path into another folder (the work dir was copied) is replaced by the file of the same
    name in this work dir when that exists.
    """
    path = osp.join(work_dir, "last_checkpoint")
    if not osp.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        name = f.read().strip()
    if not name:
        return None
    if not osp.isabs(name):
        return osp.join(work_dir, name)
    inside = osp.relpath(osp.abspath(name), osp.abspath(work_dir))
    if not inside.startswith(".."):
        return name
    local = osp.join(work_dir, osp.basename(name))
    return local if osp.isfile(local) else name


def find_resume_checkpoint(work_dir: str) -> Tuple[Optional[str], List[str]]:
    """The checkpoint ``--resume`` continues from, and what was noticed on the way.

    The newest complete ``iter_N.pth`` / ``epoch_N.pth`` of the work dir (its zip archive is
    intact; nothing is unpickled), else the file ``last_checkpoint`` names if it is inside the
    work dir. A corrupt newer file is skipped with a note naming it and the one used instead.

    Args:
        work_dir (str): the run's folder.

    Returns:
        tuple: ``(path or None, notes)``; None when the work dir holds no checkpoint at all.

    Raises:
        CheckpointError: checkpoints exist but none of them can be loaded.
    """
    from ..compat.checkpoint import check_loadable

    notes: List[str] = []
    last = read_last_checkpoint(work_dir)
    candidates = [p for _, p in list_checkpoints(work_dir)]
    if last is not None:
        inside = not osp.relpath(osp.abspath(last), osp.abspath(work_dir)).startswith("..")
        if not inside:
            notes.append(f"last_checkpoint names {last!r}, outside this work dir: ignored")
        elif not osp.isfile(last):
            notes.append(f"last_checkpoint names {last!r}, which does not exist")
        elif osp.abspath(last) not in map(osp.abspath, candidates):
            candidates.append(last)
    elif candidates:
        notes.append(f"no last_checkpoint in {work_dir!r}: using the newest checkpoint found")
    broken = []
    for path in candidates:
        try:
            check_loadable(path)
        except CheckpointError as exc:
            broken.append((path, str(exc)))
            continue
        for bad, reason in broken:
            notes.append(f"skipping {bad!r} ({reason.split(': ', 1)[-1]}); resuming from the "
                         f"previous checkpoint {path!r} instead")
        return path, notes
    if broken:
        raise CheckpointError(
            f"--resume: no loadable checkpoint in {work_dir!r}: "
            + "; ".join(f"{p!r}: {r.split(': ', 1)[-1]}" for p, r in broken))
    return None, notes


def process_rank(launcher: str) -> int:
    """This process's global rank before the process group exists (0 without a launcher)."""
    if launcher == "none":
        return 0
    for var in ("RANK", "SLURM_PROCID", "OMPI_COMM_WORLD_RANK"):
        if var in os.environ:
            return int(os.environ[var])
    return 0
