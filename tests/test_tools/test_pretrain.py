"""tools/pretrain.py (real Runner, tiny MiT) and the pretraining stage of the benchmark."""

import glob
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from helpers import REPO, cfg_options, write_dataset

sys.path.insert(0, osp.join(REPO, "tools"))
import benchmark_adaptation as ba  # noqa: E402

CONFIG = osp.join(REPO, "configs", "pretrain", "simmim_mit-b0_cpu.py")
TINY = {
    "model.backbone.embed_dims": 8, "model.backbone.num_layers": [1, 1, 1, 1],
    "model.data_preprocessor.size": [64, 64],
    "train_dataloader.dataset.pipeline.2.crop_size": 64,
    "train_dataloader.batch_size": 2, "train_dataloader.num_workers": 0,
    "train_dataloader.persistent_workers": False,
    "param_scheduler.0.end": 2, "param_scheduler.1.begin": 2,
    "default_hooks.logger.interval": 1, "default_hooks.checkpoint.interval": 2,
    "train_cfg.max_iters": 4,
}


VICREG = osp.join(REPO, "configs", "pretrain", "vicreg_mit-b0_cpu.py")
TINY_VICREG = dict(TINY, **{
    "model.data_preprocessor.size": [64, 128], "model.expander_channels": 16,
    "train_dataloader.dataset.pipeline.1.crop_size": 64,
})
del TINY_VICREG["train_dataloader.dataset.pipeline.2.crop_size"]


