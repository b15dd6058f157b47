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


def test_training_writes_the_best_checkpoint(tmp_path_factory):
    run = tiny_run(tmp_path_factory)  # 2 iterations, validation at 2 (DefectMetric)
    work_dir = osp.dirname(run["checkpoint"])
    assert [osp.basename(p) for p in glob.glob(osp.join(work_dir, "best_*.pth"))] == \
        ["best_defect_IoU_iter_2.pth"]
