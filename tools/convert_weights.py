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
import os
import os.path as osp
import re
import sys
from typing import Dict, List, Tuple

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from tools._cli import add_debug_flag, parse_early  # noqa: E402

# (embed_dims of stage 1, blocks per stage) of the published MiT sizes
MIT_SIZES: Dict[str, Tuple[int, List[int]]] = {
    "mit_b0": (32, [2, 2, 2, 2]),
    "mit_b1": (64, [2, 2, 2, 2]),
    "mit_b2": (64, [3, 4, 6, 3]),
    "mit_b3": (64, [3, 4, 18, 3]),
    "mit_b4": (64, [3, 8, 27, 3]),
    "mit_b5": (64, [3, 6, 40, 3]),
}


def infer_architecture(state_dict: Dict[str, torch.Tensor]) -> Tuple[int, List[int]]:
    """(embed_dims, blocks per stage) of an mmseg-layout MiT state dict."""
    key = "layers.0.0.projection.weight"
    if key not in state_dict:
        raise MiTWeightsError(f"no {key!r} after conversion: not a MiT encoder")
    blocks = [set() for _ in range(4)]
    for name in state_dict:
        match = re.match(r"layers\.(\d)\.1\.(\d+)\.", name)
        if match and int(match[1]) < 4:
            blocks[int(match[1])].add(int(match[2]))
    return int(state_dict[key].shape[0]), [len(b) for b in blocks]


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

import torch  # noqa: E402

import mmseg_uda  # noqa: E402,F401  (the stack fixes, before mmseg is imported)
from mmseg_uda.models.weights import (  # noqa: E402
    MiTWeightsError,
    convert_mit_state_dict,
    read_state_dict,
)
from mmseg_uda.models.weights.mit_converters import check_against  # noqa: E402
from mmseg_uda.utils import exit_tool, run_tool  # noqa: E402


def main(argv=None) -> None:
    args = parse_args(argv)
    # mmseg.models needs the mmcv.ops fallback that importing mmseg_uda installs (mmcv-lite)
    from mmseg.models.backbones import MixVisionTransformer
    if osp.exists(args.dst):
        raise SystemExit(f"refusing to overwrite {args.dst!r}; remove it or choose another DST")
    try:
        state_dict, layout = convert_mit_state_dict(
            read_state_dict(args.src, allow_pickle=args.allow_pickle), args.src)
        embed_dims, num_layers = infer_architecture(state_dict)
        backbone = MixVisionTransformer(embed_dims=embed_dims, num_layers=num_layers,
                                        num_heads=[1, 2, 5, 8])
        check_against(backbone, state_dict, args.src, layout)
    except (MiTWeightsError, FileNotFoundError) as exc:
        raise SystemExit(f"convert_weights: {exc}") from exc
    name = next((n for n, arch in MIT_SIZES.items() if arch == (embed_dims, num_layers)),
                f"mit(embed_dims={embed_dims}, num_layers={num_layers})")
    meta = dict(source=osp.abspath(args.src), source_layout=layout, architecture=name,
                embed_dims=embed_dims, num_layers=num_layers,
                converted=datetime.datetime.now().isoformat(timespec="seconds"),
                converter="mmseg_uda tools/convert_weights.py")
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    torch.save(dict(meta=meta, state_dict={k: v.contiguous() for k, v in state_dict.items()}),
               args.dst)
    print(f"{args.src} ({layout} layout, {name}, {len(state_dict)} tensors) -> {args.dst}")


if __name__ == "__main__":
    exit_tool(run_tool(main, "tools/convert_weights.py"))
