#!/usr/bin/env python
"""Throughput of the synthetic generator: images/s per style, PNG writing included.

Runs ``synthetic.generate_dataset`` end to end (worker start-up, rendering, encoding,
atomic writes, meta.json) into a temporary folder for each style and prints a table::

    python tools/benchmark_generator.py                      # all styles, 512x512, 2 workers
    python tools/benchmark_generator.py --styles pavement,lab --num 400 --workers 2

Besides wall-clock images/s it reports the CPU time spent per image (parent and
workers), which is less sensitive to other load on a shared machine, and the rate that
CPU cost allows when ``workers`` cores are free (``1000 * cores / CPU ms``): on a busy
machine the wall-clock rate is lower than that.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import synthetic  # noqa: E402


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def bench(style: str, num: int, size: str, workers: int, types: str, fmt: str) -> dict:
    """Generate ``num`` images of ``style`` and time it.

    Returns:
        Dictionary with ``images_per_s`` (wall clock, pool start included) and
        ``cpu_ms_per_image`` (user + system CPU of this process and its workers).
    """
    with tempfile.TemporaryDirectory(prefix="synthbench_") as tmp:
        cpu0 = _cpu_seconds()
        t0 = time.perf_counter()
        synthetic.generate_dataset(Path(tmp) / "ds", types=types, num=num, size=size, seed=0,
                                   style=style, workers=workers, image_format=fmt,
                                   progress=False)
        wall = time.perf_counter() - t0
        cpu = _cpu_seconds() - cpu0
        nbytes = sum(p.stat().st_size for p in (Path(tmp) / "ds").rglob("*") if p.is_file())
    return {"images_per_s": num / wall, "cpu_ms_per_image": 1000.0 * cpu / num,
            "wall_s": wall, "mb": nbytes / 1e6}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--styles", default=",".join(synthetic.STYLES),
                        help="comma-separated styles (default: all)")
    parser.add_argument("--num", type=int, default=200, help="images per style (default: 200)")
    parser.add_argument("--size", default="512", help="S or WxH (default: 512)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default: 2)")
    parser.add_argument("--type", dest="types", default="crack", help="defect types")
    parser.add_argument("--format", dest="fmt", default="png", choices=("png", "jpg"))
    args = parser.parse_args()
    styles = [s.strip() for s in args.styles.split(",") if s.strip()]
    for s in styles:
        if s not in synthetic.STYLES:
            parser.error(f"unknown style {s!r}; available: {', '.join(synthetic.STYLES)}")

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# synthetic {synthetic.__version__}, {platform.machine()} {os.cpu_count()} CPUs, "
          f"python {platform.python_version()}, load average before start {load:.2f}")
    print(f"# {args.num} images per style, types={args.types}, format={args.fmt}")
    cores = min(args.workers, os.cpu_count() or 1)
    print(f"| style | size | workers | images/s | CPU ms/image | {cores} free cores: images/s "
          "| MB written |")
    print("|---|---|---|---:|---:|---:|---:|")
    for style in styles:
        r = bench(style, args.num, args.size, args.workers, args.types, args.fmt)
        bound = 1000.0 * cores / r["cpu_ms_per_image"]
        print(f"| {style} | {args.size} | {args.workers} | {r['images_per_s']:.1f} | "
              f"{r['cpu_ms_per_image']:.0f} | {bound:.0f} | {r['mb']:.0f} |", flush=True)
    print(f"# load average after: {os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg")
          else "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
