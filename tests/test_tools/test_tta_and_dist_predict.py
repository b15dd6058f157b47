"""tools/test.py --tta (MMSeg's TestTimeAug + DefectTTAModel in the Runner) and
tools/predict.py --tta / --launcher pytorch (two CPU processes, one merged summary)."""

import json
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from helpers import REPO
from mmseg_uda.models.segmentors import DefectTTAModel
from reports_helpers import run_tool, tiny_run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return tiny_run(tmp_path_factory)


def test_defect_tta_model_averages_probabilities():
    torch.manual_seed(0)
    logits = [torch.randn(2, 4, 5) for _ in range(3)]
    views = []
    for lg in logits:
        sample = SegDataSample(metainfo=dict(img_path="a.png"))
        sample.seg_logits = PixelData(data=lg)
        views.append(sample)
    module = torch.nn.Identity()
    module.test_step = lambda data: data  # BaseTTAModel checks that the module has one
    merged = DefectTTAModel(module=module).merge_preds([views])[0]
    mean = torch.stack([lg.softmax(0) for lg in logits]).mean(0)
    torch.testing.assert_close(merged.seg_logits.data.softmax(0), mean)
    assert torch.equal(merged.pred_sem_seg.data, mean.argmax(0, keepdim=True))
    # the merged prediction is not one view's (SegTTAModel kept the last view's seg_logits)
    assert any(not torch.equal(mean.argmax(0), lg.argmax(0)) for lg in logits)
    assert not torch.allclose(merged.seg_logits.data.softmax(0), logits[-1].softmax(0))


def test_test_tool_with_tta(run, tmp_path):
    out = tmp_path / "tta.json"
    res = run_tool("test", [run["config"], run["checkpoint"], "--work-dir", str(tmp_path / "w"),
                            "--tta", "0.75", "1", "--out", str(out), "--cfg-options",
                            *run["model_options"], *run["data_options"]])
    assert res.returncode == 0, res.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["num_images"] == 3 and "mIoU" in report
    bad = run_tool("test", [run["config"], run["checkpoint"], "--work-dir", str(tmp_path / "w2"),
                            "--tta", "0", "--cfg-options", *run["model_options"],
                            *run["data_options"]])
    assert bad.returncode != 0 and "TTA scales must be > 0, got [0.0]" in bad.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_predict_writes_one_merged_summary(run, tmp_path):
    images = osp.join(run["data_root"], "images")
    single = tmp_path / "single"
    res = run_tool("predict", [run["config"], run["checkpoint"], images, "--out", str(single),
                               "--tta", "--no-progress", "--min-area", "2", "--cfg-options",
                               *run["model_options"]])
    assert res.returncode == 0, res.stderr[-3000:]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=REPO, CUDA_VISIBLE_DEVICES="")
    dist = tmp_path / "dist"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
           f"--master_port={_free_port()}", osp.join(REPO, "tools", "predict.py"),
           run["config"], run["checkpoint"], images, "--out", str(dist), "--tta",
           "--no-progress", "--min-area", "2", "--launcher", "pytorch", "--cfg-options",
           *run["model_options"]]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert proc.stdout.count("9 predicted") == 1  # rank 0 reports once, for all images
    one = json.loads((single / "predictions.json").read_text())
    two = json.loads((dist / "predictions.json").read_text())
    assert two["distributed"]["world_size"] == 2 and two["summary"] == one["summary"]
    assert two["inference"]["tta"] == dict(flips=["none", "horizontal"], scales=[1.0])
    assert [e["image"] for e in two["images"]] == [e["image"] for e in one["images"]]
    for a, b in zip(two["images"], one["images"]):
        assert (a["verdict"], a["regions"], a["outputs"]) == (b["verdict"], b["regions"],
                                                             b["outputs"])
    assert sorted(os.listdir(dist / "masks")) == sorted(os.listdir(single / "masks"))
    assert len((dist / "verdicts.csv").read_text().splitlines()) == 1 + 9