def pretrain(*args, target, check=True, config=CONFIG):
    env = dict(os.environ, TARGET_ROOT=target, PYTHONWARNINGS="ignore")
    proc = subprocess.run([sys.executable, osp.join(REPO, "tools", "pretrain.py"), config,
                           *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"pretrain.py failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def logged_iters(log_dir):
    with open(osp.join(log_dir, "vis_data", "scalars.json")) as f:
        return [json.loads(line)["iter"] for line in f if '"loss_mim"' in line]


def adam_steps(ckpt):
    state = torch.load(ckpt, weights_only=False)["optimizer"]["state"]
    return {int(s["step"]) for s in state.values()}


@pytest.mark.slow
def test_pretrain_exports_backbone_and_resumes(tmp_path):
    target = write_dataset(str(tmp_path / "photos"), num=6, with_masks=False)  # 4 in train.txt
    work = str(tmp_path / "run")
    opts = ["--cfg-options", *cfg_options(TINY, tiny=False)]
    pretrain("--work-dir", work, *opts, target=target)
    saved = torch.load(osp.join(work, "backbone.pth"), weights_only=True)
    assert saved["meta"]["iterations"] == 4
    assert set(saved["meta"]) >= {"architecture", "embed_dims", "num_layers", "config"}
    assert all(k.startswith("layers.") for k in saved["state_dict"])
    final = torch.load(osp.join(work, "iter_4.pth"), weights_only=False)["state_dict"]
    for key, value in saved["state_dict"].items():
        torch.testing.assert_close(value, final[f"backbone.{key}"], rtol=0, atol=0)
    assert adam_steps(osp.join(work, "iter_4.pth")) == {4}

    # --export-from an intermediate checkpoint
    mid = str(tmp_path / "mid.pth")
    proc = pretrain("--work-dir", work, "--export-from", osp.join(work, "iter_2.pth"),
                    "--out", mid, *opts, target=target)
    assert "mit(embed_dims=8" in proc.stdout
    ckpt2 = torch.load(osp.join(work, "iter_2.pth"), weights_only=False)["state_dict"]
    exported = torch.load(mid, weights_only=True)["state_dict"]
    assert exported.keys() == saved["state_dict"].keys()
    for key, value in exported.items():
        torch.testing.assert_close(value, ckpt2[f"backbone.{key}"], rtol=0, atol=0)

    # interrupted after iteration 2: --resume continues at iteration 3 with the optimizer
    os.remove(osp.join(work, "iter_4.pth"))
    os.remove(osp.join(work, "backbone.pth"))
    with open(osp.join(work, "last_checkpoint"), "w") as f:
        f.write(osp.join(work, "iter_2.pth"))
    before = set(glob.glob(osp.join(work, "2*")))
    refused = pretrain("--work-dir", work, *opts, target=target, check=False)
    assert refused.returncode == 1 and "Pass --resume" in refused.stderr
    pretrain("--work-dir", work, "--resume", *opts, target=target)
    (resumed_logs,) = set(glob.glob(osp.join(work, "2*"))) - before  # the new run's logs
    assert logged_iters(resumed_logs) == [3, 4]  # iterations 1-2 were not trained again
    # AdamW's step counts continue from the checkpoint's 2 (a fresh optimizer would be at 2)
    assert adam_steps(osp.join(work, "iter_4.pth")) == {4}
    assert osp.isfile(osp.join(work, "backbone.pth"))


def test_dense_vicreg_config_pretrains_and_exports_with_the_runner(tmp_path):
    """The second objective through the same tool: two-view pipeline, real Runner, a
    backbone file that loads strictly into the segmentors' MiT and says what made it."""
    from mmseg_uda.models.weights import load_mit_weights

    target = write_dataset(str(tmp_path / "photos"), num=6, with_masks=False)
    work = str(tmp_path / "run")
    proc = pretrain("--work-dir", work, "--cfg-options", *cfg_options(TINY_VICREG, tiny=False),
                    target=target, config=VICREG)
    assert "loss_invariance" in proc.stdout + proc.stderr
    saved = torch.load(osp.join(work, "backbone.pth"), weights_only=True)
    assert saved["meta"]["objective"].startswith("dense VICReg")
    assert saved["meta"]["iterations"] == 4
    final = torch.load(osp.join(work, "iter_4.pth"), weights_only=False)["state_dict"]
    assert any(k.startswith("expander.") for k in final)  # trained, but not exported
    assert all(k.startswith("layers.") for k in saved["state_dict"])
    from mmseg.models.backbones import MixVisionTransformer

    mit = MixVisionTransformer(embed_dims=8, num_layers=[1, 1, 1, 1], num_heads=[1, 2, 5, 8])
    load_mit_weights(mit, osp.join(work, "backbone.pth"))  # strict
    for key, value in mit.state_dict().items():
        torch.testing.assert_close(value, final[f"backbone.{key}"], rtol=0, atol=0)


def test_pretrain_errors_are_one_line_before_training(tmp_path):
    empty = tmp_path / "empty"
    (empty / "images").mkdir(parents=True)
    opts = ["--cfg-options", *cfg_options(TINY, tiny=False)]
    proc = pretrain("--work-dir", str(tmp_path / "w"), *opts, target=str(empty), check=False)
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert "no images in" in lines[-1] and "Traceback" not in proc.stderr
    assert not glob.glob(str(tmp_path / "w" / "*.pth"))
    proc = pretrain(*opts, target=str(tmp_path / "nowhere"), check=False)
    assert proc.returncode == 1 and "TARGET_ROOT" in proc.stderr.splitlines()[-1]


# ----------------------------------------------------------------------------- benchmark
def test_benchmark_pretraining_is_cached_per_seed(tmp_path, monkeypatch):
    target = write_dataset(str(tmp_path / "target"), num=6, with_masks=False)
    source = write_dataset(str(tmp_path / "source"), num=3, seed=1)
    calls = []

    def fake_run(cmd, env, log_path):
        work = cmd[cmd.index("--work-dir") + 1]
        calls.append(cmd)
        assert env["TARGET_ROOT"] == target
        torch.save({}, osp.join(work, "backbone.pth"))
        return 90.0

    monkeypatch.setattr(ba, "_run", fake_run)
    spec = ba.pretrain_spec(dict(config="configs/pretrain/simmim_mit-b0_cpu.py", iters=50))
    work = str(tmp_path / "bench")
    path, minutes = ba.pretrain_backbone(spec, work, 0, target, source, {})
    assert path == osp.join(work, "pretrain", "seed0", "backbone.pth") and minutes == 1.5
    assert "train_cfg.max_iters=50" in calls[0] and "randomness.seed=0" in calls[0]
    assert not any("extra_roots" in a for a in calls[0])
    assert ba.pretrain_backbone(spec, work, 0, target, source, {})[0] == path
    assert len(calls) == 1  # cached
    ba.pretrain_backbone(spec, work, 1, target, source, {})
    assert len(calls) == 2  # another seed: its own pretraining
    assert ba.pretrained_minutes(work, [0, 1, 2]) == {0: 1.5, 1: 1.5}
    for name in os.listdir(osp.join(target, "images")):  # a copy: new times, same files
        os.utime(osp.join(target, "images", name), (1e9, 1e9))
    ba.pretrain_backbone(spec, work, 0, target, source, {})
    assert len(calls) == 2
    with open(osp.join(target, "train.txt"), "a") as f:
        f.write("0005\n")  # the photos changed
    ba.pretrain_backbone(spec, work, 0, target, source, {})
    assert len(calls) == 3
    kept = [d for d in os.listdir(osp.join(work, "pretrain")) if d.startswith("seed0.old-")]
    assert len(kept) == 1  # the stale pretraining is moved aside, not deleted
    assert osp.isfile(osp.join(work, "pretrain", kept[0], "backbone.pth"))
    image = osp.join(target, "images", sorted(os.listdir(osp.join(target, "images")))[0])
    with open(image, "ab") as f:
        f.write(b"\0")  # same name, other content
    ba.pretrain_backbone(spec, work, 0, target, source, {})
    assert len(calls) == 4
    both = dict(spec, data="target+source")
    ba.pretrain_backbone(both, work, 0, target, source, {})
    assert len(calls) == 5 and f"train_dataloader.dataset.extra_roots=[{source}]" in calls[-1]
    ba.pretrain_backbone(both, work, 0, target, source, {})
    assert len(calls) == 5
    with pytest.raises(SystemExit, match="needs the benchmark's shared source"):
        ba.pretrain_backbone(both, work, 0, target, None, {})


def test_benchmark_pretrain_spec_and_method_options():
    with pytest.raises(SystemExit, match="pretrain.data must be"):
        ba.pretrain_spec(dict(config="configs/pretrain/simmim_mit-b0_cpu.py", data="source"))
    with pytest.raises(SystemExit, match="config not found"):
        ba.pretrain_spec(dict(config="configs/pretrain/nope.py"))
    with pytest.raises(SystemExit, match="pretrain must be"):
        ba.pretrain_spec(dict(config="configs/pretrain/simmim_mit-b0_cpu.py", epochs=3))
    assert ba.method_spec("m", dict(config="configs/dacs_cracks_cpu.py",
                                    pretrain=True))["pretrain"] is True
    assert ba.method_spec("m", "configs/dacs_cracks_cpu.py")["pretrain"] is False
    assert ba.backbone_init_options("configs/dacs_cracks_cpu.py", "/b.pth") == [
        "model.segmentor.backbone.init_cfg.type=MiTPretrained",
        "model.segmentor.backbone.init_cfg.checkpoint=/b.pth"]
    assert ba.backbone_init_options(
        "configs/segformer/segformer_mit-b0_4x1k_cracks-256_cpu.py", "/b.pth")[0] == \
        "model.backbone.init_cfg.type=MiTPretrained"
    bench = dict(methods=dict(a=dict(config="configs/dacs_cracks_cpu.py", pretrain=True)),
                 seeds=[0], budget=dict(max_iters=10, val_interval=10),
                 target=dict(root=REPO))
    with pytest.raises(SystemExit, match="no pretrain=dict"):
        ba.run_benchmark(bench, "b", "/nonexistent/work")


def test_ssl_benchmark_options_fit_the_method_configs():
    from mmengine.config import Config

    from mmseg_uda.utils import load_config

    bench = Config.fromfile(osp.join(REPO, "configs", "benchmarks", "cracks_cpu_ssl.py"))
    assert ba.pretrain_spec(bench.pretrain)["data"] == "target"
    for name, spec in bench.methods.items():
        spec = ba.method_spec(name, spec)
        assert spec["pretrain"], name
        opts = dict(o.split("=", 1) for o in ba.backbone_init_options(spec["config"], "/b.pth"))
        cfg = load_config(osp.join(REPO, spec["config"]), opts)  # init_cfg=None -> a dict
        assert cfg.model.segmentor.backbone.init_cfg == dict(type="MiTPretrained",
                                                             checkpoint="/b.pth")
