"""Convert pretrained MiT weights (original SegFormer, HuggingFace or mmseg layout) into a
plain mmseg-layout file that loads with ``torch.load(weights_only=True)``.

    python tools/convert_weights.py SRC DST [--allow-pickle]

    SRC  mit_b5.pth (NVlabs/SegFormer, DAFormer, HRDA), model.safetensors or
         pytorch_model.bin (HuggingFace nvidia/mit-b5), or an mmseg checkpoint
    DST  output file; never overwritten

The output holds ``{'meta': {...}, 'state_dict': {...}}`` with the MixVisionTransformer keys.
The encoder size (MiT-b0..b5) is recognised from the tensor shapes and the converted weights
are loaded strictly into a MiT of that size before anything is written, so a truncated or
foreign file fails here, not as a silently random backbone at training time. Use the result
as the backbone's ``init_cfg=dict(type='MiTPretrained', checkpoint=DST)`` (which also reads
the unconverted files directly): ``model.segmentor.backbone`` in the UDA configs,
``model.backbone`` in the plain segmentor configs.
"""

from __future__ import annotations

import argparse
import datetime
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from tools._cli import add_debug_flag, parse_early  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("src", help="weight file (.pth, .bin, .safetensors)")
    parser.add_argument("dst", help="output .pth file (must not exist)")
    parser.add_argument("--allow-pickle", action="store_true",
                        help="read SRC with weights_only=False (only for files you trust, "
                             "e.g. your own training checkpoints)")
    add_debug_flag(parser)
    return parser.parse_args(argv)


parse_early(__name__, parse_args)  # --help before the stack is imported


import mmseg_uda  # noqa: E402,F401  (the stack fixes, before mmseg is imported)
from mmseg_uda.models.weights import (  # noqa: E402
    MiTWeightsError,
    convert_mit_state_dict,
    read_state_dict,
    save_mit_weights,
)
from mmseg_uda.utils import exit_tool, run_tool  # noqa: E402


def main(argv=None) -> None:
    args = parse_args(argv)
    if osp.exists(args.dst):
        raise SystemExit(f"refusing to overwrite {args.dst!r}; remove it or choose another DST")
    try:
        state_dict, layout = convert_mit_state_dict(
            read_state_dict(args.src, allow_pickle=args.allow_pickle), args.src)
        meta = dict(source=osp.abspath(args.src), source_layout=layout,
                    converted=datetime.datetime.now().isoformat(timespec="seconds"),
                    converter="mmseg_uda tools/convert_weights.py")
        name = save_mit_weights(state_dict, args.dst, meta, source=args.src, layout=layout)
    except (MiTWeightsError, FileNotFoundError) as exc:
        raise SystemExit(f"convert_weights: {exc}") from exc
    print(f"{args.src} ({layout} layout, {name}, {len(state_dict)} tensors) -> {args.dst}")


if __name__ == "__main__":
    exit_tool(run_tool(main, "tools/convert_weights.py"))
