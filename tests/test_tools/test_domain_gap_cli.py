"""tools/analyze_domain_gap.py end to end: JSON, t-SNE figure, embeddings, skipped files."""

import json

import cv2
import numpy as np
import pytest

from reports_helpers import load_tool, run_tool, tiny_run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return tiny_run(tmp_path_factory)


def test_domain_gap_before_after(run, tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):  # a brighter, smoother "real" domain
        img = cv2.GaussianBlur((200 + rng.normal(0, 20, (64, 64, 3))).clip(0, 255)
                               .astype(np.uint8), (5, 5), 0)
        cv2.imwrite(str(target / f"t{i}.jpg"), img)
    (target / "broken.jpg").write_bytes(b"nope")
    out = tmp_path / "gap"
    res = run_tool("analyze_domain_gap", [
        run["config"], "--source", run["data_root"], "--target", str(target), "--out", str(out),
        "--checkpoint", run["checkpoint"], "--checkpoint-after", run["checkpoint"],
        "--labels", "source-only", "adapted", "--folds", "3", "--permutations", "30",
        "--cfg-options", *run["model_options"]])
    assert res.returncode == 0, res.stderr[-3000:]
    report = json.loads((out / "domain_gap.json").read_text())
    assert [r["label"] for r in report["results"]] == ["source-only", "adapted"]
    first = report["results"][0]
    assert first["num_source"] == 9 and first["num_target"] == 6
    assert first["embedding_dim"] == 64  # the tiny MiT's last stage
    assert first["errors"][0]["image"].endswith("broken.jpg")
    assert 0.0 <= first["domain_classifier"]["accuracy"] <= 1.0
    assert first["mmd"]["p_value"] is not None and first["coral"] >= 0.0
    # the same checkpoint twice gives the same numbers
    assert report["results"][1]["mmd"] == first["mmd"]
    assert (out / "tsne.png").is_file() and report["figures"]["tsne"] == "tsne.png"
    emb = np.load(out / "embeddings.npz")
    assert emb["source-only_source"].shape == (9, 64)


def test_domain_gap_errors(run, tmp_path):
    tool = load_tool("analyze_domain_gap")
    empty = tmp_path / "empty"
    empty.mkdir()
    base = [run["config"], "--out", str(tmp_path / "o"), "--cfg-options",
            *run["model_options"]]
    with pytest.raises(SystemExit, match="no images in folder .*empty"):
        tool.main(base[:1] + ["--source", run["data_root"], "--target", str(empty)] + base[1:])
    single = tmp_path / "single"
    (single / "images").mkdir(parents=True)
    cv2.imwrite(str(single / "images" / "a.png"), np.zeros((32, 32, 3), np.uint8))
    cv2.imwrite(str(single / "preview.png"), np.zeros((32, 32, 3), np.uint8))  # not listed
    with pytest.raises(SystemExit, match="--target .*single.* has 1 image"):
        tool.main(base[:1] + ["--source", run["data_root"], "--target", str(single)] + base[1:])
    with pytest.raises(SystemExit, match="checkpoint file not found: .*gone.pth"):
        tool.main(base[:1] + ["--source", run["data_root"], "--target", run["data_root"],
                              "--checkpoint", str(tmp_path / "gone.pth")] + base[1:])
    with pytest.raises(SystemExit):
        tool.main(base[:1] + ["--source", run["data_root"], "--target", run["data_root"],
                              "--checkpoint-after", run["checkpoint"]] + base[1:])


def test_domain_gap_config_after_is_checked_before_embedding(run, tmp_path, capsys):
    """--config-after: the 'after' checkpoint of another config (source-only vs DACS); a
    checkpoint that does not fit its config stops the tool before anything is embedded."""
    tool = load_tool("analyze_domain_gap")
    after = tmp_path / "after_cfg.py"  # a child config: another model for the "after" run
    after.write_text(f"_base_ = [{run['config']!r}]\n")
    out = tmp_path / "gap"
    base = [run["config"], "--source", run["data_root"], "--target", run["data_root"],
            "--out", str(out), "--checkpoint", run["checkpoint"], "--checkpoint-after",
            run["checkpoint"], "--config-after", str(after), "--folds", "2",
            "--permutations", "0", "--no-progress", "--max-images", "4",
            "--cfg-options", *run["model_options"]]
    wider = [o.replace("model.decode_head.channels=16", "model.decode_head.channels=24")
             for o in run["model_options"]]
    assert wider != run["model_options"]
    with pytest.raises(SystemExit) as exc:
        tool.main(base + ["--cfg-options-after", *wider])
    message = str(exc.value)
    assert "--checkpoint-after does not fit --config-after" in message and "after_cfg.py" in message
    assert len(message) < 1000 and "--non-strict" not in message
    assert not out.exists() and "source" not in capsys.readouterr().out  # nothing embedded
    assert tool.main(base + ["--cfg-options-after", *run["model_options"]]) == 0
    report = json.loads((out / "domain_gap.json").read_text())
    assert [r["config"] for r in report["results"]] == [run["config"], str(after)]
