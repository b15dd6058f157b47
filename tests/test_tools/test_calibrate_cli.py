"""tools/calibrate.py end to end: calibration.json + PR plot, read back by predict."""

import json
import os.path as osp

import pytest

from mmseg_uda.apis import load_calibration
from reports_helpers import load_tool, run_tool, tiny_run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return tiny_run(tmp_path_factory)


def test_calibrate_end_to_end(run, tmp_path):
    out = tmp_path / "cal" / "calibration.json"
    res = run_tool("calibrate", [run["config"], run["checkpoint"], run["data_root"], "--split",
                                 "", "--target-recall", "0.9", "--pixel-threshold", "0.5",
                                 "--tile-size", "32", "--out", str(out),
                                 "--cfg-options", *run["model_options"]])
    assert res.returncode == 0, res.stderr[-3000:]
    cal = json.loads(out.read_text())
    assert cal["num_images"] == 9 and cal["target_recall"] == 0.9
    assert cal["pixel_threshold"] == 0.5 and cal["min_area"] >= 1
    level = cal["image_level"]
    assert level["unit"] == "tile 32x32 px"
    assert level["num_defective"] + level["num_ok"] == 9 * 4
    assert level["TP"] + level["FN"] == level["num_defective"]
    assert level["target_met"] == (level["recall"] >= 0.9)
    assert len(cal["pixel_level"]["curve"]["threshold"]) >= 1
    assert osp.isfile(tmp_path / "cal" / "calibration_pr.png")
    thresholds = load_calibration(str(out))
    assert (thresholds.pixel_threshold, thresholds.min_area) == (0.5, cal["min_area"])


def test_calibrate_refuses_to_overwrite_and_names_bad_data(run, tmp_path):
    calibrate = load_tool("calibrate")
    out = tmp_path / "calibration.json"
    out.write_text("{}")
    base = [run["config"], run["checkpoint"], run["data_root"], "--out", str(out),
            "--cfg-options", *run["model_options"]]
    with pytest.raises(SystemExit, match="exists; pass --overwrite"):
        calibrate.main(base)
    with pytest.raises(SystemExit, match="split file not found: .*nosplit.txt"):
        calibrate.main(base[:3] + ["--split", "nosplit.txt", "--overwrite"] + base[3:])
    with pytest.raises(SystemExit):
        calibrate.main(base + ["--target-recall", "1.5"])


def test_calibrate_warns_when_tuned_on_the_test_split(run, tmp_path, capsys):
    calibrate = load_tool("calibrate")
    assert calibrate.main([run["config"], run["checkpoint"], run["data_root"], "--split",
                           "test.txt", "--out", str(tmp_path / "c.json"), "--no-progress",
                           "--cfg-options", *run["model_options"]]) == 0
    assert "warning: calibrating on test.txt" in capsys.readouterr().err
