import importlib.util
import json
import os
import os.path as osp

import pytest

from helpers import REPO

spec = importlib.util.spec_from_file_location(
    "benchmark_adaptation", osp.join(REPO, "tools", "benchmark_adaptation.py"))
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def run(seed, iou, f1=50.0, seconds=60.0, tol=None):
    return dict(seed=seed, seconds=seconds,
                scores=dict(IoU=iou, F1=f1, precision=1.0, recall=1.0, tolerant_F1=tol, mIoU=iou))


def test_summary_mean_std_and_gap_closed():
    table = bench.summarize({
        "source_only": [run(0, 10.0), run(1, 14.0)],
        "dacs": [run(0, 20.0), run(1, 24.0)],
        "oracle": [run(0, 40.0), run(1, 44.0)],
    })
    assert table["source_only"]["IoU"] == (12.0, pytest.approx(2 ** 0.5 * 2))
    assert table["dacs"]["gap_closed"] == pytest.approx((22 - 12) / (42 - 12))
    assert table["oracle"]["gap_closed"] == pytest.approx(1.0)
    assert table["dacs"]["tolerant_F1"] == (None, None)
    md = bench.markdown_table(table, "crack")
    assert "| dacs | 22.0 ± 2.8 |" in md and "33 %" in md and "n/a" in md


def test_gap_undefined_without_oracle():
    table = bench.summarize({"source_only": [run(0, 10.0)], "dacs": [run(0, 12.0)]})
    assert table["dacs"]["gap_closed"] is None
    assert table["dacs"]["IoU"] == (12.0, 0.0)


def test_defect_scores_reads_the_test_report():
    report = {"mIoU": 60.0, "classes": ["background", "crack"], "per_class": {
        "background": {"IoU": 95.0, "F1": 97.0, "precision": 96.0, "recall": 98.0},
        "crack": {"IoU": 25.0, "F1": 40.0, "precision": 35.0, "recall": 47.0,
                  "tolerant": {"F1": 61.0, "tolerance_px": 2}}}}
    scores = bench.defect_scores(report, "crack")
    assert scores["IoU"] == 25.0 and scores["tolerant_F1"] == 61.0 and scores["mIoU"] == 60.0
    assert scores["tile_false_alarm"] is None  # a report written before tile verdicts
    report["tile_level"] = {"false_alarm_rate": 7.5, "tile_px": 64}
    assert bench.defect_scores(report, "crack")["tile_false_alarm"] == 7.5
    with pytest.raises(KeyError, match="no class 'spot'"):
        bench.defect_scores(report, "spot")


def test_several_defect_classes_score_their_mean_iou_with_a_column_each():
    def report(ious):
        per = {"background": {"IoU": 90.0, "F1": 95.0, "precision": 95.0, "recall": 95.0}}
        for name, iou in ious.items():
            per[name] = {"IoU": iou, "F1": 2 * iou, "precision": iou, "recall": iou}
        return {"mIoU": 50.0, "per_class": per, "tile_level": {"false_alarm_rate": 3.0}}

    classes = ["blowhole", "fray"]
    src = bench.defect_scores(report({"blowhole": 10.0, "fray": 30.0}), classes)
    assert src["IoU"] == 20.0 and src["F1"] == 40.0 and src["mIoU"] == 50.0
    assert src["IoU.blowhole"] == 10.0 and src["IoU.fray"] == 30.0
    assert src["tolerant_F1"] is None and src["tile_false_alarm"] == 3.0
    with pytest.raises(KeyError, match="no class 'crack'"):
        bench.defect_scores(report({"blowhole": 1.0}), ["blowhole", "crack"])
    runs = lambda ious: [dict(seed=0, seconds=60.0,  # noqa: E731
                              scores=bench.defect_scores(report(ious), classes))]
    table = bench.summarize({"source_only": runs({"blowhole": 10.0, "fray": 30.0}),
                             "dacs": runs({"blowhole": 0.0, "fray": 60.0}),
                             "oracle": runs({"blowhole": 40.0, "fray": 60.0})})
    assert table["dacs"]["gap_closed"] == pytest.approx((30 - 20) / (50 - 20))
    md = bench.markdown_table(table, classes).splitlines()
    assert md[0].startswith("| method | defect mIoU (2 classes) | blowhole IoU | fray IoU | F1 |")
    assert len(md[1].split("|")) == len(md[0].split("|"))
    assert md[3].startswith("| dacs | 30.0 ± 0.0 | 0.0 ± 0.0 | 60.0 ± 0.0 | 60.0 ± 0.0 |")


