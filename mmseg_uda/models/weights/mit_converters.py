"""Pretrained MiT weights: reading files, recognising their key layout, converting to mmseg's.

Three layouts of the same MiT encoder circulate:

* ``segformer`` — the original NVlabs SegFormer / ImageNet ``mit_b*.pth`` files (also used
  by DAFormer, HRDA and MIC): ``patch_embed1.proj``, ``block1.0.attn.q``/``attn.kv``,
  ``block1.0.mlp.fc1`` (Linear), ``norm1``; an ImageNet classifier ``head.*``.
* ``huggingface`` — ``nvidia/mit-b*`` (``.safetensors`` or ``.bin``):
  ``segformer.encoder.patch_embeddings.0.proj``, ``segformer.encoder.block.0.0.attention.
  self.query``/``key``/``value``, ``mlp.dense1``, ``segformer.encoder.layer_norm.0``; a
  ``classifier.*``.
* ``mmseg`` — mmseg's :class:`MixVisionTransformer` (``layers.0.0.projection``,
  ``layers.0.1.0.attn.attn.in_proj_weight``, ``ffn.layers.0`` as 1x1 convolutions), bare or
  under ``backbone.`` in a segmentor checkpoint.

Each layout has one explicit convert function to the ``mmseg`` layout; keys that belong to a
known non-encoder part (classifier, decode heads) are dropped, anything else is kept under its
own name so that a strict load reports it.
"""

from __future__ import annotations

import os
import os.path as osp
import re
from collections import OrderedDict
from typing import Callable, Dict, Iterable, List, Match, Optional, Sequence, Tuple

import torch
from torch import Tensor

from ...compat.checkpoint import diagnose_file

StateDict = Dict[str, Tensor]


class MiTWeightsError(ValueError):
    """A weight file that cannot be loaded into a MiT; the message names the file and keys."""


