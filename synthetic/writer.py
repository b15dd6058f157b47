"""Writing datasets: parallel rendering, atomic image/mask pairs, splits and meta.json.

Layout written to ``out_dir``::

    images/<name>.png|jpg   masks/<name>.png   train.txt   val.txt   meta.json
    preview.png (optional)

Workers only compute (render and encode); the parent process alone touches the
output folder. Each pair is written to hidden temporary names and renamed into place,
image first and mask last; on any exception or Ctrl-C the parent removes temporaries
and any image without its mask (and vice versa), so no half pair survives.
``train.txt``, ``val.txt`` and ``meta.json`` are written only when every pair is done.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
import signal
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from .backgrounds import check_backgrounds
from .compose import (
    check_disable,
    check_types,
    parse_size,
    render_sample,
    resolve_features,
    style_object,
)
from .defects import class_names
from .preview import contact_sheet, write_image
from .shard import SHARD_KEY, parse_shard, shard_indices
from .styles import (
    DEFAULT_STYLE,
    STYLES,
    Style,
    fitted_size,
    is_style_file,
    read_style_file,
    style_from_dict,
    style_to_dict,
)
from .version import __version__

if TYPE_CHECKING:
    from .compose import SizeLike

IMAGE_FORMATS = ("png", "jpg")
# zlib level 1 with the "up" row filter: ~2x faster than the default level and filter
# choice for noisy textures at about the same file size.
PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 1]
if hasattr(cv2, "IMWRITE_PNG_FILTER"):
    PNG_PARAMS += [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP]
MASK_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 3]
JPEG_PARAMS = [cv2.IMWRITE_JPEG_QUALITY, 95]
OUTPUT_ENTRIES = ("images", "masks", "train.txt", "val.txt", "meta.json", "preview.png",
                  "ignore_masks")
_TMP = ".tmp"


def _encode(image: np.ndarray, mask: np.ndarray, fmt: str) -> tuple[bytes, bytes]:
    ok_i, img_buf = cv2.imencode("." + fmt, image, PNG_PARAMS if fmt == "png" else JPEG_PARAMS)
    ok_m, mask_buf = cv2.imencode(".png", mask, MASK_PARAMS)
    if not (ok_i and ok_m):
        raise RuntimeError("OpenCV failed to encode an image or mask")
    return img_buf.tobytes(), mask_buf.tobytes()


def _job(args: tuple) -> tuple[int, bytes, bytes, dict[str, Any]]:
    seed, index, types, hw, style, disable, enable, fmt, backgrounds = args
    image, mask, params = render_sample(seed, index, types, (hw[1], hw[0]), style, disable,
                                        enable, backgrounds)
    img_b, mask_b = _encode(image, mask, fmt)
    return index, img_b, mask_b, params


def tune_malloc() -> bool:
    """Keep freed memory in the heap of this process (glibc only).

    Rendering allocates many short-lived multi-megabyte arrays. By default glibc serves
    each with a fresh ``mmap`` and returns it on free, so every array pays page faults
    on first touch; in a virtual machine that is ~40% of the render time. Raising the
    mmap and trim thresholds lets the heap reuse the same pages. Called in worker
    processes only (it changes process-wide allocator behaviour).

    Returns:
        True if the allocator accepted the settings.
    """
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
        ok = libc.mallopt(m_mmap_threshold, 32 * 1024 * 1024)
        ok &= libc.mallopt(m_trim_threshold, 512 * 1024 * 1024)
        ok &= libc.mallopt(m_top_pad, 64 * 1024 * 1024)
        return bool(ok)
    except (OSError, AttributeError):  # not glibc
        return False


def _init_worker() -> None:
    tune_malloc()
    cv2.setNumThreads(1)
    # The parent handles Ctrl-C (terminates the pool and cleans up).
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (a temporary name) and flush it."""
    with open(path, "wb") as f:
        f.write(data)