def test_root_aliases_name_the_source_and_target_for_other_configs():
    env = {"SOURCE_ROOT": "/gen", "TARGET_ROOT": "/real"}
    assert bench.root_aliases(None, env) == {}
    assert bench.root_aliases(dict(source=["MT_SOURCE_ROOT"], target=["MT_TARGET_ROOT", "MT_ROOT"]),
                              env) == {"MT_SOURCE_ROOT": "/gen", "MT_TARGET_ROOT": "/real",
                                       "MT_ROOT": "/real"}
    with pytest.raises(SystemExit, match="unknown key"):
        bench.root_aliases(dict(test=["X"]), env)


def test_false_alarm_column():
    runs = [run(0, 10.0), run(1, 14.0)]
    runs[0]["scores"]["tile_false_alarm"] = 4.0
    runs[1]["scores"]["tile_false_alarm"] = 6.0
    table = bench.summarize({"source_only": runs, "dacs": [run(0, 20.0)]})
    assert table["source_only"]["tile_false_alarm"] == (5.0, pytest.approx(2 ** 0.5))
    assert table["dacs"]["tile_false_alarm"] == (None, None)
    md = bench.markdown_table(table, "crack").splitlines()
    assert "false-alarm tiles %" in md[0]
    assert md[2].split(" | ")[5] == "5.0 ± 1.4" and md[3].split(" | ")[5] == "n/a"


def test_val_curve_from_scalars(tmp_path):
    d = tmp_path / "run" / "20260101_000000" / "vis_data"
    d.mkdir(parents=True)
    rows = [{"lr": 0.1, "loss": 1.0, "iter": 1, "step": 1},
            {"IoU.crack": 10.0, "mIoU": 50.0, "step": 100},
            {"IoU.crack": 20.0, "mIoU": 55.0, "step": 200}]
    (d / "scalars.json").write_text("\n".join(json.dumps(r) for r in rows))
    assert bench.val_curve(str(tmp_path / "run"), "IoU.crack") == {100: 10.0, 200: 20.0}
    out = tmp_path / "curves.png"
    bench.plot_curves({"dacs": [{100: 10.0, 200: 20.0}], "empty": [{}]}, str(out), "IoU")
    assert out.stat().st_size > 1000


def test_pseudo_label_weight_column_and_the_footnote_when_self_training_stayed_off(tmp_path):
    d = tmp_path / "run" / "20260101_000000" / "vis_data"
    d.mkdir(parents=True)
    rows = [{"lr": 0.1, "loss": 1.0, "pseudo.weight": 0.0, "step": 1},
            {"lr": 0.1, "loss": 1.0, "pseudo.weight": 0.01, "step": 2},
            {"IoU.crack": 10.0, "pseudo.weight": 0.9, "step": 2}]  # a validation row: not read
    (d / "scalars.json").write_text("\n".join(json.dumps(r) for r in rows))
    assert bench.train_scalar_mean(str(tmp_path / "run"), "pseudo.weight") == pytest.approx(0.005)
    assert bench.train_scalar_mean(str(tmp_path / "run"), "absent") is None
    assert bench.train_scalar_mean(str(tmp_path / "none"), "pseudo.weight") is None

    def with_weight(seed, iou, weight):
        return dict(run(seed, iou), pseudo_weight=weight)

    table = bench.summarize({"source_only": [run(0, 10.0), run(1, 12.0)],
                             "dacs": [with_weight(0, 11.0, 0.004), with_weight(1, 12.0, 0.006)],
                             "dacs_cb": [with_weight(0, 13.0, 0.5), with_weight(1, 14.0, 0.5)]})
    assert table["source_only"]["pseudo_weight"] == (None, None)
    assert table["dacs"]["pseudo_weight"][0] == pytest.approx(0.005)
    md = bench.markdown_table(table, "crack")
    lines = md.splitlines()
    col = lines[0].split(" | ").index("pseudo-label weight")
    assert lines[2].split(" | ")[col] == "—"
    assert lines[3].split(" | ")[col] == "0.01 ± 0.00"
    assert lines[4].split(" | ")[col] == "0.50 ± 0.00"
    assert len(lines[1].split("|")) == len(lines[0].split("|"))
    assert "pseudo-label weight below 0.01 for dacs:" in md and "dacs_cb" not in md.split(
        "pseudo-label weight below")[1]
    fine = bench.summarize({"dacs_cb": [with_weight(0, 13.0, 0.5)]})
    assert "below" not in bench.markdown_table(fine, "crack")


