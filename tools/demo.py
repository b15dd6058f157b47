"""The built-in demo: generate a source and a different target domain, adapt, report.

    python tools/demo.py                 # what `make demo` runs (~12 minutes on 2 idle cores)
    python tools/demo.py --rerun         # train again instead of reusing finished runs

No download: both domains come from the generator (``configs/benchmarks/demo_cpu.py``) —
clean 'lab' crack renders as the labeled source, harsh 'field_demo' photos as the target
(``configs/benchmarks/demo_field_style.json``: the 'field' style with wide, dark cracks), whose
labels are used only for the report. Source-only, DACS, HRDA and an oracle (trained on the
target labels) run with the same budget through ``tools/train.py`` / ``tools/test.py``; the demo
prints their table and writes a picture of the predictions on target images:

    work_dirs/demo/results.md            the table (also results.json)
    work_dirs/demo/target_iou_curves.png target IoU over the iterations
    work_dirs/demo/predictions.png       target image | truth | each method
"""

from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import shutil
import sys
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(REPO, "tools"))

import benchmark_adaptation as ba  # noqa: E402

BENCHMARK = osp.join(REPO, "configs", "benchmarks", "demo_cpu.py")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work-dir", default=osp.join(REPO, "work_dirs", "demo"),
                        help="runs, generated data and outputs (default: work_dirs/demo)")
    parser.add_argument("--iters", type=int, help="training iterations per method")
    parser.add_argument("--methods", help="comma-separated subset (default: all)")
    parser.add_argument("--rerun", action="store_true", help="train finished runs again")
    parser.add_argument("--num-images", type=int, default=4,
                        help="target images in predictions.png (default: 4)")
    return parser.parse_args(argv)


def _overlay(img, mask, colour=(0, 0, 255)):
    import numpy as np

    out = img.copy()
    hit = mask > 0
    out[hit] = (0.35 * out[hit] + 0.65 * np.array(colour)).astype(np.uint8)
    return out


def prediction_sheet(payload: dict, work_dir: str, out_path: str, num_images: int) -> str:
    """Target image | truth | one column per method (seed of the first run), as a PNG."""
    import cv2
    import numpy as np

    from mmseg_uda.apis import init_model, load_image, predict_image

    target = payload["target"]
    with open(osp.join(target, "val.txt")) as f:
        names = [line.strip() for line in f if line.strip()][:num_images]
    columns = []
    for method, row in payload["methods"].items():
        seed = row["seeds"][0]
        run_dir = osp.join(work_dir, method, f"seed{seed}")
        ckpt = osp.join(run_dir, f"iter_{payload['budget']['max_iters']}.pth")
        cfg_dir = run_dir
        record = osp.join(run_dir, "run.json")
        if osp.isfile(record):  # a Tent run: the model of the run it adapted
            with open(record) as f:
                after = json.load(f).get("tent_after")
            if after:
                cfg_dir = osp.join(work_dir, after, f"seed{seed}")
        cfg = [f for f in os.listdir(cfg_dir) if f.endswith(".py")] if osp.isdir(cfg_dir) else []
        if not osp.isfile(ckpt) or not cfg:
            continue
        model = init_model(osp.join(cfg_dir, cfg[0]), ckpt)
        columns.append((method, model))
    rows = []
    for name in names:
        found = [p for p in (osp.join(target, "images", name + ext)
                             for ext in (".png", ".jpg", ".bmp")) if osp.isfile(p)]
        if not found:
            raise SystemExit(f"{osp.join(target, 'val.txt')} lists {name!r}, but "
                             f"{osp.join(target, 'images')} has no {name}.png/.jpg/.bmp")
        img_path = found[0]
        img = load_image(img_path)
        truth = cv2.imread(osp.join(target, "masks", name + ".png"), cv2.IMREAD_UNCHANGED)
        tiles = [("target image", img), ("truth", _overlay(img, truth == 1, (0, 200, 0)))]
        for method, model in columns:
            tiles.append((method, _overlay(img, predict_image(model, img)["mask"])))
        labelled = []
        for title, tile in tiles:
            tile = cv2.copyMakeBorder(tile, 22, 2, 2, 2, cv2.BORDER_CONSTANT, value=(255, 255, 255))
            cv2.putText(tile, title, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1,
                        cv2.LINE_AA)
            labelled.append(tile)
        rows.append(np.concatenate(labelled, axis=1))
    cv2.imwrite(out_path, np.concatenate(rows, axis=0))
    return out_path


