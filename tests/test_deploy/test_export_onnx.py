"""tools/export_onnx.py and mmseg_uda.deploy.export: tiny SegFormer and HRDA, ONNX Runtime parity,
bad checkpoints / sizes, and the metadata the runner reads."""

import json

import numpy as np
import onnx
import pytest
import torch

from deploy_helpers import HRDA, SEGFORMER, SIZE, TINY_HRDA, _images
from helpers import TINY_MODEL
from mmseg_uda.apis import init_model
from mmseg_uda.deploy import METADATA_KEY, OnnxSegmentor
from mmseg_uda.deploy.export import ExportError, export_onnx, export_with_parity
from reports_helpers import load_tool


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _options(opts):
    return [f"{k}={json.dumps(v).replace(' ', '')}" for k, v in opts.items()]


@pytest.mark.parametrize("config,opts,with_attention", [(SEGFORMER, TINY_MODEL, False),
                                                        (HRDA, TINY_HRDA, True)],
                         ids=["segformer", "hrda"])
def test_export_matches_pytorch_in_onnxruntime(tmp_path, config, opts, with_attention):
    torch.manual_seed(0)
    model = init_model(config, None, cfg_options=dict(opts))
    out = str(tmp_path / "m.onnx")
    figures = export_with_parity(model, out, SIZE, _images())
    assert figures["failures"] == [] and figures["num_images"] == 2
    assert figures["max_abs_prob_diff"] < 1e-4 and figures["mask_agreement"] == 1.0
    assert figures["max_abs_input_diff"] == 0.0  # numpy preprocessing == the model's
    session = OnnxSegmentor(out)
    assert session.classes == ["background", "crack"] and session.input_size == SIZE
    assert session.meta["mean"] == [123.675, 116.28, 103.53] and session.meta["bgr_to_rgb"]
    assert session.meta["parity"]["max_abs_prob_diff"] == figures["max_abs_prob_diff"]
    assert ("attention" in session.output_names) == with_attention
    # an image that was not in the parity set: same probabilities as PyTorch
    from mmseg_uda.apis import predict_image
    img = _images(1, seed=5)[0]
    ref = predict_image(model, img)
    mine = session.predict(img)
    np.testing.assert_allclose(mine["probs"], ref["probs"], atol=1e-4)
    assert mine["verdict"] == ref["verdict"] and mine["regions"] == ref["regions"]
    if with_attention:
        np.testing.assert_allclose(mine["attention"], ref["attention"], atol=1e-4)


def test_parity_failure_writes_nothing(tmp_path):
    model = init_model(SEGFORMER, None, cfg_options=dict(TINY_MODEL))
    out = tmp_path / "m.onnx"
    # an impossible tolerance: the check must fail loudly and leave no model behind
    figures = export_with_parity(model, str(out), SIZE, _images(1), max_prob_diff=0.0)
    assert figures["failures"] and "max |Δprob|" in figures["failures"][0]
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_bad_sizes_and_dynamic_are_refused(tmp_path):
    model = init_model(SEGFORMER, None, cfg_options=dict(TINY_MODEL))
    with pytest.raises(ExportError, match="--input-size 16 96: both sides must be >= 32"):
        export_onnx(model, str(tmp_path / "a.onnx"), (16, 96))
    slide = init_model(SEGFORMER, None, cfg_options=dict(
        TINY_MODEL, **{"model.test_cfg": dict(mode="slide", crop_size=(64, 64),
                                              stride=(48, 48))}))
    with pytest.raises(ExportError, match=r"--dynamic is not supported for this model: "
                       r"test_cfg.mode='slide' unrolls .*export it with --input-size 64 64 "
                       r"\(its test_cfg.crop_size\).* stride 48x48"):
        export_onnx(slide, str(tmp_path / "b.onnx"), SIZE, dynamic=True)
    hrda = init_model(HRDA, None, cfg_options=dict(TINY_HRDA))
    with pytest.raises(ExportError, match="HRDA.*sliding detail windows.*--input-size 64 64"):
        export_onnx(hrda, str(tmp_path / "c.onnx"), SIZE, dynamic=True)
    assert not list(tmp_path.iterdir())


def test_export_tool_end_to_end_and_bad_input(tmp_path, capsys):
    tool = load_tool("export_onnx")
    model = init_model(SEGFORMER, None, cfg_options=dict(TINY_MODEL))
    ckpt = str(tmp_path / "seg.pth")
    torch.save(dict(meta=dict(dataset_meta=model.dataset_meta), state_dict=model.state_dict()),
               ckpt)
    (tmp_path / "calibration.json").write_text(json.dumps(dict(pixel_threshold=0.3,
                                                               min_area=5)))
    images = tmp_path / "line"
    images.mkdir()
    import cv2
    for i, img in enumerate(_images(3, size=(40, 60))):  # resized to the export size
        cv2.imwrite(str(images / f"{i}.png"), img)
    out = str(tmp_path / "seg.onnx")
    argv = [SEGFORMER, ckpt, "--out", out, "--input-size", *map(str, SIZE), "--images",
            str(images), "--cfg-options", *_options(TINY_MODEL)]
    assert tool.main(argv) == 0
    text = capsys.readouterr()
    assert "parity on 3 image(s)" in text.out and "mask agreement 1.000000" in text.out
    assert "resized to the export size 64x96" in text.err
    meta = json.loads({p.key: p.value for p in onnx.load(out).metadata_props}[METADATA_KEY])
    assert (meta["pixel_threshold"], meta["min_area"]) == (0.3, 5)
    assert meta["thresholds_source"].endswith("calibration.json")
    with pytest.raises(SystemExit, match="exists; pass --overwrite"):
        tool.main(argv)

    # a checkpoint of another model (HRDA weights for the SegFormer config)
    hrda = init_model(HRDA, None, cfg_options=dict(TINY_HRDA))
    bad = str(tmp_path / "hrda.pth")
    torch.save(dict(meta={}, state_dict=hrda.state_dict()), bad)
    with pytest.raises(SystemExit, match=r"checkpoint '.*hrda.pth' does not fit the model"):
        tool.main([SEGFORMER, bad, "--out", str(tmp_path / "x.onnx"), "--input-size", "64",
                   "96", "--images", str(images), "--cfg-options", *_options(TINY_MODEL)])
    with pytest.raises(SystemExit):
        tool.main([SEGFORMER, ckpt, "--out", str(tmp_path / "y.onnx"), "--input-size", "0",
                   "96"])
    assert "--input-size 0 96: both sides must be >= 32" in capsys.readouterr().err
    assert not (tmp_path / "x.onnx").exists() and not (tmp_path / "y.onnx").exists()


def test_export_tool_help_defaults_are_the_export_modules():
    """tools/export_onnx.py writes the parity tolerances out (its --help imports no stack)."""
    from mmseg_uda.deploy import export

    tool = load_tool("export_onnx")
    args = tool.parse_args(["c.py", "k.pth", "--out", "m.onnx", "--dynamic"])
    assert args.max_prob_diff == export.DEFAULT_MAX_PROB_DIFF
    assert args.min_mask_agreement == export.DEFAULT_MIN_MASK_AGREEMENT
