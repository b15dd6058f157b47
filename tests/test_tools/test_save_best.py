"""Training keeps the best checkpoint by the defect class's IoU (save_best='defect_IoU')."""

import glob
import math
import os.path as osp

from mmengine.config import Config

from helpers import REPO
from mmseg_uda.engine.hooks.safe_checkpoint_hook import defect_iou
from reports_helpers import tiny_run


def test_defect_iou_is_the_mean_over_defect_classes():
    metrics = {"mIoU": 60.0, "IoU.background": 98.0, "IoU.crack": 22.0, "F1.crack": 36.0}
    assert defect_iou(metrics, ("background", "crack")) == 22.0
    assert defect_iou(metrics) == 22.0  # class order from the IoU.* keys
    three = {"IoU.background": 99.0, "IoU.scratch": 10.0, "IoU.dent": float("nan"),
             "IoU.spot": 30.0}
    assert defect_iou(three, ("background", "scratch", "dent", "spot")) == 20.0
    assert math.isnan(defect_iou({"IoU.background": 99.0, "IoU.crack": float("nan")}))
    assert defect_iou({"mIoU": 50.0, "aAcc": 90.0}) is None  # mmseg's IoUMetric: no class keys


def test_default_runtime_keeps_the_best_defect_iou_checkpoint():
    hooks = Config.fromfile(osp.join(REPO, "configs", "dacs_cracks_cpu.py")).default_hooks
    assert hooks.checkpoint.type == "SafeCheckpointHook"
    assert hooks.checkpoint.save_best == "defect_IoU" and hooks.checkpoint.rule == "greater"
    # the neighbouring CheckpointHook arguments stay settable (not taken for typos of save_best)
    from mmseg_uda.utils import check_cfg_options

    cfg = Config.fromfile(osp.join(REPO, "configs", "dacs_cracks_cpu.py"))
    check_cfg_options(cfg, {"default_hooks.checkpoint.save_last": False,
                            "default_hooks.checkpoint.save_optimizer": False,
                            "default_hooks.checkpoint.save_param_scheduler": False,
                            "default_hooks.checkpoint.out_dir": "/tmp/x",
                            "default_hooks.checkpoint.filename_tmpl": "it_{}.pth",
                            "default_hooks.checkpoint.published_keys": ["meta"]})


def test_training_writes_the_best_checkpoint(tmp_path_factory):
    run = tiny_run(tmp_path_factory)  # 2 iterations, validation at 2 (DefectMetric)
    work_dir = osp.dirname(run["checkpoint"])
    assert [osp.basename(p) for p in glob.glob(osp.join(work_dir, "best_*.pth"))] == \
        ["best_defect_IoU_iter_2.pth"]


def test_a_copied_work_dir_does_not_delete_the_originals_best(tmp_path):
    """After --resume in a copy, the inherited best path points into the original folder."""
    from types import SimpleNamespace

    from mmengine.logging import MessageHub

    from mmseg_uda.engine.hooks import SafeCheckpointHook

    original, copy = tmp_path / "original", tmp_path / "copy"
    original.mkdir()
    copy.mkdir()
    best = original / "best_defect_IoU_iter_4.pth"
    best.write_bytes(b"weights")
    hook = SafeCheckpointHook(interval=1, save_best="defect_IoU", rule="greater")
    hook.out_dir, hook.best_ckpt_path = str(copy), str(best)
    runner = SimpleNamespace(message_hub=MessageHub.get_instance("save_best_copy_test"))
    runner.message_hub.update_info("best_ckpt", str(best))
    hook._forget_foreign_best(runner)
    assert hook.best_ckpt_path is None and runner.message_hub.get_info("best_ckpt") is None
    assert best.read_bytes() == b"weights"
    hook.best_ckpt_path = str(copy / "best_defect_IoU_iter_6.pth")  # its own: tracked
    hook._forget_foreign_best(runner)
    assert hook.best_ckpt_path == str(copy / "best_defect_IoU_iter_6.pth")