def test_generated_source_is_reused_until_arguments_or_generator_change(tmp_path, monkeypatch):
    out = str(tmp_path / "src")
    gen = dict(type="crack", num=2, size=32, seed=0, style="lab", workers=1)
    assert bench.generate_source(gen, out) == out
    marker = tmp_path / "src" / "marker"
    marker.write_text("kept while the cache is valid")
    bench.generate_source(gen, out)                       # same arguments, same generator
    assert marker.exists()
    import synthetic.version
    monkeypatch.setattr(synthetic.version, "__version__", "0.0.0-other")
    bench.generate_source(gen, out)                       # a newer/older generator: regenerate
    assert not marker.exists()
    kept = [d for d in os.listdir(tmp_path) if d.startswith("src.old-")]
    assert len(kept) == 1 and (tmp_path / kept[0] / "marker").exists()  # moved aside, not lost
    with open(osp.join(out, ".generator_args.json")) as f:
        assert json.load(f)["version"] == "0.0.0-other"
    marker.write_text("x")
    bench.generate_source(dict(gen, seed=1), out)         # other arguments: regenerate
    assert not marker.exists() and osp.isfile(osp.join(out, "train.txt"))
    bench.generate_source(dict(gen, seed=1, style="pavement", enable=["rims"]), out)
    with open(osp.join(out, "meta.json")) as f:
        assert json.load(f)["args"]["enable"] == ["rims"]


def test_an_edited_style_file_regenerates_the_source(tmp_path):
    """The cache follows a style file's content, not its path."""
    style = tmp_path / "style.json"
    style.write_text(json.dumps({"name": "mine", "base": "lab"}))
    out = str(tmp_path / "src")
    gen = dict(type="crack", num=2, size=32, seed=0, style=str(style), workers=1)
    bench.generate_source(gen, out)
    marker = tmp_path / "src" / "marker"
    marker.write_text("kept while the style file is unchanged")
    bench.generate_source(gen, out)
    assert marker.exists()
    style.write_text(json.dumps({"name": "mine", "base": "pavement"}))
    bench.generate_source(gen, out)
    assert not marker.exists()


def test_interrupted_generation_is_redone(tmp_path):
    """The stamp is written last: a folder without it is an interrupted generation of ours."""
    out = tmp_path / "src"
    (out / "images").mkdir(parents=True)
    (out / "images" / "000000.png").write_bytes(b"half-written")
    bench.generate_source(dict(type="crack", num=2, size=32, seed=0, style="lab", workers=1),
                          str(out))
    assert (out / ".generator_args.json").is_file() and (out / "train.txt").is_file()
    assert (out / "images" / "000000.png").read_bytes() != b"half-written"
    kept = [d for d in os.listdir(tmp_path) if d.startswith("src.old-")]
    assert len(kept) == 1
    assert (tmp_path / kept[0] / "images" / "000000.png").read_bytes() == b"half-written"


def test_false_alarm_footnote_names_the_settings_the_reports_used():
    report = {"tile_level": {"tile_px": 32, "min_area_px": 9, "tolerance_px": 2.5}}
    assert bench.tile_settings(report) == (32, 9, 2.5)
    assert bench.tile_settings({}) is None  # a report written before tile verdicts
    table = bench.summarize({"source_only": [run(0, 10.0)]})
    md = bench.markdown_table(table, "crack", [(32, 9, 2.5), (32, 9, 2.5)])
    assert "defect-free 32-pixel tiles" in md and "at least 9 pixels farther than 2.5 px" in md
    mixed = bench.markdown_table(table, "crack", [(32, 9, 2.5), (64, 16, 2.0), None])
    assert "different tile settings" in mixed and "64 px tiles, 16 px regions, 2 px" in mixed
    assert "false-alarm tiles:" not in bench.markdown_table(table, "crack", [None])


