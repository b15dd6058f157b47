"""generate_dataset: layout, reproducibility, meta.json, overwrite guard, interruption."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

import synthetic
from synthetic import writer


def _files(root: Path):
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_layout_and_meta(tmp_path):
    out = tmp_path / "ds"
    meta = synthetic.generate_dataset(out, ("crack",), num=7, size=(80, 48), seed=3,
                                      style="pavement", val_fraction=0.3, progress=False)
    names = [f"{i:06d}" for i in range(7)]
    assert sorted(p.stem for p in (out / "images").iterdir()) == names
    assert sorted(p.name for p in (out / "masks").iterdir()) == [n + ".png" for n in names]
    train = (out / "train.txt").read_text().split()
    val = (out / "val.txt").read_text().split()
    assert len(val) == 2 and sorted(train + val) == names and not set(train) & set(val)
    img = cv2.imread(str(out / "images" / "000000.png"), cv2.IMREAD_UNCHANGED)
    mask = cv2.imread(str(out / "masks" / "000000.png"), cv2.IMREAD_UNCHANGED)
    assert img.shape == (48, 80, 3) and img.dtype == np.uint8
    assert mask.shape == (48, 80) and mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 1}
    on_disk = json.loads((out / "meta.json").read_text())
    assert on_disk["version"] == synthetic.__version__
    assert on_disk["classes"] == ["background", "crack"]
    assert on_disk["args"] == {"types": ["crack"], "num": 7, "size": [80, 48], "seed": 3,
                               "style": "pavement", "val_fraction": 0.3, "format": "png",
                               "disable": [], "enable": []}
    assert sorted(on_disk["images"]) == names
    first = on_disk["images"]["000000"]
    assert {"material", "defects", "distractors", "imaging", "zoom"} <= set(first)
    assert on_disk["images"] == meta["images"]
    # The recorded class pixel count matches the written mask.
    for n in names:
        m = cv2.imread(str(out / "masks" / f"{n}.png"), cv2.IMREAD_UNCHANGED)
        assert on_disk["images"][n]["class_pixels"]["crack"] == int((m == 1).sum())


def test_byte_identical_for_any_worker_count(tmp_path):
    kw = {"types": ("crack", "spot"), "num": 6, "size": 96, "seed": 11, "style": "field",
          "progress": False, "preview": True}
    synthetic.generate_dataset(tmp_path / "w1", workers=1, **kw)
    synthetic.generate_dataset(tmp_path / "w2", workers=2, **kw)
    a, b = _files(tmp_path / "w1"), _files(tmp_path / "w2")
    assert list(a) == list(b)
    assert len(a) == 6 * 2 + 4  # pairs + train.txt, val.txt, meta.json, preview.png
    for k in a:
        assert a[k] == b[k], k


def test_render_sample_is_deterministic_and_seed_sensitive():
    a = synthetic.render_sample(1, 4, "crack", 96, "mixed")
    b = synthetic.render_sample(1, 4, "crack", 96, "mixed")
    c = synthetic.render_sample(2, 4, "crack", 96, "mixed")
    assert a[0].tobytes() == b[0].tobytes() and a[1].tobytes() == b[1].tobytes()
    assert a[2] == b[2]
    assert a[0].tobytes() != c[0].tobytes()


def test_overwrite_guard_refuses_and_keeps_files(tmp_path):
    out = tmp_path / "ds"
    out.mkdir()
    keep = out / "notes.txt"
    keep.write_text("precious")
    with pytest.raises(FileExistsError, match=str(out)):
        synthetic.generate_dataset(out, num=2, size=32, progress=False)
    assert _files(out) == {"notes.txt": b"precious"}

    synthetic.generate_dataset(out, num=3, size=32, progress=False, overwrite=True)
    before = _files(out)
    with pytest.raises(FileExistsError, match="overwrite"):
        synthetic.generate_dataset(out, num=2, size=32, seed=9, progress=False)
    assert _files(out) == before  # untouched
    # --overwrite replaces the dataset (stale sample 000002 is gone), keeps other files.
    synthetic.generate_dataset(out, num=2, size=32, seed=9, progress=False, overwrite=True)
    files = _files(out)
    assert files["notes.txt"] == b"precious"
    assert "images/000002.png" not in files and "images/000001.png" in files


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_interrupted_run_leaves_no_half_pairs(tmp_path, monkeypatch, exc):
    calls = {"n": 0}
    real = writer._write_file

    def flaky(path, data):
        calls["n"] += 1
        if calls["n"] == 8:  # the mask of the 4th pair (image, mask, image, mask, ...)
            raise exc("simulated crash")
        real(path, data)

    monkeypatch.setattr(writer, "_write_file", flaky)
    out = tmp_path / "ds"
    with pytest.raises(exc):
        synthetic.generate_dataset(out, num=6, size=32, progress=False)
    images = {p.name for p in (out / "images").iterdir()}
    masks = {p.name for p in (out / "masks").iterdir()}
    assert images == {f"{i:06d}.png" for i in range(3)}
    assert masks == images
    assert not (out / "meta.json").exists() and not (out / "train.txt").exists()


def test_remove_partial_pairs(tmp_path):
    for d in ("images", "masks"):
        (tmp_path / d).mkdir()
    for name in ("000000.png", "000001.png"):
        (tmp_path / "images" / name).write_bytes(b"x")
    (tmp_path / "masks" / "000000.png").write_bytes(b"x")
    (tmp_path / "masks" / ".000002.tmp.png").write_bytes(b"x")
    removed = writer.remove_partial_pairs(tmp_path)
    assert sorted(removed) == ["images/000001.png", "masks/.000002.tmp.png"]
    assert [p.name for p in (tmp_path / "images").iterdir()] == ["000000.png"]


def test_multiclass_ids_and_class_names(tmp_path):
    out = tmp_path / "mc"
    meta = synthetic.generate_dataset(out, "crack,spot", num=10, size=96, seed=2,
                                      style="metal_line", progress=False)
    assert meta["classes"] == ["background", "crack", "spot"]
    seen = set()
    for name, params in meta["images"].items():
        mask = cv2.imread(str(out / "masks" / f"{name}.png"), cv2.IMREAD_UNCHANGED)
        ids = set(np.unique(mask).tolist())
        assert ids <= {0, 1, 2}
        seen |= ids
        for d in params["defects"]:
            assert d["class_id"] == {"crack": 1, "spot": 2}[d["type"]]
    assert seen == {0, 1, 2}


def test_preview_sheet_is_written(tmp_path):
    out = tmp_path / "pv"
    synthetic.generate_dataset(out, num=3, size=64, preview=True, progress=False)
    sheet = cv2.imread(str(out / "preview.png"))
    assert sheet is not None
    # Three rows of image | mask | overlay tiles, 256 px wide each, 4 px gaps.
    assert sheet.shape[1] == 3 * 256 + 2 * 4
    assert sheet.shape[0] == 3 * 256 + 2 * 4


def test_jpg_format_and_disable_recorded(tmp_path):
    out = tmp_path / "jp"
    meta = synthetic.generate_dataset(out, num=2, size=64, image_format="jpg",
                                      disable="distractors,jpeg", progress=False)
    assert sorted(p.name for p in (out / "images").iterdir()) == ["000000.jpg", "000001.jpg"]
    assert sorted(p.name for p in (out / "masks").iterdir()) == ["000000.png", "000001.png"]
    assert meta["args"]["disable"] == ["distractors", "jpeg"]
    for params in meta["images"].values():
        assert params["distractors"] == [] and "jpeg" not in params["imaging"]


def test_ctrl_c_during_parallel_run_leaves_complete_pairs_only(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "ds"
    proc = subprocess.Popen(
        # Far more images than are written before the interrupt: on a loaded machine this
        # process may not run for seconds, and the run must still be going when it does.
        [sys.executable, "-m", "synthetic", "generate", "--num", "20000", "--size", "192",
         "--workers", "2", "--out", str(out), "--quiet"],
        cwd=str(root), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(root)},
        # Like a terminal's foreground job: a suite started in the background (`cmd &`)
        # inherits SIGINT ignored, and the generator would then never see the Ctrl-C.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            if (out / "masks").is_dir() and len(list((out / "masks").iterdir())) >= 3:
                break
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run finished before it could be interrupted"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err.decode()
    assert b"interrupted" in err
    images = sorted(p.name for p in (out / "images").iterdir())
    masks = sorted(p.name for p in (out / "masks").iterdir())
    assert images == masks and len(images) >= 3
    assert not any(".tmp" in n for n in images + masks)
    assert not (out / "meta.json").exists()