# ----------------------------------------------------------------------------- reading
def read_state_dict(path: str, allow_pickle: bool = False) -> StateDict:
    """The tensor dict stored in a ``.pth``/``.bin``/``.safetensors`` file.

    Unwraps ``{'state_dict': ...}`` and ``{'model': ...}`` containers.

    Args:
        path (str): the file.
        allow_pickle (bool): load with ``weights_only=False`` (arbitrary pickled objects:
            only for files you trust, e.g. your own training checkpoints). Default: False.

    Returns:
        dict[str, Tensor]: the state dict.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f"MiT weight file not found: {path!r}")
    if osp.getsize(path) == 0:
        raise MiTWeightsError(f"cannot read weight file {path!r}: {diagnose_file(path)}")
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        try:
            return dict(load_file(path, device="cpu"))
        except Exception as exc:  # SafetensorError on truncated / foreign files
            raise MiTWeightsError(f"cannot read weight file {path!r}: not a complete "
                                  f"safetensors file ({exc})") from exc
    try:
        obj = torch.load(path, map_location="cpu", weights_only=not allow_pickle)
    except Exception as exc:  # UnpicklingError, EOFError, RuntimeError on corrupt files
        reason = diagnose_file(path, exc)
        hint = ""
        if not allow_pickle and reason.startswith("it pickles Python objects"):
            hint = (" If it is a training checkpoint you trust, convert it with "
                    "tools/convert_weights.py --allow-pickle.")
        raise MiTWeightsError(f"cannot read weight file {path!r}: {reason}.{hint}") from exc
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise MiTWeightsError(f"{path!r} does not hold a state dict of tensors "
                              f"(found {type(obj).__name__})")
    return dict(obj)


# ----------------------------------------------------------------------------- layouts
def _strip(key: str, prefixes: Iterable[str]) -> str:
    for prefix in prefixes:
        if key.startswith(prefix):
            return key[len(prefix):]
    return key


Rule = Tuple[str, Callable[[Match], Tuple[str, Optional[str]]]]


def _apply_rules(state_dict: StateDict, rules: List[Rule], drop: Tuple[str, ...],
                 strip: Tuple[str, ...] = ()) -> StateDict:
    """Rename keys by the first matching regex; merge q/k/v parts into ``in_proj``.

    A rule maps a match to ``(new_key, part)``; ``part`` is None for tensors copied as they
    are, ``'linear'`` for Linear weights that become 1x1 convolutions, or one of ``'q'``,
    ``'k'``, ``'v'``, ``'kv'`` for pieces of the attention input projection, which are
    concatenated in q, k, v order into ``new_key``. Unmatched keys, and the pieces of an
    incomplete q/k/v set, are kept under their own names (a strict load reports them).
    """
    out: StateDict = OrderedDict()
    parts: Dict[str, Dict[str, Tuple[str, Tensor]]] = {}
    for key, value in state_dict.items():
        name = _strip(key, strip)
        if name.startswith(drop):
            continue
        for pattern, rename in rules:
            match = re.fullmatch(pattern, name)
            if match:
                new_key, part = rename(match)
                if part is None:
                    out[new_key] = value
                elif part == "linear":
                    out[new_key] = value.reshape(*value.shape, 1, 1) if value.dim() == 2 \
                        else value
                else:
                    parts.setdefault(new_key, {})[part] = (key, value)
                break
        else:
            out[key] = value
    for new_key, pieces in parts.items():
        order = ("q", "kv") if "kv" in pieces else ("q", "k", "v")
        if set(pieces) == set(order):
            out[new_key] = torch.cat([pieces[p][1] for p in order])
        else:  # in_proj stays missing; the pieces found are reported as unexpected
            out.update(pieces.values())
    return out


def convert_segformer(state_dict: StateDict) -> StateDict:
    """Original SegFormer (NVlabs) MiT keys -> mmseg ``MixVisionTransformer`` keys."""
    def stage(m):
        return int(m[1]) - 1
    rules: List[Rule] = [
        (r"patch_embed(\d)\.proj\.(weight|bias)",
         lambda m: (f"layers.{stage(m)}.0.projection.{m[2]}", None)),
        (r"patch_embed(\d)\.norm\.(weight|bias)",
         lambda m: (f"layers.{stage(m)}.0.norm.{m[2]}", None)),
        (r"block(\d)\.(\d+)\.attn\.(q|kv)\.(weight|bias)",
         lambda m: (f"layers.{stage(m)}.1.{m[2]}.attn.attn.in_proj_{m[4]}", m[3])),
        (r"block(\d)\.(\d+)\.attn\.proj\.(weight|bias)",
         lambda m: (f"layers.{stage(m)}.1.{m[2]}.attn.attn.out_proj.{m[3]}", None)),
        (r"block(\d)\.(\d+)\.attn\.(sr|norm)\.(weight|bias)",
         lambda m: (f"layers.{stage(m)}.1.{m[2]}.attn.{m[3]}.{m[4]}", None)),
        (r"block(\d)\.(\d+)\.(norm1|norm2)\.(weight|bias)",
         lambda m: (f"layers.{stage(m)}.1.{m[2]}.{m[3]}.{m[4]}", None)),
        (r"block(\d)\.(\d+)\.mlp\.(fc1|dwconv\.dwconv|fc2)\.(weight|bias)",
         lambda m: (f"layers.{stage(m)}.1.{m[2]}.ffn.layers."
                    f"{ {'fc1': 0, 'dwconv.dwconv': 1, 'fc2': 4}[m[3]] }.{m[4]}",
                    None if m[3] == "dwconv.dwconv" else "linear")),
        (r"norm(\d)\.(weight|bias)", lambda m: (f"layers.{stage(m)}.2.{m[2]}", None)),
    ]
    return _apply_rules(state_dict, rules, drop=("head.",))


def convert_huggingface(state_dict: StateDict) -> StateDict:
    """HuggingFace ``nvidia/mit-b*`` (``SegformerModel``/``...ForImageClassification``) keys
    -> mmseg ``MixVisionTransformer`` keys."""
    rules: List[Rule] = [
        (r"encoder\.patch_embeddings\.(\d)\.proj\.(weight|bias)",
         lambda m: (f"layers.{m[1]}.0.projection.{m[2]}", None)),
        (r"encoder\.patch_embeddings\.(\d)\.layer_norm\.(weight|bias)",
         lambda m: (f"layers.{m[1]}.0.norm.{m[2]}", None)),
        (r"encoder\.block\.(\d)\.(\d+)\.attention\.self\.(query|key|value)\.(weight|bias)",
         lambda m: (f"layers.{m[1]}.1.{m[2]}.attn.attn.in_proj_{m[4]}", m[3][0])),
        (r"encoder\.block\.(\d)\.(\d+)\.attention\.output\.dense\.(weight|bias)",
         lambda m: (f"layers.{m[1]}.1.{m[2]}.attn.attn.out_proj.{m[3]}", None)),
        (r"encoder\.block\.(\d)\.(\d+)\.attention\.self\.(sr|layer_norm)\.(weight|bias)",
         lambda m: (f"layers.{m[1]}.1.{m[2]}.attn."
                    f"{ {'sr': 'sr', 'layer_norm': 'norm'}[m[3]] }.{m[4]}", None)),
        (r"encoder\.block\.(\d)\.(\d+)\.layer_norm_(1|2)\.(weight|bias)",
         lambda m: (f"layers.{m[1]}.1.{m[2]}.norm{m[3]}.{m[4]}", None)),
        (r"encoder\.block\.(\d)\.(\d+)\.mlp\.(dense1|dwconv\.dwconv|dense2)\.(weight|bias)",
         lambda m: (f"layers.{m[1]}.1.{m[2]}.ffn.layers."
                    f"{ {'dense1': 0, 'dwconv.dwconv': 1, 'dense2': 4}[m[3]] }.{m[4]}",
                    None if m[3] == "dwconv.dwconv" else "linear")),
        (r"encoder\.layer_norm\.(\d)\.(weight|bias)", lambda m: (f"layers.{m[1]}.2.{m[2]}", None)),
    ]
    return _apply_rules(state_dict, rules, drop=("classifier.", "decode_head."),
                        strip=("segformer.",))


def convert_mmseg(state_dict: StateDict) -> StateDict:
    """mmseg ``MixVisionTransformer`` keys (bare, or ``backbone.*`` of a segmentor) -> bare."""
    if not any(k.startswith("backbone.") for k in state_dict):
        return OrderedDict(state_dict)
    return OrderedDict((k[len("backbone."):], v) for k, v in state_dict.items()
                       if k.startswith("backbone."))


CONVERTERS: Dict[str, Callable[[StateDict], StateDict]] = {
    "segformer": convert_segformer,
    "huggingface": convert_huggingface,
    "mmseg": convert_mmseg,
}

# one key every file of the layout has (the first patch embedding's convolution)
_SIGNATURES = {
    "segformer": re.compile(r"patch_embed1\.proj\.weight"),
    "huggingface": re.compile(r"(segformer\.)?encoder\.patch_embeddings\.0\.proj\.weight"),
    "mmseg": re.compile(r"(backbone\.)?layers\.0\.0\.projection\.weight"),
}


def detect_mit_layout(state_dict: StateDict, source: str = "state dict") -> str:
    """``'segformer'``, ``'huggingface'`` or ``'mmseg'``; raises naming sample keys otherwise."""
    found = [name for name, sig in _SIGNATURES.items()
             if any(sig.fullmatch(k) for k in state_dict)]
    if len(found) == 1:
        return found[0]
    sample = sorted(state_dict)[:8]
    what = "several layouts at once" if found else "no known MiT layout"
    raise MiTWeightsError(
        f"{source}: {what} ({found or 'none of segformer/huggingface/mmseg'}); expected a key "
        f"like 'patch_embed1.proj.weight' (SegFormer), "
        f"'segformer.encoder.patch_embeddings.0.proj.weight' (HuggingFace) or "
        f"'layers.0.0.projection.weight' (mmseg). First keys: {sample}")


def convert_mit_state_dict(state_dict: StateDict,
                           source: str = "state dict") -> Tuple[StateDict, str]:
    """Convert a MiT state dict of any supported layout to mmseg's; returns (dict, layout)."""
    layout = detect_mit_layout(state_dict, source)
    return CONVERTERS[layout](state_dict), layout


