"""tools/convert_weights.py on generated MiT files."""

import sys

import pytest
import torch
from safetensors.torch import save_file

from helpers import REPO

sys.path.insert(0, REPO)

from test_models.test_mit_weights import (  # noqa: E402
    segformer_to_huggingface,
    tiny_mit,
    to_segformer,
)

from mmseg_uda.models.weights import load_mit_weights  # noqa: E402
from tools import convert_weights  # noqa: E402


def test_converts_huggingface_file_to_a_weights_only_mmseg_file(tmp_path, capsys):
    source = tiny_mit(embed_dims=32, num_layers=[2, 2, 2, 2])  # MiT-b0's shape
    hf = segformer_to_huggingface(to_segformer(source.state_dict()))
    src = str(tmp_path / "model.safetensors")
    save_file({k: v.contiguous() for k, v in hf.items()}, src)
    dst = str(tmp_path / "out" / "mit_b0.pth")
    convert_weights.main([src, dst])
    assert "huggingface layout, mit_b0" in capsys.readouterr().out
    saved = torch.load(dst, weights_only=True)
    assert set(saved) == {"meta", "state_dict"}
    assert saved["meta"]["source_layout"] == "huggingface"
    assert saved["meta"]["architecture"] == "mit_b0"
    for key, value in source.state_dict().items():
        torch.testing.assert_close(saved["state_dict"][key], value, rtol=0, atol=0)
    target = tiny_mit(seed=3, embed_dims=32, num_layers=[2, 2, 2, 2])
    assert load_mit_weights(target, dst) == "mmseg"

    with pytest.raises(SystemExit, match="refusing to overwrite"):
        convert_weights.main([src, dst])


def test_refuses_an_incomplete_file_without_writing(tmp_path):
    sd = to_segformer(tiny_mit().state_dict())
    del sd["block2.0.attn.kv.weight"]
    src = str(tmp_path / "broken.pth")
    torch.save(sd, src)
    dst = tmp_path / "out.pth"
    with pytest.raises(SystemExit, match=r"missing keys .*layers\.1\.1\.0\.attn\.attn\."
                                         r"in_proj_weight.*\n.*unexpected keys .*block2\.0"):
        convert_weights.main([src, str(dst)])
    assert not dst.exists()
