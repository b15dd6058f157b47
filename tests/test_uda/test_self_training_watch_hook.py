"""SelfTrainingWatchHook: one warning when the pseudo-labels carry no weight, one line when
they come back, nothing for source-only runs."""

from types import SimpleNamespace

import pytest
import torch
from mmengine.logging import MessageHub

from mmseg_uda.engine.hooks import SelfTrainingWatchHook
from mmseg_uda.engine.hooks import self_training_watch_hook as module


def _run(weights, monkeypatch, window=10, model=None, name="watch"):
    lines = []
    monkeypatch.setattr(module, "print_log",
                        lambda msg, logger=None, level=None: lines.append((msg, level)))
    hub = MessageHub.get_instance(f"self_training_watch_{name}")
    runner = SimpleNamespace(model=model or torch.nn.Linear(1, 1), iter=0, message_hub=hub)
    hook = SelfTrainingWatchHook(window=window, min_weight=0.01)
    for i, w in enumerate(weights):
        runner.iter = i
        if w is not None:  # what RuntimeInfoHook does with the model's outputs
            hub.update_scalar("train/pseudo.weight", w)
        hook.after_train_iter(runner, i)
    return lines


def test_warns_once_when_the_weight_stays_near_zero_and_says_when_it_recovers(monkeypatch):
    model = SimpleNamespace(pseudo_threshold=0.968, pseudo_weight="batch")
    lines = _run([0.0] * 60 + [0.5] * 20, monkeypatch, model=model, name="low")
    assert len(lines) == 2
    warning, recovered = lines
    assert warning[1] is not None and warning[1] >= 30  # logging.WARNING
    assert "self-training is off: iterations 11-20" in warning[0]  # first check: 2nd window
    assert "pseudo_weight='batch', tau=0.968" in warning[0]
    assert "model.pseudo_weight=class_balanced" in warning[0]
    assert "on again" in recovered[0] and "61-70" in recovered[0]


def test_silent_for_a_working_teacher_an_untrained_start_and_source_only(monkeypatch):
    # the first window is skipped: the teacher starts as the untrained student
    assert _run([0.0] * 10 + [0.8] * 40, monkeypatch, name="ok") == []
    assert _run([None] * 50, monkeypatch, name="source_only") == []


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="window"):
        SelfTrainingWatchHook(window=0)
    with pytest.raises(ValueError, match="min_weight"):
        SelfTrainingWatchHook(min_weight=2)
