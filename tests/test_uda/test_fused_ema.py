"""The fused EMA teacher update equals MMEngine's per-parameter loop, also across a resume."""

import copy

import pytest
import torch
import torch.nn as nn
from mmengine.model import MomentumAnnealingEMA

from mmseg_uda.models.uda import FusedMomentumAnnealingEMA, build_ema_teacher


def _student(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 2, 1))


def _train_a_little(student, step):
    """New student values and BN statistics, as a training step would leave them."""
    with torch.no_grad():
        for p in student.parameters():
            p.add_(torch.randn_like(p) * 0.1 * (step + 1))
    student.train()
    student(torch.randn(2, 3, 8, 8))  # updates running_mean/var and num_batches_tracked


def _assert_same_state(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        torch.testing.assert_close(sa[k], sb[k], rtol=0, atol=1e-7, msg=k)


@pytest.mark.parametrize("alpha", [0.6, 0.99])
def test_fused_update_equals_mmengine_loop(alpha):
    student = _student()
    fused = build_ema_teacher(student, alpha)
    stock = MomentumAnnealingEMA(copy.deepcopy(student), momentum=1 - alpha, gamma=1)
    assert isinstance(fused, FusedMomentumAnnealingEMA)
    for step in range(6):
        _train_a_little(student, step)
        fused.update_parameters(student)
        stock.update_parameters(student)
        _assert_same_state(fused, stock)
    assert int(fused.steps) == 6
    # the teacher is really an average, not a copy of the student
    assert not torch.equal(fused.module[0].weight, student[0].weight)
    # buffers are copied from the student
    assert torch.equal(fused.module[1].running_mean, student[1].running_mean)


def test_resume_reads_the_step_counter_again():
    """A loaded state dict replaces ``steps``: the host mirror must not keep the old count."""
    alpha = 0.9
    student = _student()
    first = build_ema_teacher(student, alpha)
    stock = MomentumAnnealingEMA(copy.deepcopy(student), momentum=1 - alpha, gamma=1)
    for step in range(3):
        _train_a_little(student, step)
        first.update_parameters(student)
        stock.update_parameters(student)
    saved = copy.deepcopy(first.state_dict())

    resumed = build_ema_teacher(_student(seed=1), alpha)
    resumed.update_parameters(student)  # a fresh teacher's step 0 (mirror now says 1)
    resumed.load_state_dict(saved)  # ... then a resume to step 3
    assert int(resumed.steps) == 3
    for step in range(3, 5):
        _train_a_little(student, step)
        resumed.update_parameters(student)
        stock.update_parameters(student)
        _assert_same_state(resumed, stock)  # step 3 averages: a copy (step 0) would differ


def test_checkpoints_load_into_either_class():
    student = _student()
    fused = build_ema_teacher(student, 0.99)
    fused.update_parameters(student)
    stock = MomentumAnnealingEMA(_student(seed=2), momentum=0.01, gamma=1)
    stock.load_state_dict(fused.state_dict())
    _assert_same_state(stock, fused)
