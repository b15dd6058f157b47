"""Generate one dataset on several machines: ``--shard i/n`` and ``merge``.

Image ``k`` depends only on the run seed, ``k`` and the content arguments, so shard ``i`` of
``n`` renders the indices ``k`` with ``k % n == i`` (names and split files are those of the
whole set), and ``merge`` puts the shards together::

    python -m synthetic generate --type crack --num 2000 --seed 0 --shard 0/2 --out part0
    python -m synthetic generate --type crack --num 2000 --seed 0 --shard 1/2 --out part1
    python -m synthetic merge part0 part1 --out data/synthetic_cracks

The merged folder is byte-identical to ``generate`` without ``--shard`` (same ``images/``,
``masks/``, ``train.txt``, ``val.txt`` and ``meta.json``). A shard folder is not a dataset on
its own: its split files list the whole set, and its ``meta.json`` has a ``shard`` entry.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SHARD_KEY = "shard"


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` -> ``(i, n)`` with ``n >= 1`` and ``0 <= i < n``.

    Raises:
        ValueError: naming the value and what is expected.
    """
    parts = str(text).split("/")
    try:
        index, count = (int(p) for p in parts)
    except ValueError:
        raise ValueError(f"shard must be INDEX/COUNT with whole numbers (e.g. 0/4), "
                         f"got {text!r}") from None
    if count < 1:
        raise ValueError(f"shard {text!r}: COUNT must be >= 1")
    if not 0 <= index < count:
        raise ValueError(f"shard {text!r}: INDEX must be in [0, {count - 1}] (shards are "
                         f"numbered from 0)")
    return index, count


def shard_indices(num: int, shard: tuple[int, int] | None) -> range:
    """The image indices of one shard (all of them without a shard)."""
    if shard is None:
        return range(num)
    index, count = shard
    return range(index, num, count)


def merge_shards(shard_dirs: Sequence[str | Path], out_dir: str | Path,
                 overwrite: bool = False) -> dict[str, Any]:
    """Merge the folders of ``generate --shard i/n`` (every ``i`` once) into one dataset.

    Args:
        shard_dirs: The shard folders, in any order.
        out_dir: The dataset folder to write (new or empty, unless ``overwrite``).
        overwrite: Replace a dataset in ``out_dir``. Default False.

    Returns:
        The merged ``meta.json`` content.

    Raises:
        ValueError: Shards of different runs, a missing or repeated shard, a shard folder
            without its images (the message names the folder).
        FileExistsError: ``out_dir`` not empty without ``overwrite``.
    """
    from .writer import _atomic_text, _prepare_out_dir, meta_json

    metas = []
    for d in shard_dirs:
        path = Path(d) / "meta.json"
        if not path.is_file():
            raise ValueError(f"{str(d)!r} is not a shard folder: no meta.json")
        meta = json.loads(path.read_text(encoding="utf-8"))
        if SHARD_KEY not in meta:
            raise ValueError(f"{str(d)!r} was not generated with --shard (no 'shard' entry in "
                             "its meta.json)")
        metas.append((Path(d), meta))
    count = metas[0][1][SHARD_KEY]["count"]
    found = sorted(m[SHARD_KEY]["index"] for _, m in metas)
    if found != list(range(count)):
        raise ValueError(f"need each of the {count} shards once (0..{count - 1}), got "
                         f"{found}")
    reference = {k: v for k, v in metas[0][1].items() if k not in ("images", SHARD_KEY)}
    for d, meta in metas[1:]:
        other = {k: v for k, v in meta.items() if k not in ("images", SHARD_KEY)}
        if other != reference:
            diff = sorted(k for k in set(other) | set(reference)
                          if other.get(k) != reference.get(k))
            raise ValueError(f"shard {str(d)!r} belongs to another run (differs in {diff})")
    texts = {name: (metas[0][0] / name).read_text(encoding="utf-8")
             for name in ("train.txt", "val.txt")}
    for d, _ in metas[1:]:
        for name, text in texts.items():
            if (d / name).read_text(encoding="utf-8") != text:
                raise ValueError(f"shard {str(d)!r}: {name} differs from the other shards'")
    out = Path(out_dir)
    _prepare_out_dir(out, overwrite)
    fmt = reference["args"]["format"]
    images: dict[str, Any] = {}
    for d, meta in metas:
        for name, params in meta["images"].items():
            for sub, ext in (("images", fmt), ("masks", "png")):
                src = d / sub / f"{name}.{ext}"
                if not src.is_file():
                    raise ValueError(f"shard {str(d)!r} lacks {sub}/{name}.{ext}")
                shutil.copyfile(src, out / sub / f"{name}.{ext}")
            images[name] = params
    num = reference["args"]["num"]
    if len(images) != num:
        raise ValueError(f"the shards hold {len(images)} images, the run has {num}")
    for name, text in texts.items():
        _atomic_text(out / name, text)
    merged = dict(reference)
    merged["images"] = {name: images[name] for name in sorted(images)}
    _atomic_text(out / "meta.json", meta_json(merged))
    return merged
