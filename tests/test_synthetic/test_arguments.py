"""Bad arguments give clear errors naming the value and the allowed ones."""

import subprocess
import sys

import pytest

import synthetic
from synthetic.cli import main

BASE = ["generate", "--num", "2", "--size", "32"]


@pytest.mark.parametrize(
    "extra, needles",
    [
        (["--type", "crak"], ["crak", "crack", "spot"]),
        (["--type", "crack,crack"], ["distinct"]),
        (["--style", "sunny"], ["sunny", "pavement", "lab"]),
        (["--size", "0"], ["size", "positive"]),
        (["--size", "3x-5"], ["3x-5", "positive"]),
        (["--size", "big"], ["big", "WxH"]),
        (["--num", "0"], ["num", "0"]),
        (["--workers", "0"], ["workers", "0"]),
        (["--seed", "-1"], ["seed", "-1"]),
        (["--disable", "textures"], ["textures", "texture"]),
        (["--enable", "rimz"], ["rimz", "enable", "rims"]),
        (["--disable", "rims", "--enable", "rims"], ["both disabled and enabled"]),
        (["--val-fraction", "1.5"], ["1.5"]),
    ],
)
def test_cli_rejects_bad_arguments(tmp_path, capsys, extra, needles):
    argv = BASE + ["--out", str(tmp_path / "o")] + extra
    if "--num" in extra:
        argv = ["generate", "--size", "32", "--out", str(tmp_path / "o")] + extra
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    for n in needles:
        assert n in err
    assert not (tmp_path / "o").exists()


def test_cli_refuses_non_empty_folder(tmp_path, capsys):
    (tmp_path / "x.txt").write_text("keep")
    with pytest.raises(SystemExit) as e:
        main(BASE + ["--out", str(tmp_path), "--quiet"])
    assert e.value.code == 2
    assert str(tmp_path) in capsys.readouterr().err
    assert (tmp_path / "x.txt").read_text() == "keep"


def test_cli_refuses_a_file_as_output(tmp_path, capsys):
    target = tmp_path / "file.txt"
    target.write_text("keep")
    with pytest.raises(SystemExit) as e:
        main(BASE + ["--out", str(target), "--quiet"])
    assert e.value.code == 2
    assert "not a folder" in capsys.readouterr().err
    assert target.read_text() == "keep"


def test_cli_generate_and_list(tmp_path, capsys):
    assert main(BASE + ["--out", str(tmp_path / "ok"), "--quiet", "--style", "lab"]) == 0
    assert (tmp_path / "ok" / "meta.json").exists()
    assert main(["list"]) == 0
    text = capsys.readouterr().out
    for word in ("crack", "spot", "scratch", "pavement", "metal_line", "perspective",
                 "leaves off: "):
        assert word in text


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"types": "hole"}, "hole"),
        ({"style": "night"}, "night"),
        ({"size": 0}, "positive"),
        ({"size": (64, -1)}, "positive"),
        ({"num": 0}, "num"),
        ({"num": 2.5}, "num"),
        ({"workers": 0}, "workers"),
        ({"val_fraction": 1.0}, "val_fraction"),
        ({"image_format": "bmp"}, "bmp"),
        ({"disable": ("noise", "rain")}, "rain"),
    ],
)
def test_api_rejects_bad_arguments(tmp_path, kwargs, needle):
    args = {"num": 2, "size": 32, "progress": False}
    args.update(kwargs)
    with pytest.raises(ValueError, match=needle):
        synthetic.generate_dataset(tmp_path / "o", **args)
    assert not (tmp_path / "o").exists()


def test_render_sample_rejects_bad_arguments():
    with pytest.raises(ValueError, match="blob"):
        synthetic.render_sample(0, 0, ("blob",))
    with pytest.raises(ValueError, match="non-negative"):
        synthetic.render_sample(-1, 0)
    with pytest.raises(ValueError, match="positive"):
        synthetic.render_sample(0, 0, size=(0, 10))


def test_size_accepts_width_by_height():
    img, mask, _ = synthetic.render_sample(0, 0, "crack", "72x40", "lab")
    assert img.shape == (40, 72, 3) and mask.shape == (40, 72)
    assert synthetic.parse_size("640x480") == (480, 640)
    assert synthetic.parse_size(256) == (256, 256)


def test_generator_does_not_import_training_stack():
    code = ("import sys, synthetic; synthetic.render_sample(0, 0, size=32); "
            "print(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'torch', 'mmseg', 'mmengine', 'mmcv'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=str(__import__("pathlib").Path(__file__).parents[2]))
    assert out.stdout.strip() == "[]"
