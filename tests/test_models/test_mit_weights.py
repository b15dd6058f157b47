"""The MiT weight loader on generated state dicts in the real key layouts.

A tiny MiT's state dict is written out in the original SegFormer, HuggingFace and mmseg
layouts by the inverse mappings below (written from the published key layouts), converted back
by the loader and compared tensor by tensor. mmseg's own ``mit2mmseg`` converter checks the
inverse SegFormer mapping independently.
"""

import copy
import importlib.util
import os.path as osp

import mmseg
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import HistoryBuffer
from mmseg.models.backbones import MixVisionTransformer
from mmseg.registry import MODELS
from safetensors.torch import save_file

from helpers import REPO
from mmseg_uda.models.backbones import MixVisionTransformerSDPA
from mmseg_uda.models.weights import (
    MiTWeightsError,
    convert_mit_state_dict,
    detect_mit_layout,
    load_mit_weights,
)

TINY = dict(embed_dims=8, num_layers=[1, 2, 1, 1], num_heads=[1, 2, 5, 8])


def tiny_mit(cls=MixVisionTransformer, seed=0, **kw):
    torch.manual_seed(seed)
    model = cls(**{**TINY, **kw})
    model.init_weights()
    return model


def to_segformer(sd):
    """mmseg MiT keys -> original SegFormer keys (q / kv Linear, mlp Linear, 1-based names)."""
    out = {}
    for key, v in sd.items():
        parts = key.split(".")
        stage = int(parts[1])
        if parts[2] == "0":  # patch embedding
            name = {"projection": "proj", "norm": "norm"}[parts[3]]
            out[f"patch_embed{stage + 1}.{name}.{parts[4]}"] = v
        elif parts[2] == "2":  # stage norm
            out[f"norm{stage + 1}.{parts[3]}"] = v
        else:
            block = f"block{stage + 1}.{parts[3]}"
            rest = ".".join(parts[4:])
            if rest.startswith("attn.attn.in_proj_"):
                kind = rest.rsplit("_", 1)[1]
                dims = v.shape[0] // 3
                out[f"{block}.attn.q.{kind}"] = v[:dims]
                out[f"{block}.attn.kv.{kind}"] = v[dims:]
            elif rest.startswith("attn.attn.out_proj."):
                out[f"{block}.attn.proj.{parts[-1]}"] = v
            elif rest.startswith("ffn.layers."):
                idx = parts[6]
                name = {"0": "fc1", "1": "dwconv.dwconv", "4": "fc2"}[idx]
                out[f"{block}.mlp.{name}.{parts[-1]}"] = v.flatten(1) if idx != "1" and \
                    v.dim() == 4 else v
            else:  # norm1, norm2, attn.sr, attn.norm
                out[f"{block}.{rest}"] = v
    # the ImageNet classifier of the published files
    out["head.weight"] = torch.randn(1000, sd["layers.3.2.weight"].shape[0])
    out["head.bias"] = torch.randn(1000)
    return out


def segformer_to_huggingface(sd):
    """Original SegFormer keys -> HuggingFace ``SegformerForImageClassification`` keys,
    following the renaming of transformers' ``convert_segformer_original_to_pytorch``."""
    out = {}
    for key, v in sd.items():
        if key.startswith("head."):
            out[key.replace("head.", "classifier.")] = v
            continue
        name = "segformer.encoder." + key
        for i in range(1, 5):
            name = name.replace(f"patch_embed{i}.", f"patch_embeddings.{i - 1}.")
            name = name.replace(f"encoder.norm{i}.", f"encoder.layer_norm.{i - 1}.")
            name = name.replace(f"block{i}.", f"block.{i - 1}.")
        name = name.replace("norm1", "layer_norm_1").replace("norm2", "layer_norm_2")
        for i in range(4):
            name = name.replace(f"patch_embeddings.{i}.norm", f"patch_embeddings.{i}.layer_norm")
        name = name.replace("attn.q.", "attention.self.query.")
        name = name.replace("attn.proj.", "attention.output.dense.")
        name = name.replace("attn.norm.", "attention.self.layer_norm.")
        name = name.replace("attn.", "attention.self.")
        name = name.replace("mlp.fc1", "mlp.dense1").replace("mlp.fc2", "mlp.dense2")
        if name.endswith(("attention.self.kv.weight", "attention.self.kv.bias")):
            kind = name.rsplit(".", 1)[1]
            half = v.shape[0] // 2
            stem = name[: -len(f"kv.{kind}")]
            out[f"{stem}key.{kind}"] = v[:half]
            out[f"{stem}value.{kind}"] = v[half:]
            continue
        out[name] = v
    return out


