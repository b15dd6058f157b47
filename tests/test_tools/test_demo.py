"""The benchmark runner end to end (generated source and target) and the demo's picture."""

import json
import os.path as osp
import sys

import cv2
import pytest
from test_uda.uda_testing import DACS_CPU, SOURCE_ONLY_CPU, cli_options, tiny_options

from helpers import REPO

sys.path.insert(0, osp.join(REPO, "tools"))
import benchmark_adaptation as ba  # noqa: E402
import demo  # noqa: E402

SIZE = 64


def tiny_method(config):
    return dict(config=osp.relpath(config, REPO),
                cfg_options=cli_options(tiny_options(crop=SIZE, iters=2, config=config)))


def test_tent_method_needs_its_base_method():
    with pytest.raises(SystemExit, match="tent must be"):
        ba.method_spec("tent", dict(config="configs/source_only_cracks_cpu.py", tent=dict()))


def test_prediction_sheet_names_a_missing_target_image(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "val.txt").write_text("img_007\n")
    payload = dict(target=str(tmp_path), methods={}, budget=dict(max_iters=1))
    with pytest.raises(SystemExit, match="img_007"):
        demo.prediction_sheet(payload, str(tmp_path), str(tmp_path / "sheet.png"), 1)


@pytest.mark.slow
def test_generated_benchmark_table_curves_and_prediction_sheet(tmp_path):
    bench = dict(
        target=dict(generate=dict(type="crack", num=10, size=SIZE, seed=1, style="field")),
        source=dict(generate=dict(type="crack", num=10, size=SIZE, seed=0, style="lab")),
        seeds=[0], budget=dict(max_iters=2, val_interval=2),
        methods=dict(source_only=tiny_method(SOURCE_ONLY_CPU), dacs=tiny_method(DACS_CPU),
                     tent=dict(tiny_method(SOURCE_ONLY_CPU), tent=dict(
                         after="source_only", args=["--iters", "2", "--crop-size", "32"]))),
        cfg_options=["val_dataloader.dataset.split=val.txt",
                     "test_dataloader.dataset.split=val.txt"])
    work = str(tmp_path / "bench")
    payload = ba.run_benchmark(bench, "tiny", work)
    assert list(payload["methods"]) == ["source_only", "dacs", "tent"]
    assert osp.isfile(osp.join(work, "tent", "seed0", "tent.log"))
    for row in payload["methods"].values():
        assert row["runs"] == 1 and row["IoU"][0] is not None and row["gap_closed"] is None
    with open(osp.join(work, "results.json")) as f:
        assert json.load(f)["budget"]["max_iters"] == 2
    with open(osp.join(work, "results.md")) as f:
        assert "| dacs |" in f.read()
    assert osp.isfile(osp.join(work, "target_iou_curves.png"))
    # Finished runs are reused: the second call trains nothing (the logs stay untouched).
    log = osp.join(work, "dacs", "seed0", "train.log")
    stamp = osp.getmtime(log)
    ba.run_benchmark(bench, "tiny", work)
    assert osp.getmtime(log) == stamp
    # --only-finished: a seed without runs is left out, nothing is trained.
    partial = ba.run_benchmark(bench, "tiny", work, seeds=[0, 1], only_finished=True)
    assert [row["runs"] for row in partial["methods"].values()] == [1, 1, 1]
    assert not osp.isdir(osp.join(work, "dacs", "seed1"))

    sheet = demo.prediction_sheet(payload, work, str(tmp_path / "sheet.png"), num_images=1)
    img = cv2.imread(sheet)
    # One row (the single val image); columns: image, truth, source-only, DACS, Tent.
    assert img.shape[0] == SIZE + 24 and img.shape[1] == 5 * (SIZE + 4)


def test_demo_target_is_the_harsh_field_style_with_learnable_cracks():
    from synthetic import get_style, render_sample
    from synthetic.styles import load_style

    bench = ba._load_benchmark(demo.BENCHMARK).to_dict()
    style = load_style(osp.join(REPO, bench["target"]["generate"]["style"]))
    field = get_style("field")
    # Still the field photos: every imaging effect, distractor kind and material of 'field'.
    assert set(style.materials) == set(field.materials)
    assert set(style.distractors) == set(field.distractors) and style.distractor_count[1] > 0
    for effect in ("illumination", "shadows", "color_cast", "tone", "perspective"):
        assert style.imaging[effect] == field.imaging[effect], effect
    # ...with cracks a model from scratch learns in the demo's budget: wide, dark, no hair-lines.
    crack = style.defects["crack"]
    assert crack["hairline_prob"] == 0.0 and crack["width"][0] >= 2.0
    assert crack["darkness"][0] > field.defects["crack"]["darkness"][0]
    _, mask, _ = render_sample(seed=1, index=0, types=("crack",), size=64, style=style)
    assert mask.shape == (64, 64) and set(mask.ravel().tolist()) <= {0, 1}


def test_runs_of_another_demo_setting_are_removed(tmp_path):
    bench = ba._load_benchmark(demo.BENCHMARK).to_dict()
    work = tmp_path / "demo"
    run = work / "oracle" / "seed0"
    run.mkdir(parents=True)
    (run / "report.json").write_text("{}")
    stamp = work / "target_data" / ".generator_args.json"
    stamp.parent.mkdir()
    stamp.write_text("{}")
    setting = demo.demo_setting(bench)
    assert setting["target_style"]["name"] == "field_demo"
    # Runs without a record (an earlier version of the demo): removed, the target regenerated.
    assert demo.check_setting(str(work), setting)
    assert not run.exists() and not stamp.exists()
    # The same setting keeps its runs; other iterations remove them again.
    run.mkdir(parents=True)
    assert not demo.check_setting(str(work), setting)
    assert run.exists()
    assert demo.check_setting(str(work), demo.demo_setting(bench, iters=50))
    assert not run.exists()


def _row(iou, gap=None):
    return dict(IoU=[iou, 0.0], gap_closed=gap)


def test_summary_line_reads_the_table():
    row = _row
    table = dict(source_only=row(16.0, 0.0), dacs=row(25.0, 0.3), hrda=row(14.0, None),
                 oracle=row(46.0, 1.0))
    assert demo.summary_line(table) == (
        "[demo] crack IoU on the target: source-only 16.0 | DACS 25.0 (+9.0, 30 % of the gap "
        "to the oracle) | HRDA 14.0 (-2.0) | oracle 46.0 (target labels: the ceiling)")
