"""python -m synthetic generate --shard i/n + merge: byte-identical to one unsharded run."""

import filecmp
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from synthetic.cli import main
from synthetic.shard import merge_shards, parse_shard, shard_indices

ROOT = Path(__file__).resolve().parents[2]
ARGS = ["generate", "--num", "7", "--size", "48x32", "--seed", "5", "--quiet",
        "--val-fraction", "0.3"]


def _tree(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_shards_merge_to_the_unsharded_set(tmp_path):
    assert main([*ARGS, "--out", str(tmp_path / "full")]) == 0
    for i in range(3):
        assert main([*ARGS, "--shard", f"{i}/3", "--out", str(tmp_path / f"s{i}")]) == 0
    # disjoint: each image in exactly one shard, each shard its k % 3 == i indices
    names = [sorted(p.stem for p in (tmp_path / f"s{i}" / "images").iterdir())
             for i in range(3)]
    assert names == [["000000", "000003", "000006"], ["000001", "000004"],
                     ["000002", "000005"]]
    for i in range(3):  # the shard's files are those of the full run, byte for byte
        match, mismatch, errors = filecmp.cmpfiles(
            tmp_path / "full" / "images", tmp_path / f"s{i}" / "images",
            [n + ".png" for n in names[i]], shallow=False)
        assert not mismatch and not errors
    assert json.loads((tmp_path / "s1" / "meta.json").read_text())["shard"] == dict(index=1,
                                                                                  count=3)
    assert main(["merge", str(tmp_path / "s2"), str(tmp_path / "s0"), str(tmp_path / "s1"),
                 "--out", str(tmp_path / "merged")]) == 0
    assert _tree(tmp_path / "merged") == _tree(tmp_path / "full")


def test_bad_shard_specs_and_merges(tmp_path, capsys):
    for spec, message in (("3/2", "INDEX must be in [0, 1]"), ("1/0", "COUNT must be >= 1"),
                          ("a/2", "INDEX/COUNT with whole numbers")):
        with pytest.raises(SystemExit):
            main([*ARGS, "--shard", spec, "--out", str(tmp_path / "x")])
        err = capsys.readouterr().err
        assert f"argument --shard: shard '{spec}'" in err or spec in err
        assert message in err
    assert not (tmp_path / "x").exists()
    assert parse_shard("1/4") == (1, 4) and list(shard_indices(10, (1, 4))) == [1, 5, 9]
    main([*ARGS, "--shard", "0/2", "--out", str(tmp_path / "a")])
    with pytest.raises(ValueError, match=r"need each of the 2 shards once \(0..1\), got \[0\]"):
        merge_shards([tmp_path / "a"], tmp_path / "m")
    main([*ARGS[:-2], "--val-fraction", "0.5", "--shard", "1/2", "--out", str(tmp_path / "b")])
    with pytest.raises(ValueError, match=r"belongs to another run \(differs in \['args'"):
        merge_shards([tmp_path / "a", tmp_path / "b"], tmp_path / "m")
    main([*ARGS, "--out", str(tmp_path / "full")])
    with pytest.raises(ValueError, match="was not generated with --shard"):
        merge_shards([tmp_path / "full"], tmp_path / "m")


def test_module_entry_point_merge(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for i in range(2):
        subprocess.run([sys.executable, "-m", "synthetic", *ARGS, "--shard", f"{i}/2", "--out",
                        str(tmp_path / f"p{i}")], check=True, env=env, cwd=tmp_path)
    proc = subprocess.run([sys.executable, "-m", "synthetic", "merge", "p0", "p1", "--out",
                           "m"], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0 and "merged 2 shards: 7 images -> m" in proc.stdout