def _target(tmp_path, n=3):
    import cv2
    import numpy as np

    root = tmp_path / "target"
    (root / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        img = rng.integers(80, 160, (48, 64, 3)).astype(np.uint8)
        cv2.imwrite(str(root / "images" / f"t{i}.png"), img)
    (root / "train.txt").write_text("t0\nt1\n")
    (root / "test.txt").write_text("t2\n")
    return str(root)


def test_target_aware_source_fits_the_train_photos_and_renders_into_them(tmp_path):
    target = _target(tmp_path)
    out = str(tmp_path / "src")
    gen = dict(type="crack", num=3, size="64x48", seed=0, style="pavement", workers=1,
               fit_style=True, backgrounds="target")
    data = bench.generate_source(gen, out, target)
    assert data == osp.join(out, "data")
    with open(osp.join(out, "fitted_style.json")) as f:
        fit = json.load(f)["fit"]
    assert fit["images"] == ["t0.png", "t1.png"]  # train.txt only, never test.txt
    with open(osp.join(data, "meta.json")) as f:
        meta = json.load(f)
    assert meta["args"]["backgrounds_split"] == "train.txt"
    assert {b["name"] for b in meta["backgrounds"]} == {"t0", "t1"}
    assert meta["style"]["fit"]["images"] == ["t0.png", "t1.png"]
    marker = tmp_path / "src" / "data" / "marker"
    marker.write_text("cached")
    assert bench.generate_source(gen, out, target) == data and marker.exists()


def test_target_aware_keys_are_checked(tmp_path):
    with pytest.raises(SystemExit, match="unknown key"):
        bench.generate_source(dict(num=2, fit_styles=True), str(tmp_path / "a"), "x")
    with pytest.raises(SystemExit, match="need the target"):
        bench.generate_source(dict(num=2, fit_style=True), str(tmp_path / "a"), None)
    specs = {"so": dict(config="configs/source_only_cracks_cpu.py")}
    with pytest.raises(SystemExit, match="no checkpoint"):
        bench._ignore_model(dict(method="so"), specs, str(tmp_path), 0, dict(max_iters=10))
    with pytest.raises(SystemExit, match="method=NAME"):
        bench._ignore_model(dict(method="other"), specs, str(tmp_path), 0, dict(max_iters=10))
    ckpt = tmp_path / "so" / "seed1" / "iter_10.pth"
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(b"x")
    assert bench._ignore_model(dict(method="so"), specs, str(tmp_path), 1,
                               dict(max_iters=10)) == [specs["so"]["config"], str(ckpt)]


def test_only_finished_generates_no_source(tmp_path):
    # A method's own generated source is not made (or made again when stale) by a call that
    # trains nothing: the table reads the finished runs' reports only.
    target = _target(tmp_path)
    bench_cfg = dict(seeds=[0], budget=dict(max_iters=2, val_interval=2),
                     target=dict(root=target),
                     methods=dict(so=dict(config="configs/source_only_cracks_cpu.py",
                                          generate=dict(num=2, size="64x48", fit_style=True))))
    work = tmp_path / "work"
    with pytest.raises(SystemExit, match="no finished run"):
        bench.run_benchmark(bench_cfg, "t", str(work), only_finished=True)
    assert not (work / "sources").exists()
    # ...nor the shared source of the methods without their own.
    bench_cfg["methods"]["so"].pop("generate")
    bench_cfg["source"] = dict(generate=dict(num=2, size="64x48"))
    with pytest.raises(SystemExit, match="no finished run"):
        bench.run_benchmark(bench_cfg, "t", str(work), only_finished=True)
    assert not (work / "source_data").exists()


def test_an_interrupted_run_is_started_again_and_its_folder_kept(tmp_path, monkeypatch):
    target = _target(tmp_path)
    work = tmp_path / "work"
    old = work / "so" / "seed0"
    old.mkdir(parents=True)
    (old / "train.log").write_text("the interrupted attempt")  # no report.json

    class Started(Exception):
        pass

    def fake_run(cmd, env, log_path):
        raise Started(cmd)

    monkeypatch.setattr(bench, "_run", fake_run)
    bench_cfg = dict(seeds=[0], budget=dict(max_iters=2, val_interval=2),
                     target=dict(root=target), source=dict(root=target),
                     methods=dict(so="configs/source_only_cracks_cpu.py"))
    with pytest.raises(Started):
        bench.run_benchmark(bench_cfg, "t", str(work))
    kept = [d for d in os.listdir(work / "so") if d.startswith("seed0.interrupted-")]
    assert len(kept) == 1
    assert (work / "so" / kept[0] / "train.log").read_text() == "the interrupted attempt"
    assert not (work / "so" / "seed0" / "train.log").exists()  # the new attempt starts clean


def test_gap_closed_only_when_the_oracle_is_above_source_only():
    # issue 17: an oracle at 0.0 and DACS below source-only printed "41 %"
    table = bench.summarize({"source_only": [run(0, 4.6)], "dacs": [run(0, 2.7)],
                             "oracle": [run(0, 0.0)]})
    assert all(row["gap_closed"] is None for row in table.values())
    md = bench.markdown_table(table, "crack")
    assert "%  |" not in md and " 41 %" not in md
    assert "oracle (0.0 IoU) is not above source_only (4.6)" in md
    # a method below source-only with a real gap closes a negative fraction, printed as such
    table = bench.summarize({"source_only": [run(0, 10.0)], "dacs": [run(0, 5.0)],
                             "oracle": [run(0, 30.0)]})
    assert table["dacs"]["gap_closed"] == pytest.approx(-0.25)
    md = bench.markdown_table(table, "crack")
    assert "-25 %" in md and "not computed" not in md
    assert "no oracle run" in bench.markdown_table(
        bench.summarize({"source_only": [run(0, 10.0)]}), "crack")
