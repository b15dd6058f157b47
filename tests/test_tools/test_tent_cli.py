"""tools/tent.py: adapt a tiny trained checkpoint, then evaluate it with tools/test.py."""

import importlib.util
import json
import os.path as osp
import uuid
from pathlib import Path

import pytest
import torch
from test_uda.uda_testing import SOURCE_ONLY_CPU, cli_options, tiny_options, write_uda_data

from helpers import REPO
from mmseg_uda.apis import init_model
from mmseg_uda.models.adaptation import norm_parameter_names


def load_tool(name):
    spec = importlib.util.spec_from_file_location(f"tent_test_tool_{name}",
                                                  osp.join(REPO, "tools", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def unique_names():
    name = f"tent_{uuid.uuid4().hex[:8]}"
    return {"experiment_name": name, "visualizer.name": name}


def test_tent_refuses_bad_inputs(tmp_path):
    tent = load_tool("tent")
    data = write_uda_data(str(tmp_path / "data"))
    ckpt = tmp_path / "model.pth"
    base = [SOURCE_ONLY_CPU, str(ckpt), "--target", data["target"], "--out",
            str(tmp_path / "out.pth")]
    with pytest.raises(SystemExit, match="checkpoint file not found"):
        tent.main(base)
    ckpt.write_bytes(b"")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SystemExit, match="no images"):
        tent.main([SOURCE_ONLY_CPU, str(ckpt), "--target", str(empty), "--out",
                   str(tmp_path / "out.pth")])
    with pytest.raises(SystemExit, match="split file not found"):
        tent.main(base + ["--split", "nope.txt"])
    (tmp_path / "out.pth").write_bytes(b"x")
    with pytest.raises(SystemExit, match="--overwrite"):
        tent.main(base)
    assert tent.target_images(data["target"], "train.txt") == sorted(
        str(p) for p in Path(data["target"], "images").glob("*.png")
        if p.stem in Path(data["target"], "train.txt").read_text().split())


@pytest.mark.slow
def test_tent_adapts_norm_parameters_and_test_loads_the_result(tmp_path, monkeypatch, capsys):
    data = write_uda_data(str(tmp_path / "data"))
    monkeypatch.setenv("SOURCE_ROOT", data["source"])
    monkeypatch.setenv("TARGET_ROOT", data["target"])
    work = str(tmp_path / "work")
    opts = tiny_options(iters=30, config=SOURCE_ONLY_CPU, extra=unique_names())
    load_tool("train").main([SOURCE_ONLY_CPU, "--work-dir", work, "--cfg-options",
                             *cli_options(opts)])
    ckpt = osp.join(work, "iter_30.pth")
    model_opts = {k: v for k, v in opts.items() if k.startswith("model.")}
    out = str(tmp_path / "adapted" / "tent.pth")
    load_tool("tent").main([SOURCE_ONLY_CPU, ckpt, "--target", data["target"], "--split",
                            "train.txt", "--iters", "30", "--lr", "1e-2", "--batch-size", "2",
                            "--crop-size", "64", "--out", out, "--cfg-options",
                            *cli_options(model_opts)])
    log = capsys.readouterr().out
    assert "step 1/30: batch entropy" in log and "step 5/30" in log and ", eta 0:" in log
    before = torch.load(ckpt, map_location="cpu", weights_only=False)["state_dict"]
    adapted = torch.load(out, map_location="cpu", weights_only=False)
    after = adapted["state_dict"]
    assert set(after) == set(before)  # same layout: tools/test.py loads it
    changed = {k for k in after if not torch.equal(after[k], before[k])}
    # only normalisation layers change: affine parameters and BatchNorm statistics
    model = init_model(SOURCE_ONLY_CPU, out, cfg_options=model_opts)
    norm_params = set(norm_parameter_names(model))
    bn_stats = {f"{name}.{buf}" for name, mod in model.named_modules()
                if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm)
                for buf, _ in mod.named_buffers(recurse=False)}
    assert changed and changed <= norm_params | bn_stats, changed - norm_params - bn_stats
    assert any("backbone" in k for k in changed & norm_params)  # LayerNorms of the MiT
    tent_meta = adapted["meta"]["tent"]
    assert tent_meta["entropy_after"] < tent_meta["entropy_before"], tent_meta

    report = str(tmp_path / "report.json")
    test_opts = dict(model_opts, **unique_names())
    test_opts.update({"test_dataloader.num_workers": 0,
                      "test_dataloader.persistent_workers": False})
    load_tool("test").main([SOURCE_ONLY_CPU, out, "--out", report, "--work-dir",
                            str(tmp_path / "test"), "--cfg-options", *cli_options(test_opts)])
    result = json.loads(Path(report).read_text())
    assert result["num_images"] == 2 and "crack" in result["per_class"]
