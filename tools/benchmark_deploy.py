"""Images per second of the PyTorch predictor and of the ONNX runner on the same images.

    python tools/benchmark_deploy.py CONFIG [--checkpoint CKPT] --images 'cfd/images/*.jpg'
                                     [--num 12] [--threads 1] [--work-dir DIR]
                                     [--cfg-options k=v ...]

Both sides do the whole per-image work of their tool except file writing: PyTorch
``predict_image`` (data preprocessor, model test mode, softmax, mask, regions, verdict; the path
of ``tools/predict.py``) and ONNX ``OnnxSegmentor.predict`` (numpy preprocessing, ONNX Runtime,
the same post-processing; the path of ``python -m mmseg_uda.deploy.predict``). The model is
exported at the size of the first image (with the parity check of ``tools/export_onnx.py``);
without ``--checkpoint`` the weights are random, which changes nothing in the speed. One warm-up
image each, then ``--num`` images timed; both sides get ``--threads`` threads.
"""

from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import platform
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from tools._cli import CfgOptionsAction, add_debug_flag, parse_early, status_only  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="PyTorch vs ONNX Runtime images/s")
    parser.add_argument("config", help="config file of the model")
    parser.add_argument("--checkpoint", help="checkpoint (default: random weights)")
    parser.add_argument("--images", required=True, help="a folder, file or quoted glob")
    parser.add_argument("--num", type=int, default=12, help="images timed (default: 12)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch and ONNX Runtime threads (default: 1)")
    parser.add_argument("--work-dir", default="work_dirs/benchmark_deploy",
                        help="where the exported model is written")
    parser.add_argument("--cfg-options", nargs="+", action=CfgOptionsAction,
                        help="override config settings, key=value")
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    if args.num < 1 or args.threads < 1:
        parser.error(f"--num and --threads must be >= 1, got {args.num}, {args.threads}")
    return args


parse_early(__name__, parse_args)  # --help before the stack is imported

import torch  # noqa: E402

import mmseg_uda  # noqa: E402,F401
from mmseg_uda.apis import init_model, list_images, load_image, predict_image  # noqa: E402
from mmseg_uda.deploy import OnnxSegmentor  # noqa: E402
from mmseg_uda.deploy.export import export_with_parity  # noqa: E402
from mmseg_uda.utils import exit_tool, run_tool  # noqa: E402


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    paths = list_images(args.images)
    images = [load_image(p) for p in paths[:args.num + 1]]
    size = images[0].shape[:2]
    if any(img.shape[:2] != size for img in images):
        raise SystemExit(f"all images must have the size of the first ({size[0]}x{size[1]})")
    model = init_model(args.config, args.checkpoint, cfg_options=args.cfg_options)
    os.makedirs(args.work_dir, exist_ok=True)
    onnx_file = osp.join(args.work_dir, osp.splitext(osp.basename(args.config))[0] + ".onnx")
    parity = export_with_parity(model, onnx_file, size, images[:2])
    if parity["failures"]:
        raise SystemExit(f"parity failed: {parity['failures']}")
    session = OnnxSegmentor(onnx_file, num_threads=args.threads)
    timed = images[1:] or images
    rates = {}
    for name, predict in (("pytorch", lambda img: predict_image(model, img)),
                          ("onnxruntime", session.predict)):
        predict(images[0])  # warm-up
        start = time.perf_counter()
        for img in timed:
            predict(img)
        rates[name] = len(timed) / (time.perf_counter() - start)
    result = dict(config=args.config, checkpoint=args.checkpoint, size=list(size),
                  images=len(timed), threads=args.threads,
                  pytorch_img_per_s=round(rates["pytorch"], 3),
                  onnxruntime_img_per_s=round(rates["onnxruntime"], 3),
                  speedup=round(rates["onnxruntime"] / rates["pytorch"], 2),
                  parity_max_abs_prob_diff=parity["max_abs_prob_diff"],
                  torch=torch.__version__, machine=platform.processor() or platform.machine())
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    exit_tool(run_tool(status_only(main), "tools/benchmark_deploy.py"))