def demo_setting(bench: dict, iters=None) -> dict:
    """What the demo's results depend on besides the code: the benchmark description, the
    iterations and the content of a target style file (the generator's cache sees its path
    only)."""
    setting = dict(bench=bench, iters=iters or bench["budget"]["max_iters"])
    style = str(bench["target"].get("generate", {}).get("style", ""))
    path = style if osp.isabs(style) else osp.join(REPO, style)
    if style.endswith(".json") and osp.isfile(path):
        with open(path) as f:
            setting["target_style"] = json.load(f)
    return setting


def check_setting(work_dir: str, setting: dict) -> bool:
    """Record ``setting`` in ``work_dir``. The runs of the demo's methods made with another
    setting (or before the record existed) are removed and the target is regenerated, so that
    no table mixes settings; True if there were any."""
    record = osp.join(work_dir, "demo_setting.json")
    runs = [osp.join(work_dir, m) for m in setting["bench"]["methods"]
            if osp.isdir(osp.join(work_dir, m))]
    stored = None
    if osp.isfile(record):
        with open(record) as f:
            stored = json.load(f)
    stale = bool(runs) and stored != json.loads(json.dumps(setting))
    if stale:
        print(f"[demo] {work_dir} holds runs of another demo setting (an earlier version, "
              "other --iters): generating the target and training again", flush=True)
        for run in runs:
            shutil.rmtree(run)
        stamp = osp.join(work_dir, "target_data", ".generator_args.json")
        if osp.isfile(stamp):
            os.remove(stamp)  # the runner regenerates an unstamped folder
    os.makedirs(work_dir, exist_ok=True)
    with open(record, "w") as f:
        json.dump(setting, f, indent=2)
    return stale


def summary_line(table: dict) -> str:
    """One line that reads the table: each method's crack IoU, the adapted methods' change
    against source-only and their share of the gap to the oracle."""
    so = table.get("source_only", {}).get("IoU", [None])[0]
    parts = []
    for method, row in table.items():
        iou = row["IoU"][0]
        if method == "source_only":
            parts.append(f"source-only {iou:.1f}")
        elif method == "oracle":
            parts.append(f"oracle {iou:.1f} (target labels: the ceiling)")
        else:
            gap = row.get("gap_closed")
            more = [] if so is None else [f"{iou - so:+.1f}"]
            if gap is not None:
                more.append(f"{100 * gap:.0f} % of the gap to the oracle")
            parts.append(f"{method.upper()} {iou:.1f}" + (f" ({', '.join(more)})" if more else ""))
    return "[demo] crack IoU on the target: " + " | ".join(parts)


def main(argv=None) -> dict:
    args = parse_args(argv)
    start = time.time()
    bench = ba._load_benchmark(BENCHMARK).to_dict()
    methods = [m.strip() for m in args.methods.split(",")] if args.methods else None
    check_setting(args.work_dir, demo_setting(bench, args.iters))
    print("[demo] source: generated 'lab' cracks; target: generated 'field_demo' photos "
          "(labels only for the report)", flush=True)
    payload = ba.run_benchmark(
        bench, "demo_cpu", args.work_dir, methods=methods, iters=args.iters, rerun=args.rerun,
        table_title="mmseg_uda demo: lab -> field_demo cracks (CPU)")
    sheet = prediction_sheet(payload, args.work_dir, osp.join(args.work_dir, "predictions.png"),
                             args.num_images)
    print("\n" + summary_line(payload["methods"]))
    print(f"[demo] predictions: {sheet}")
    print(f"[demo] done in {(time.time() - start) / 60:.1f} min", flush=True)
    return payload


if __name__ == "__main__":
    main()
