"""DACS under a real MMEngine Runner: debug panels, resume of the teacher."""

import copy
import glob
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner
from mmseg.registry import MODELS
from test_uda.uda_testing import tiny_uda_config, write_uda_data

from mmseg_uda.engine.hooks.uda_debug_hook import collect_debug_outputs, render_debug_panel
from mmseg_uda.models.segmentors import WeightedEncoderDecoder
from mmseg_uda.models.uda import functional


@MODELS.register_module(force=True)
class AttentionExposingSegmentor(WeightedEncoderDecoder):
    """A segmentor that, like HRDA, keeps an extra map in ``debug_outputs``."""

    def weighted_loss(self, inputs, seg_label, pixel_weight=None, groups=None):
        self.debug_outputs = {"attention": torch.sigmoid(inputs.mean(1)).detach(),
                              "per_class": torch.rand(inputs.shape[0], 2, 8, 8)}
        return super().weighted_loss(inputs, seg_label, pixel_weight, groups)


def test_render_debug_panel_on_constructed_tensors():
    outputs = dict(image=torch.rand(3, 3, 16, 16),
                   label=torch.randint(0, 2, (3, 16, 16)),
                   weight=torch.rand(3, 16, 16),
                   logits=torch.randn(3, 1, 8, 8) * 5,
                   attention=torch.rand(3, 2, 16, 16),
                   scalar=torch.tensor(1.0))
    outputs["label"][0, 0] = 255
    panel = render_debug_panel(outputs, [[0, 0, 0], [255, 0, 0]], max_samples=2)
    assert panel.dtype == np.uint8 and panel.shape[2] == 3
    assert panel.shape[1] == 6 * 16 and panel.shape[0] > 2 * 16  # 6 columns, 2 rows + titles
    assert render_debug_panel({"scalar": torch.tensor(1.0)}) is None


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """Two DACS iterations of a segmentor that exposes extra maps; checkpoint at 2."""
    root = tmp_path_factory.mktemp("dacs_run")
    data = write_uda_data(str(root / "data"))
    cfg = tiny_uda_config(str(root / "run"), data, iters=2)
    cfg.model.segmentor.type = "AttentionExposingSegmentor"
    cfg.train_cfg.val_interval = 100  # no validation in these tests
    runner = Runner.from_cfg(cfg)
    runner.train()
    return dict(runner=runner, data=data, work_dir=str(root / "run"))


def test_debug_hook_writes_panels_with_segmentor_maps(first_run):
    runner = first_run["runner"]
    found = collect_debug_outputs(runner.model)
    assert {"source", "target", "mixed", "source_label", "pseudo_label", "pseudo_weight",
            "mixed_label", "mixed_weight", "student.attention",
            "student.per_class"} <= set(found)
    files = sorted(glob.glob(osp.join(runner.log_dir, "vis_data", "vis_image", "uda_debug_*")))
    assert [osp.basename(f) for f in files] == ["uda_debug_1.png", "uda_debug_2.png"]
    panel = cv2.imread(files[-1])
    # 8 DACS columns + attention + 2 channels of per_class, 64-px tiles, 2 rows
    assert panel.shape[1] == 11 * 64 and panel.shape[0] > 2 * 64


class CaptureHook(Hook):
    """Record the state before and after the first iteration of a resumed run."""

    def __init__(self):
        self.before = self.after = None

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if self.before is None:
            model = runner.model
            self.before = dict(
                iter=runner.iter, steps=model.teacher_steps,
                teacher=[p.detach().clone() for p in model.teacher.module.parameters()],
                student=[p.detach().clone() for p in model.student.parameters()],
                optimizer=copy.deepcopy(runner.optim_wrapper.optimizer.state_dict()))

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if self.after is None:
            self.after = [p.detach().clone()
                          for p in runner.model.teacher.module.parameters()]


def test_resume_restores_teacher_steps_and_does_not_recopy(first_run, tmp_path):
    data = first_run["data"]
    ckpt_path = osp.join(first_run["work_dir"], "iter_2.pth")
    ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=False)
    state = ckpt["state_dict"]
    assert int(state["teacher.steps"]) == 2
    teacher_keys = [k for k in state if k.startswith("teacher.module.")]
    assert teacher_keys and any(not torch.equal(state[k], state["student." + k[15:]])
                                for k in teacher_keys if state[k].is_floating_point())

    cfg2 = tiny_uda_config(str(tmp_path / "resumed"), data, iters=3)
    cfg2.model.segmentor.type = "AttentionExposingSegmentor"
    cfg2.custom_hooks = []
    cfg2.train_cfg.val_interval = 100
    cfg2.resume = True
    cfg2.load_from = ckpt_path
    second = Runner.from_cfg(cfg2)
    capture = CaptureHook()
    second.register_hook(capture)
    second.train()
    before = capture.before
    assert before["iter"] == 2 and before["steps"] == 2
    names = [n for n, _ in second.model.teacher.module.named_parameters()]
    for name, value in zip(names, before["teacher"]):
        assert torch.equal(value, state["teacher.module." + name])  # teacher restored
    for name, value in zip(names, before["student"]):
        assert torch.equal(value, state["student." + name])  # student restored
    saved_opt, restored_opt = ckpt["optimizer"]["state"], before["optimizer"]["state"]
    assert saved_opt.keys() == restored_opt.keys() and saved_opt
    for k in saved_opt:
        assert torch.equal(saved_opt[k]["exp_avg"], restored_opt[k]["exp_avg"])
    # the resumed iteration continues the average (alpha_2 = 2/3), no copy of the student
    a = functional.ema_alpha(2, second.model.alpha)
    for got, t, s in zip(capture.after, before["teacher"], before["student"]):
        torch.testing.assert_close(got, a * t + (1 - a) * s)
    assert second.model.teacher_steps == 3