# ----------------------------------------------------------------------------- sizes
# (embed_dims of stage 1, blocks per stage) of the published MiT sizes
MIT_SIZES: Dict[str, Tuple[int, List[int]]] = {
    "mit_b0": (32, [2, 2, 2, 2]),
    "mit_b1": (64, [2, 2, 2, 2]),
    "mit_b2": (64, [3, 4, 6, 3]),
    "mit_b3": (64, [3, 4, 18, 3]),
    "mit_b4": (64, [3, 8, 27, 3]),
    "mit_b5": (64, [3, 6, 40, 3]),
}


def infer_architecture(state_dict: StateDict) -> Tuple[int, List[int]]:
    """(embed_dims, blocks per stage) of an mmseg-layout MiT state dict."""
    key = "layers.0.0.projection.weight"
    if key not in state_dict:
        raise MiTWeightsError(f"no {key!r} after conversion: not a MiT encoder")
    blocks: List[set] = [set() for _ in range(4)]
    for name in state_dict:
        match = re.match(r"layers\.(\d)\.1\.(\d+)\.", name)
        if match and int(match[1]) < 4:
            blocks[int(match[1])].add(int(match[2]))
    return int(state_dict[key].shape[0]), [len(b) for b in blocks]


def architecture_name(embed_dims: int, num_layers: Sequence[int]) -> str:
    """``'mit_b0'``...``'mit_b5'``, or a description of another size."""
    return next((name for name, arch in MIT_SIZES.items()
                 if arch == (embed_dims, list(num_layers))),
                f"mit(embed_dims={embed_dims}, num_layers={list(num_layers)})")