def assert_same_weights(model, reference):
    ref = reference.state_dict()
    got = model.state_dict()
    assert set(got) == set(ref)
    for key in ref:
        torch.testing.assert_close(got[key], ref[key], rtol=0, atol=0, msg=key)


def test_inverse_segformer_mapping_agrees_with_mmseg_converter():
    path = osp.join(osp.dirname(mmseg.__file__), ".mim", "tools", "model_converters",
                    "mit2mmseg.py")
    if not osp.isfile(path):
        pytest.skip("mmseg's mit2mmseg converter is not installed")
    spec = importlib.util.spec_from_file_location("mit2mmseg", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sd = tiny_mit().state_dict()
    theirs = module.convert_mit(to_segformer(sd))
    assert set(theirs) == set(sd)
    for key in sd:
        torch.testing.assert_close(theirs[key], sd[key], rtol=0, atol=0)


def test_huggingface_keys_have_the_published_names():
    hf = segformer_to_huggingface(to_segformer(tiny_mit().state_dict()))
    for key in ("segformer.encoder.patch_embeddings.0.proj.weight",
                "segformer.encoder.patch_embeddings.3.layer_norm.bias",
                "segformer.encoder.block.1.1.attention.self.query.weight",
                "segformer.encoder.block.1.1.attention.self.key.bias",
                "segformer.encoder.block.0.0.attention.self.value.weight",
                "segformer.encoder.block.0.0.attention.self.sr.weight",
                "segformer.encoder.block.0.0.attention.self.layer_norm.weight",
                "segformer.encoder.block.2.0.attention.output.dense.weight",
                "segformer.encoder.block.3.0.layer_norm_1.weight",
                "segformer.encoder.block.3.0.layer_norm_2.bias",
                "segformer.encoder.block.3.0.mlp.dense1.weight",
                "segformer.encoder.block.3.0.mlp.dwconv.dwconv.weight",
                "segformer.encoder.block.3.0.mlp.dense2.bias",
                "segformer.encoder.layer_norm.2.weight", "classifier.weight"):
        assert key in hf, key
    assert hf["segformer.encoder.block.3.0.mlp.dense1.weight"].dim() == 2  # Linear


def write_layouts(tmp_path, source):
    """The source model's weights as files of every layout and container."""
    sd = source.state_dict()
    segformer = to_segformer(sd)
    hf = segformer_to_huggingface(segformer)
    files = {}
    files["segformer"] = str(tmp_path / "mit_tiny.pth")
    torch.save(segformer, files["segformer"])
    files["huggingface_safetensors"] = str(tmp_path / "model.safetensors")
    save_file({k: v.contiguous() for k, v in hf.items()}, files["huggingface_safetensors"])
    files["huggingface_bin"] = str(tmp_path / "pytorch_model.bin")
    torch.save({k[len("segformer."):]: v for k, v in hf.items()
                if k.startswith("segformer.")}, files["huggingface_bin"])  # SegformerModel
    files["mmseg"] = str(tmp_path / "mmseg_mit.pth")
    torch.save({"meta": {}, "state_dict": sd}, files["mmseg"])
    files["mmseg_segmentor"] = str(tmp_path / "segmentor.pth")
    full = {f"backbone.{k}": v for k, v in sd.items()}
    full["decode_head.conv_seg.weight"] = torch.randn(2, 4, 1, 1)
    torch.save({"state_dict": full}, files["mmseg_segmentor"])
    return files


@pytest.mark.parametrize("kind,layout", [
    ("segformer", "segformer"),
    ("huggingface_safetensors", "huggingface"),
    ("huggingface_bin", "huggingface"),
    ("mmseg", "mmseg"),
    ("mmseg_segmentor", "mmseg"),
])
def test_every_layout_round_trips_to_identical_weights(tmp_path, kind, layout):
    source = tiny_mit(seed=0)
    files = write_layouts(tmp_path, source)
    for cls in (MixVisionTransformer, MixVisionTransformerSDPA):
        target = tiny_mit(cls, seed=1)
        assert load_mit_weights(target, files[kind]) == layout
        assert_same_weights(target, source)


def test_loaded_backbone_computes_the_same_features(tmp_path):
    source = tiny_mit().eval()
    files = write_layouts(tmp_path, source)
    target = tiny_mit(seed=7).eval()
    load_mit_weights(target, files["huggingface_safetensors"])
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(source(x), target(x)):
            torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_a_wrong_file_is_refused_naming_the_keys(tmp_path):
    source = tiny_mit()
    sd = to_segformer(source.state_dict())
    partial = {k: v for k, v in sd.items() if not k.startswith("block2.1.")}
    path = str(tmp_path / "partial.pth")
    torch.save(partial, path)
    target = tiny_mit(seed=1)
    before = copy.deepcopy(target.state_dict())
    with pytest.raises(MiTWeightsError, match=r"missing keys \(\d+\): .*layers\.1\.1\.1\."):
        load_mit_weights(target, path)
    for key, value in target.state_dict().items():  # nothing was loaded
        torch.testing.assert_close(value, before[key], rtol=0, atol=0)

    bigger = tiny_mit(embed_dims=16).state_dict()  # another MiT size: shapes differ
    path = str(tmp_path / "bigger.pth")
    torch.save(bigger, path)
    with pytest.raises(MiTWeightsError, match=r"shape mismatches .*layers\.0\.0\.projection"):
        load_mit_weights(target, path)

    extra = dict(source.state_dict(), **{"layers.0.1.0.attn.extra": torch.zeros(1)})
    path = str(tmp_path / "extra.pth")
    torch.save(extra, path)
    with pytest.raises(MiTWeightsError, match=r"unexpected keys \(1\): layers\.0\.1\.0\.attn"):
        load_mit_weights(target, path)

    path = str(tmp_path / "resnet.pth")
    torch.save({"conv1.weight": torch.zeros(1), "fc.weight": torch.zeros(1)}, path)
    with pytest.raises(MiTWeightsError, match="no known MiT layout.*conv1.weight"):
        load_mit_weights(target, path)
    with pytest.raises(FileNotFoundError, match="nowhere.pth"):
        load_mit_weights(target, str(tmp_path / "nowhere.pth"))


def test_layout_detection_and_conversion_drop_only_known_heads():
    sd = tiny_mit().state_dict()
    segformer = to_segformer(sd)
    assert detect_mit_layout(segformer) == "segformer"
    converted, layout = convert_mit_state_dict(segformer_to_huggingface(segformer))
    assert layout == "huggingface" and set(converted) == set(sd)
    with pytest.raises(MiTWeightsError, match="several layouts"):
        detect_mit_layout({**segformer, **sd})


def test_pickled_checkpoints_need_explicit_trust(tmp_path):
    path = str(tmp_path / "runner.pth")  # Runner checkpoints pickle mmengine objects
    torch.save({"state_dict": tiny_mit().state_dict(), "message_hub": HistoryBuffer()}, path)
    target = tiny_mit(seed=1)
    with pytest.raises(MiTWeightsError, match="--allow-pickle"):
        load_mit_weights(target, path)
    assert load_mit_weights(target, path, allow_pickle=True) == "mmseg"


def test_init_cfg_loads_strictly_through_init_weights(tmp_path):
    source = tiny_mit()
    files = write_layouts(tmp_path, source)
    cfg = Config.fromfile(f"{REPO}/configs/_base_/models/mit_b0.py").model
    cfg.backbone.update(TINY, init_cfg=dict(type="MiTPretrained", checkpoint=files["segformer"]))
    cfg.decode_head.update(in_channels=[8, 16, 40, 64], channels=16)
    cfg.data_preprocessor = None
    model = MODELS.build(cfg)
    model.init_weights()  # what the Runner calls before training
    assert_same_weights(model.backbone, source)

    cfg.backbone.init_cfg.checkpoint = str(tmp_path / "missing.pth")
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        MODELS.build(cfg).init_weights()
    cfg.backbone.init_cfg = None
    cfg.init_cfg = dict(type="MiTPretrained", checkpoint=files["segformer"])
    with pytest.raises(TypeError, match="model.backbone.init_cfg"):
        MODELS.build(cfg).init_weights()
