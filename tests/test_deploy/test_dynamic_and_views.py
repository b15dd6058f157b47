"""Dynamic-size ONNX export, and the runner's tiling and test-time augmentation against the
PyTorch path (tools/predict.py: predict_image with window / stride / tta)."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from deploy_helpers import HRDA, SEGFORMER, SIZE, TINY_HRDA, _images, run_blocked
from helpers import TINY_MODEL
from mmseg_uda.apis import inference_outputs, init_model, predict_files, predict_image
from mmseg_uda.deploy import OnnxSegmentor, Thresholds
from mmseg_uda.deploy.export import ExportError, export_with_parity, traceable_attention
from mmseg_uda.deploy.views import resize_bilinear, tile_boxes, tta_settings
from reports_helpers import load_tool

ATOL = 1e-4  # on probabilities; the export's parity tolerance is 1e-3


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A tiny SegFormer exported with --dynamic and at 64x64, a tiny HRDA at its 64x64 crop."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("dynamic")
    torch.manual_seed(0)
    seg = init_model(SEGFORMER, None, cfg_options=dict(TINY_MODEL))
    hrda = init_model(HRDA, None, cfg_options=dict(TINY_HRDA))
    out = dict(seg=seg, hrda_model=hrda, root=root)
    for name, model, size, dynamic in (("dynamic", seg, SIZE, True),
                                       ("fixed", seg, (64, 64), False),
                                       ("hrda", hrda, (64, 64), False)):
        path = str(root / f"{name}.onnx")
        out[f"{name}_figures"] = export_with_parity(model, path, size, _images(1, size=size),
                                                    dynamic=dynamic)
        out[name] = OnnxSegmentor(path)
    yield out
    torch.set_num_threads(threads)


def _close(mine, ref, attention=False):
    np.testing.assert_allclose(mine["probs"], ref["probs"], atol=ATOL)
    if attention:
        np.testing.assert_allclose(mine["attention"], ref["attention"], atol=ATOL)


def test_dynamic_export_any_size_and_batch(models):
    figures, session = models["dynamic_figures"], models["dynamic"]
    # the parity check itself ran at the trace size and at a second, odd size
    assert figures["failures"] == [] and figures["sizes"] == ["49x121", "64x96"]
    assert session.input_size is None and session.meta["traced_size"] == list(SIZE)
    assert session.meta["parity"]["sizes"] == ["49x121", "64x96"]
    # the PyTorch model is left as it was
    assert not [m for m in models["seg"].modules()
                if isinstance(m, torch.nn.MultiheadAttention) and "forward" in m.__dict__]
    # two more sizes (odd ones), and a batch of two, against PyTorch
    for size in ((97, 130), (40, 200)):
        img = _images(1, seed=7, size=size)[0]
        _close(session.run(img), predict_image(models["seg"], img))
    imgs = _images(2, seed=8, size=(97, 130))
    batch = np.concatenate([session.preprocess(img) for img in imgs])
    probs = session.session.run(None, {"input": batch})[0]
    with torch.no_grad():
        ref = inference_outputs(models["seg"], torch.from_numpy(batch))["logits"].softmax(1)
    assert probs.shape == (2, 2, 97, 130)
    np.testing.assert_allclose(probs, ref.numpy(), atol=ATOL)


def test_traceable_attention_is_torch_attention():
    torch.manual_seed(0)
    for batch_first in (False, True):
        mha = torch.nn.MultiheadAttention(16, 2, batch_first=batch_first).eval()
        owner = torch.nn.Sequential(mha)
        q, kv = torch.randn(7, 3, 16), torch.randn(5, 3, 16)  # key length != query length
        if batch_first:
            q, kv = q.transpose(0, 1), kv.transpose(0, 1)
        with torch.no_grad():
            ref = mha(q, kv, kv)[0]
            with traceable_attention(owner) as num:
                mine = mha(q, kv, kv)[0]
                with pytest.raises(ExportError, match="attention masks are not supported"):
                    mha(q, kv, kv, attn_mask=torch.zeros(7, 5))
        assert num == 1 and "forward" not in mha.__dict__  # restored
        torch.testing.assert_close(mine, ref, atol=1e-6, rtol=1e-5)
    with pytest.raises(ExportError, match="bias_k / bias_v"), \
            traceable_attention(torch.nn.MultiheadAttention(16, 2, add_bias_kv=True)):
        pass


def test_resize_bilinear_is_torch_interpolate():
    x = np.random.default_rng(0).normal(size=(2, 3, 13, 22)).astype(np.float32)
    t = torch.from_numpy(x)
    for kwargs in (dict(size=(29, 9)), dict(size=(13, 22)), dict(scale=0.75),
                   dict(scale=1.37), dict(scale=0.5)):
        torch_kwargs = {"size" if k == "size" else "scale_factor": v for k, v in kwargs.items()}
        ref = F.interpolate(t, mode="bilinear", align_corners=False, **torch_kwargs).numpy()
        got = resize_bilinear(x, **kwargs)
        assert got.shape == ref.shape, kwargs
        np.testing.assert_allclose(got, ref, atol=1e-5, err_msg=str(kwargs))


def test_tile_boxes_layout():
    # MMSeg's slide layout: the last window ends at the border; a smaller image gets one
    assert tile_boxes((64, 97), (64, 64), (32, 32)) == [(0, 64, 0, 64), (0, 64, 32, 96),
                                                         (0, 64, 33, 97)]
    assert tile_boxes((40, 50), (64, 64), (32, 32)) == [(0, 40, 0, 50)]
    with pytest.raises(ValueError, match="1 <= stride <= window"):
        tile_boxes((64, 64), (32, 32), (40, 40))


@pytest.mark.parametrize("scales", [None, (0.75, 1.0, 1.5)], ids=["flip", "flip+scales"])
def test_runner_tta_equals_pytorch_tta(models, scales):
    tta = tta_settings(scales)
    img = _images(1, seed=4, size=(97, 130))[0]
    _close(models["dynamic"].run(img, tta=tta), predict_image(models["seg"], img, tta=tta))
    # ... and it is not the plain prediction
    assert np.abs(models["dynamic"].run(img)["probs"] -
                  models["dynamic"].run(img, tta=tta)["probs"]).max() > 1e-4


def test_runner_tiling_equals_pytorch_tiling(models):
    img = _images(1, seed=5, size=(97, 130))[0]
    seg = models["seg"]
    # a dynamic model with --window / --stride, with and without TTA (each tile augmented)
    _close(models["dynamic"].run(img, window=48, stride=(20,)),
           predict_image(seg, img, window=48, stride=20))
    tta = tta_settings((0.75, 1.0))
    _close(models["dynamic"].run(img, window=64, tta=tta),
           predict_image(seg, img, window=64, tta=tta))
    # a fixed 64x64 model over a larger image: windows of its size, default step half of it
    assert models["fixed"].tiling(img.shape[:2]) == ((64, 64), (32, 32))
    _close(models["fixed"].run(img), predict_image(seg, img, window=64, stride=32))


def test_hrda_at_its_crop_size_is_its_own_slide_mode(models):
    # HRDA exported at its test_cfg.crop_size: the runner's windows (at the model's stride,
    # from the metadata) reproduce HRDA's own slide mode on larger images, attention included,
    # and with TTA (each flipped view slid, as PyTorch's TTA runs the slide mode per view)
    session, model = models["hrda"], models["hrda_model"]
    assert models["hrda_figures"]["failures"] == []
    assert session.meta["tile_stride"] == [32, 32] and session.input_size == (64, 64)
    for size in ((64, 96), (97, 130)):
        img = _images(1, seed=6, size=size)[0]
        _close(session.run(img), predict_image(model, img), attention=True)
    tta = tta_settings()
    _close(session.run(img, tta=tta), predict_image(model, img, tta=tta), attention=True)


def test_fixed_model_bad_options(models):
    fixed = models["fixed"]
    with pytest.raises(ValueError, match=r"image is 50x130 \(HxW\) but the model was exported "
                       r"for 64x64: it takes that size, or larger images in windows of it; "
                       r"re-export with --input-size 50 130 or --dynamic"):
        fixed.run(_images(1, size=(50, 130))[0])
    with pytest.raises(ValueError, match="--window is for models exported with --dynamic; "
                                         "this model was exported for 64x64"):
        fixed.tiling((64, 96), window=32)
    with pytest.raises(ValueError, match=r"TTA scales \[0.5\] need a model exported with "
                                         r"--dynamic; this one takes 64x64"):
        fixed.tiling((64, 64), tta=tta_settings((0.5, 1)))
    with pytest.raises(ValueError, match=r"tile stride 80x80 must be in \[1, the window 64x64\]"):
        fixed.tiling((64, 64), stride=(80,))
    with pytest.raises(ValueError, match="a stride needs a window"):
        models["dynamic"].tiling((64, 96), stride=(8,))


def test_export_tool_dynamic(models, tmp_path, capsys):
    tool = load_tool("export_onnx")
    ckpt = str(tmp_path / "seg.pth")
    seg = models["seg"]
    torch.save(dict(meta=dict(dataset_meta=seg.dataset_meta), state_dict=seg.state_dict()),
               ckpt)
    import cv2
    folder = tmp_path / "line"
    folder.mkdir()
    for i, size in enumerate([(64, 96), (97, 130)]):  # any size: nothing resized
        cv2.imwrite(str(folder / f"{i}.png"), _images(1, seed=i, size=size)[0])
    opts = [f"{k}={json.dumps(v).replace(' ', '')}" for k, v in TINY_MODEL.items()]
    out = str(tmp_path / "dyn.onnx")
    assert tool.main([SEGFORMER, ckpt, "--out", out, "--dynamic", "--images", str(folder),
                      "--cfg-options", *opts]) == 0
    text = capsys.readouterr()
    assert "(dynamic size, traced at 64x96; sizes 49x121, 64x96, 73x163, 97x130)" in text.out
    assert "resized" not in text.err and OnnxSegmentor(out).input_size is None
    # --dynamic and --input-size together: one clear error, nothing written
    with pytest.raises(SystemExit):
        tool.main([SEGFORMER, ckpt, "--out", str(tmp_path / "x.onnx"), "--dynamic",
                   "--input-size", "64", "96"])
    assert "argument --input-size: not allowed with argument --dynamic" in \
        capsys.readouterr().err
    assert not (tmp_path / "x.onnx").exists()


def test_runner_cli_dynamic_tta_without_torch(models, tmp_path):
    """The runner with torch blocked: a dynamic model on images of two sizes with --tta writes
    the verdicts and masks of tools/predict.py --tta."""
    import cv2
    folder = tmp_path / "line"
    folder.mkdir()
    for i, size in enumerate([(64, 96), (97, 130), (40, 200)]):
        cv2.imwrite(str(folder / f"{i}.png"), _images(1, seed=10 + i, size=size)[0])
    paths = sorted(str(p) for p in folder.iterdir())
    tta = tta_settings((0.75, 1.0))
    ref = predict_files(models["seg"], paths, str(tmp_path / "torch"), progress=False,
                        tta=tta, mask_palette=True, thresholds=Thresholds(
                            pixel_threshold=0.45, min_area=4,
                            source="command line (pixel_threshold, min_area) over defaults"))
    onnx_file = str(models["root"] / "dynamic.onnx")
    proc = run_blocked([onnx_file, str(folder), "--out", str(tmp_path / "onnx"),
                         "--pixel-threshold", "0.45", "--min-area", "4", "--tta", "0.75", "1",
                         "--no-progress"], cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    mine = json.loads((tmp_path / "onnx" / "predictions.json").read_text())
    assert mine["summary"] == ref["summary"] and mine["summary"]["num_images"] == 3
    assert mine["inference"]["tta"] == dict(flips=["none", "horizontal"], scales=[0.75, 1.0])
    assert mine["inference"]["input_size"] is None
    for a, b in zip(mine["images"], ref["images"]):
        assert (a["name"], a["verdict"], a["defect_pixels"], a["height"], a["width"]) == \
            (b["name"], b["verdict"], b["defect_pixels"], b["height"], b["width"])
        # palette masks: tools/predict.py's default and the runner's
        assert (tmp_path / "onnx" / a["outputs"]["mask"]).read_bytes() == \
            (tmp_path / "torch" / b["outputs"]["mask"]).read_bytes()
    # options that do not fit the model: one clear error before any image
    for args, message in (
            ([str(models["root"] / "fixed.onnx"), "--window", "32"],
             "--window is for models exported with --dynamic"),
            ([str(models["root"] / "fixed.onnx"), "--tta", "0.5"],
             "TTA scales [0.5] need a model exported with --dynamic"),
            ([onnx_file, "--window", "32", "--stride", "40"],
             "--stride must be in [1, --window], got [40]"),
            ([onnx_file, "--stride", "1", "2", "3"], "--stride takes 1 or 2 values"),
            ([str(models["root"] / "fixed.onnx"), "--stride", "65", "8"],
             "tile stride 65x8 must be in [1, the window 64x64]")):
        proc = run_blocked([args[0], str(folder), "--out", str(tmp_path / "bad"), *args[1:]],
                            cwd=str(tmp_path))
        assert proc.returncode != 0 and message in proc.stderr, (args, proc.stderr[-2000:])
        assert not (tmp_path / "bad").exists()