def _write_pair(out: Path, name: str, ext: str, img_b: bytes, mask_b: bytes) -> None:
    img_dst = out / "images" / f"{name}.{ext}"
    mask_dst = out / "masks" / f"{name}.png"
    img_tmp = out / "images" / f".{name}{_TMP}.{ext}"
    mask_tmp = out / "masks" / f".{name}{_TMP}.png"
    _write_file(img_tmp, img_b)
    _write_file(mask_tmp, mask_b)
    os.replace(img_tmp, img_dst)
    os.replace(mask_tmp, mask_dst)  # mask last: a mask on disk implies its image


def remove_partial_pairs(out_dir: str | Path) -> list[str]:
    """Delete temporary files and unpaired images/masks in a dataset folder.

    Args:
        out_dir: Dataset folder (with ``images/`` and ``masks/``).

    Returns:
        Paths (relative to ``out_dir``) that were removed.
    """
    out = Path(out_dir)
    removed: list[str] = []
    img_dir, mask_dir = out / "images", out / "masks"
    images = {p.stem: p for p in img_dir.iterdir()} if img_dir.is_dir() else {}
    masks = {p.stem: p for p in mask_dir.iterdir()} if mask_dir.is_dir() else {}
    for group, other in ((images, masks), (masks, images)):
        for stem, path in group.items():
            if not path.is_file():
                continue
            if stem.startswith(".") or _TMP in path.name or stem not in other:
                path.unlink(missing_ok=True)
                removed.append(str(path.relative_to(out)))
    return removed


def _prepare_out_dir(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"output path {str(out)!r} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise FileExistsError(
                f"output folder {str(out)!r} is not empty; refusing to write into it "
                "(pass --overwrite / overwrite=True to replace its dataset)"
            )
        for entry in OUTPUT_ENTRIES:
            p = out / entry
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            elif p.exists() or p.is_symlink():
                p.unlink()
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)