def architecture_mismatch(module: torch.nn.Module, state_dict: StateDict) -> Optional[str]:
    """One sentence naming both MiT sizes when a file holds another size than ``module``."""
    try:
        file_arch = infer_architecture(state_dict)
    except MiTWeightsError:
        return None
    dims, layers = getattr(module, "embed_dims", None), getattr(module, "num_layers", None)
    if dims is None or layers is None or file_arch == (dims, list(layers)):
        return None
    return (f"the file holds a {architecture_name(*file_arch)} encoder but the config's "
            f"backbone is a {architecture_name(dims, layers)}: use the weights of the "
            "config's MiT size (or the config of the file's)")


def save_mit_weights(state_dict: StateDict, path: str, meta: Optional[dict] = None,
                     source: str = "state dict", layout: str = "mmseg") -> str:
    """Check an mmseg-layout MiT state dict against a MiT of its size and save it.

    The file holds ``{'meta': {...}, 'state_dict': {...}}`` and loads with
    ``torch.load(weights_only=True)`` (so ``init_cfg=dict(type='MiTPretrained', ...)`` reads
    it without ``allow_pickle``).

    Args:
        state_dict (dict): mmseg-layout MiT weights (bare ``layers.*`` keys).
        path (str): output file (its folder is created).
        meta (dict, optional): plain values (str, int, float, lists) stored with the weights;
            ``architecture``, ``embed_dims`` and ``num_layers`` are added.
        source (str): what the weights come from, for error messages. Default: 'state dict'.
        layout (str): their original layout, for error messages. Default: 'mmseg'.

    Returns:
        str: the architecture name (``'mit_b0'``...).
    """
    from mmseg.models.backbones import MixVisionTransformer  # late: needs the compat fixes

    embed_dims, num_layers = infer_architecture(state_dict)
    check_against(MixVisionTransformer(embed_dims=embed_dims, num_layers=num_layers,
                                       num_heads=[1, 2, 5, 8]), state_dict, source, layout)
    name = architecture_name(embed_dims, num_layers)
    meta = dict(meta or {}, architecture=name, embed_dims=embed_dims, num_layers=num_layers)
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp"
    torch.save(dict(meta=meta, state_dict={k: v.detach().cpu().contiguous()
                                           for k, v in state_dict.items()}), tmp)
    os.replace(tmp, path)  # never a half-written weight file under the final name
    return name


# ----------------------------------------------------------------------------- loading
def _listing(keys: List[str], limit: int = 10) -> str:
    more = f" ... and {len(keys) - limit} more" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def check_against(module: torch.nn.Module, state_dict: StateDict, source: str,
                  layout: str) -> None:
    """Raise :class:`MiTWeightsError` unless ``state_dict`` matches ``module`` exactly."""
    expected = module.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    shapes = [f"{k}: file {tuple(state_dict[k].shape)} vs model {tuple(v.shape)}"
              for k, v in expected.items() if k in state_dict and state_dict[k].shape != v.shape]
    if not (missing or unexpected or shapes):
        return
    lines = [f"{source} ({layout} layout) does not fit the {type(module).__name__} "
             f"(a wrong MiT size, or not a MiT encoder file):"]
    size_note = architecture_mismatch(module, state_dict)
    if size_note:
        lines.append(f"  {size_note}")
    if missing:
        lines.append(f"  missing keys ({len(missing)}): {_listing(missing)}")
    if unexpected:
        lines.append(f"  unexpected keys ({len(unexpected)}): {_listing(unexpected)}")
    if shapes:
        lines.append(f"  shape mismatches ({len(shapes)}): {_listing(shapes, 5)}")
    raise MiTWeightsError("\n".join(lines))


def load_mit_weights(module: torch.nn.Module, path: str, allow_pickle: bool = False) -> str:
    """Read, convert and strictly load pretrained MiT weights into a MiT backbone.

    Args:
        module (nn.Module): a ``MixVisionTransformer`` (or a subclass with the same keys).
        path (str): weight file of any supported layout.
        allow_pickle (bool): see :func:`read_state_dict`. Default: False.

    Returns:
        str: the layout the file had.

    Raises:
        MiTWeightsError: on missing or unexpected keys or shape mismatches (nothing loaded).
    """
    state_dict, layout = convert_mit_state_dict(read_state_dict(path, allow_pickle), path)
    check_against(module, state_dict, path, layout)
    module.load_state_dict(state_dict, strict=True)
    return layout