def _atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}{_TMP}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _atomic_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}{_TMP}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def meta_json(meta: dict[str, Any]) -> str:
    """Serialise ``meta`` as JSON: header fields one per line, one line per image.

    Compact enough for 100k images (~2 kB each) and still readable with ``less``.
    """
    lines = ["{"]
    for key, value in meta.items():
        if key == "images":
            continue
        lines.append(f" {json.dumps(key)}: {json.dumps(value)},")
    images = meta.get("images", {})
    lines.append(' "images": {')
    items = list(images.items())
    for k, (name, params) in enumerate(items):
        sep = "," if k + 1 < len(items) else ""
        lines.append(f"  {json.dumps(name)}: {json.dumps(params, separators=(',', ':'))}{sep}")
    lines.append(" }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def split_names(
    names: Sequence[str], val_fraction: float, seed: int
) -> tuple[list[str], list[str]]:
    """Deterministic train/val split.

    Args:
        names: Sample names.
        val_fraction: Share of samples in val, in [0, 1). At least one val sample when
            the fraction is positive and there are two or more samples.
        seed: Run seed.

    Returns:
        ``(train, val)`` names, each in original order.
    """
    n = len(names)
    n_val = int(round(n * val_fraction))
    if val_fraction > 0 and n >= 2:
        n_val = min(max(n_val, 1), n - 1)
    n_val = min(n_val, n)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0, 0x5B117]))
    val_idx = set(rng.permutation(n)[:n_val].tolist())
    train = [x for i, x in enumerate(names) if i not in val_idx]
    val = [x for i, x in enumerate(names) if i in val_idx]
    return train, val


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _results(
    jobs: list[tuple], workers: int
) -> Iterator[tuple[int, bytes, bytes, dict[str, Any]]]:
    """Rendered and encoded samples in index order (in-process or from a spawn pool)."""
    if workers == 1:
        old = cv2.getNumThreads()
        cv2.setNumThreads(1)
        try:
            for job in jobs:
                yield _job(job)
        finally:
            cv2.setNumThreads(old)
        return
    ctx = mp.get_context("spawn")
    pool = ctx.Pool(workers, initializer=_init_worker)
    try:
        chunk = max(1, min(8, len(jobs) // (workers * 8)))
        yield from pool.imap(_job, jobs, chunksize=chunk)
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()


def generate_dataset(
    out_dir: str | Path,
    types: str | Sequence[str] = ("crack",),
    num: int = 100,
    size: SizeLike | str | None = None,
    seed: int = 0,
    style: str | Path | Mapping[str, Any] | Style = DEFAULT_STYLE,
    workers: int = 1,
    overwrite: bool = False,
    preview: bool = False,
    val_fraction: float = 0.1,
    image_format: str = "png",
    disable: str | Iterable[str] | None = (),
    enable: str | Iterable[str] | None = (),
    progress: bool = True,
    backgrounds: str | Path | None = None,
    backgrounds_split: str | None = None,
    ignore_masks: str | Path | None = None,
    ignore_from: Sequence[str] | None = None,
    ignore_threshold: float = 0.5,
    shard: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """Generate a labelled dataset folder.

    The output is byte-identical for the same arguments whatever ``workers`` is:
    image ``i`` depends only on ``(seed, i)`` and the other content arguments, and
    ``meta.json`` records only arguments that affect content (not ``workers``,
    ``overwrite``, ``preview`` or ``progress``) and no timestamps.

    Args:
        out_dir: Output folder; created if missing. Must be empty unless ``overwrite``.
        types: Defect type names in class order (class id = position + 1), or a
            comma-separated string. Default ``("crack",)``.
        num: Number of images (>= 1). Default 100.
        size: ``S`` (S x S pixels), ``(width, height)`` or ``"WxH"``. Default: for a
            fitted style (file or dict with the ``fit`` record of ``fit-style``) the median
            size of the photos it was fitted to, else 512.
        seed: Run seed (>= 0). Default 0.
        style: Style preset name, style file (``python -m synthetic fit-style``), a style
            dict of the same keys, or a Style. Default ``"pavement"``.
        workers: Worker processes (>= 1; 1 renders in this process). Default 1.
        overwrite: Replace the dataset in a non-empty folder: removes ``images/``,
            ``masks/``, ``train.txt``, ``val.txt``, ``meta.json`` and ``preview.png``
            there (other files are left alone). Default False.
        preview: Also write ``preview.png`` (image | mask | overlay rows of the first
            up to 8 samples). Default False.
        val_fraction: Share of images listed in ``val.txt``, in [0, 1). Default 0.1.
        image_format: ``"png"`` (lossless, default) or ``"jpg"`` (quality 95) for
            images; masks are always PNG.
        disable: Realism features to switch off (``synthetic.FEATURES``), recorded in
            ``meta.json``. Default none.
        enable: Features the style leaves off (``Style.off``) to switch back on,
            recorded in ``meta.json``. Default none.
        progress: Show a tqdm progress bar with ETA on stderr. Default True.
        backgrounds: Folder (or dataset root) of real photos to render the defects into
            instead of procedural surfaces (``synthetic.backgrounds``). Default None.
        backgrounds_split: Split file naming the photos (e.g. ``train.txt``). Default: all.
        ignore_masks: Folder of ``<photo name>.png`` masks of defects already in the photos
            (non-zero): those pixels are labeled 255 (ignore) unless a rendered defect covers
            them. Without it a photo's own defects are labeled background.
        ignore_from: ``(config, checkpoint)`` of a trained model (needs ``mmseg_uda``): its
            defect probability above ``ignore_threshold``, dilated by 2 px, becomes the ignore
            masks (written to ``ignore_masks/`` in the output folder).
        ignore_threshold: Probability threshold of ``ignore_from``. Default 0.5.
        shard: ``(i, n)``: render only the images ``k`` with ``k % n == i`` (split files of
            the whole set, a ``shard`` entry in ``meta.json``); ``synthetic.shard.merge_shards``
            puts the ``n`` folders together (:mod:`synthetic.shard`). Default None (all).

    Returns:
        The content of ``meta.json`` as a dictionary, plus ``"_elapsed_s"``: the wall
        time of rendering and writing in seconds (not written to disk, so that the
        output stays reproducible).

    Raises:
        ValueError: On a bad argument (the message names the value and what is allowed).
        FileExistsError: If ``out_dir`` is not empty and ``overwrite`` is False.
        KeyboardInterrupt: Re-raised after cleaning partial pairs if interrupted.
    """
    names_t = check_types(types)
    # A style file is read once: its content gives the Style and, for meta.json, its fit record.
    raw = style if isinstance(style, Mapping) else None
    try:
        if is_style_file(style):
            raw = read_style_file(style)
            style_obj = style_from_dict(raw, source=str(style))
        else:
            style_obj = style_object(style)
    except (FileNotFoundError, KeyError) as exc:
        raise ValueError(exc.args[0] if exc.args else str(exc)) from None
    preset = isinstance(style, str) and style in STYLES
    job_style: Any = style if preset else style_to_dict(style_obj)
    off = check_disable(disable)
    on = check_disable(enable, "enable")
    resolve_features(style_obj, off, on)  # a feature both disabled and enabled fails here
    if size is None:
        size = fitted_size(raw, str(style) if is_style_file(style) else "style") or 512
    h, w = parse_size(size)
    num = _check_int("num", num, 1)
    seed = _check_int("seed", seed, 0)
    workers = _check_int("workers", workers, 1)
    if not isinstance(val_fraction, (int, float)) or not 0.0 <= float(val_fraction) < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
    fmt = str(image_format).lower()
    if fmt == "jpeg":
        fmt = "jpg"
    if fmt not in IMAGE_FORMATS:
        raise ValueError(f"image format must be one of {', '.join(IMAGE_FORMATS)}, "
                         f"got {image_format!r}")
    if shard is not None:
        shard = parse_shard(f"{shard[0]}/{shard[1]}")
        if preview:
            raise ValueError("preview with a shard: generate the preview of the merged set")
    if (ignore_masks or ignore_from) and not backgrounds:
        raise ValueError("ignore masks apply to background photos: pass backgrounds too")
    if ignore_masks and ignore_from:
        raise ValueError("pass either ignore_masks or ignore_from, not both")
    if not 0.0 < float(ignore_threshold) < 1.0:
        raise ValueError(f"ignore_threshold must be in (0, 1), got {ignore_threshold!r}")
    bgs: list[dict[str, Any]] | None = None
    predicted = None
    if backgrounds:
        try:
            bgs = check_backgrounds(backgrounds, (h, w), backgrounds_split, ignore_masks)
        except FileNotFoundError as exc:
            raise ValueError(exc.args[0] if exc.args else str(exc)) from None
        if ignore_from:  # predicted before anything is written: a bad model stops here
            from .ignore import predict_ignore_masks

            predicted = predict_ignore_masks(ignore_from, [b["path"] for b in bgs],
                                             float(ignore_threshold), progress=progress)
    out = Path(out_dir)
    _prepare_out_dir(out, overwrite)
    if predicted is not None:
        (out / "ignore_masks").mkdir()
        for b, m in zip(bgs, predicted):
            path = out / "ignore_masks" / f"{b['name']}.png"
            ok, buf = cv2.imencode(".png", m)
            _atomic_bytes(path, buf.tobytes())
            b["ignore"] = str(path)

    digits = max(6, len(str(num - 1)))
    names = [str(i).zfill(digits) for i in range(num)]
    jobs = [(seed, i, names_t, (h, w), job_style, tuple(sorted(off)), tuple(sorted(on)), fmt,
             bgs) for i in shard_indices(num, shard)]
    per_image: dict[str, Any] = {}
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(jobs), unit="img", desc=f"synthetic {style_obj.name}",
                   dynamic_ncols=True)
    t0 = time.perf_counter()
    results = _results(jobs, workers)
    try:
        for index, img_b, mask_b, params in results:
            _write_pair(out, names[index], fmt, img_b, mask_b)
            per_image[names[index]] = params
            if bar is not None:
                bar.update(1)
    except BaseException:
        results.close()  # stops (terminates) the worker pool first
        if bar is not None:
            bar.close()
        remove_partial_pairs(out)
        raise
    if bar is not None:
        bar.close()
    elapsed = time.perf_counter() - t0

    train, val = split_names(names, float(val_fraction), seed)
    _atomic_text(out / "train.txt", "".join(n + "\n" for n in train))
    _atomic_text(out / "val.txt", "".join(n + "\n" for n in val))
    meta = {
        "generator": "synthetic",
        "version": __version__,
        "args": {
            "types": list(names_t),
            "num": num,
            "size": [w, h],
            "seed": seed,
            "style": style_obj.name if not preset else style,
            "val_fraction": float(val_fraction),
            "format": fmt,
            "disable": sorted(off),
            "enable": sorted(on),
        },
        "classes": class_names(names_t),
        "ignore_index": None,
        "label_rule": "class id where the defect covers >= 50% of the pixel "
                      "(4x4 supersampled area coverage)",
        "style_description": style_obj.description,
        "splits": {"train": len(train), "val": len(val)},
    }
    if not preset:  # a fitted / file style is data: record all of it (what was fitted, too)
        meta["style"] = dict(job_style)
        if raw is not None and "fit" in raw:
            meta["style"]["fit"] = raw["fit"]
        if isinstance(style, (str, Path)):
            meta["args"]["style_file"] = str(Path(style).resolve())
    if bgs is not None:
        meta["args"]["backgrounds"] = str(Path(backgrounds).resolve())
        meta["args"]["backgrounds_split"] = backgrounds_split
        meta["args"]["ignore"] = ("masks " + str(Path(ignore_masks).resolve()) if ignore_masks
                                  else f"model {list(ignore_from)} > {float(ignore_threshold)}"
                                  if ignore_from else None)
        meta["backgrounds"] = [{"name": b["name"], "size": b["size"]} for b in bgs]
        if ignore_masks or ignore_from:
            meta["ignore_index"] = 255
    meta.update({
        "images": per_image,
    })
    if shard is not None:
        meta[SHARD_KEY] = {"index": shard[0], "count": shard[1]}
    _atomic_text(out / "meta.json", meta_json(meta))
    if preview:
        write_preview(out, names[: min(8, num)], fmt)
    meta["_elapsed_s"] = elapsed  # not written to disk (would break reproducibility)
    return meta


def write_preview(out_dir: str | Path, names: Sequence[str] | None = None,
                  image_format: str = "png", tile_width: int = 256) -> Path:
    """Write ``preview.png`` (image | mask | overlay rows) for samples of a dataset.

    Args:
        out_dir: Dataset folder.
        names: Sample names; default the first 8 listed in ``images/``.
        image_format: Image extension in the folder (``png`` or ``jpg``).
        tile_width: Width of each tile in pixels.

    Returns:
        Path of the written sheet.
    """
    out = Path(out_dir)
    if names is None:
        names = sorted(p.stem for p in (out / "images").glob(f"*.{image_format}"))[:8]
    pairs = []
    for n in names:
        img = cv2.imread(str(out / "images" / f"{n}.{image_format}"), cv2.IMREAD_COLOR)
        mask = cv2.imread(str(out / "masks" / f"{n}.png"), cv2.IMREAD_UNCHANGED)
        if img is None or mask is None:
            raise FileNotFoundError(f"missing image or mask for sample {n!r} in {out}")
        pairs.append((img, mask))
    if not pairs:
        raise ValueError(f"no samples to preview in {out}")
    path = out / "preview.png"
    write_image(path, contact_sheet(pairs, tile_width=tile_width, labels=list(names)))
    return path
