"""Every tool answers ``--help`` without importing the stack, and the ``--cfg-options``
examples of the README and of the ``--help`` texts name keys that exist in the configs they are
shown with (issue 17)."""

import difflib
import functools
import glob
import importlib.util
import json
import os.path as osp
import re
import subprocess
import sys

import pytest
from mmengine.config import Config

from helpers import REPO

TOOLS = sorted(p for p in glob.glob(osp.join(REPO, "tools", "*.py")) +
               glob.glob(osp.join(REPO, "tools", "*", "*.py"))
               if not osp.basename(p).startswith("_"))
# Tools that still import the stack at module level (reported, not hidden): none left.
NOT_YET_LAZY = set()
STACK = ("torch", "mmengine", "mmseg", "mmcv")
# The stock configs a --help example without a named config must fit: every top-level one.
STOCK_CONFIGS = sorted(glob.glob(osp.join(REPO, "configs", "*.py")))

_PROBE = """
import json, runpy, sys
path = sys.argv[1]
sys.argv = [path, "--help"]
try:
    runpy.run_path(path, run_name="__main__")
except SystemExit as exc:
    code = exc.code
else:
    code = None
print("\\n@@" + json.dumps(dict(code=code, stack=[m for m in {stack!r} if m in sys.modules])))
"""


@functools.cache
def help_of(path):
    proc = subprocess.run([sys.executable, "-c", _PROBE.format(stack=STACK), path],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    text, _, tail = proc.stdout.rpartition("\n@@")
    assert tail, f"{path}: no result\n{proc.stderr[-2000:]}"
    return text, json.loads(tail)


@pytest.mark.parametrize("path", TOOLS, ids=lambda p: osp.relpath(p, osp.join(REPO, "tools")))
def test_help_answers_without_importing_the_stack(path):
    text, result = help_of(path)
    assert result["code"] in (0, None) and "usage:" in text, text
    if osp.basename(path) in NOT_YET_LAZY:
        pytest.skip(f"{osp.basename(path)} belongs to another issue (imports: {result['stack']})")
    assert result["stack"] == [], f"--help imported {result['stack']}"


def load_train_tool():
    spec = importlib.util.spec_from_file_location("train_tool_cli",
                                                  osp.join(REPO, "tools", "train.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_train_resume_followed_by_the_config_is_auto_resume():
    train = load_train_tool()
    # MMSegmentation's order: the flag, then the config
    args = train.parse_args(["--resume", "configs/dacs_cracks_cpu.py"])
    assert args.config == "configs/dacs_cracks_cpu.py" and args.resume == "auto"
    args = train.parse_args(["configs/dacs_cracks_cpu.py", "--resume"])
    assert args.resume == "auto"
    args = train.parse_args(["configs/x.py", "--resume", "work_dirs/x/iter_4.pth"])
    assert args.resume == "work_dirs/x/iter_4.pth" and args.config == "configs/x.py"
    args = train.parse_args(["--resume", "w/iter_4.pth", "configs/x.py"])
    assert args.resume == "w/iter_4.pth" and args.config == "configs/x.py"
    assert train.parse_args(["configs/x.py"]).resume is None


# --- --cfg-options examples -----------------------------------------------------------------

_OPTION = re.compile(r"^([A-Za-z_][\w]*(?:\.[\w]+)+)=")


def example_keys(text):
    """The ``key=value`` keys written after each ``--cfg-options`` of ``text``."""
    keys = []
    for chunk in text.split("--cfg-options")[1:]:
        for token in chunk.replace("\\\n", " ").replace("`", " ").replace(")", " ").split():
            match = _OPTION.match(token)
            if not match:
                break
            keys.append(match.group(1))
    return keys


def key_exists(cfg, key):
    node = cfg
    for part in key.split("."):
        if isinstance(node, (list, tuple)):
            if not part.isdigit() or int(part) >= len(node):
                return False
            node = node[int(part)]
        elif hasattr(node, "keys") and part in node:
            node = node[part]
        else:
            return False
    return True


@functools.cache
def load(path):
    return Config.fromfile(path)


def readme_examples():
    """(line, keys, configs) of each README paragraph / command with ``--cfg-options``: the
    configs are those the same command (continuation lines joined) or table row names."""
    with open(osp.join(REPO, "README.md"), encoding="utf-8") as f:
        text = f.read().replace("\\\n", " ")
    units, prose = [], []  # a command of a code block, or a paragraph / list item / table row
    for i, part in enumerate(text.split("```")):
        if i % 2:
            units += part.splitlines()
        else:
            prose.append(part)
    for part in prose:
        units += [u.replace("\n", " ") for u in re.split(r"\n\s*\n|\n(?=\s*[-|*] )", part)]
    found = []
    for line in units:
        keys = example_keys(line)
        if not keys:
            continue
        named = re.findall(r"(?:configs/)?([\w./-]+\.py)", line)
        configs = sorted({c for name in named for c in glob.glob(osp.join(
            REPO, "configs", "**", osp.basename(name)), recursive=True)})
        found.append((line.strip(), keys, configs or STOCK_CONFIGS))
    return found


def test_readme_cfg_options_examples_fit_their_configs():
    examples = readme_examples()
    assert examples, "the README shows no --cfg-options example any more"
    for line, keys, configs in examples:
        for key in keys:
            for config in configs:
                cfg, where = load(config), osp.relpath(config, REPO)
                if "misspelt" not in line:
                    assert key_exists(cfg, key), f"README: {key} is not a key of {where}: {line}"
                    continue
                # a deliberate typo: one letter off a key that exists at that place
                parent, _, last = key.rpartition(".")
                assert not key_exists(cfg, key) and key_exists(cfg, parent), (key, where)
                node = cfg
                for part in parent.split("."):
                    node = node[int(part)] if isinstance(node, (list, tuple)) else node[part]
                assert difflib.get_close_matches(last, list(node.keys()), n=1, cutoff=0.8), \
                    f"README: the misspelt {key} is close to no key of {where}"


@pytest.mark.parametrize("path", [p for p in TOOLS if osp.basename(p) not in NOT_YET_LAZY],
                         ids=lambda p: osp.relpath(p, osp.join(REPO, "tools")))
def test_help_cfg_options_examples_fit_the_stock_configs(path):
    text, _ = help_of(path)
    for key in re.findall(r"(?<![\w.-])([A-Za-z_]\w*(?:\.\w+)+)=", text):
        for config in STOCK_CONFIGS:
            assert key_exists(load(config), key), \
                f"{osp.basename(path)} --help: {key} is not a key of {osp.relpath(config, REPO)}"


def test_example_extraction_sees_a_misspelt_key():
    keys = example_keys("python tools/train.py configs/dacs_cracks_cpu.py --cfg-options "
                        "model.decode_head.num_clases=3 train_cfg.max_iters=10 --amp")
    assert keys == ["model.decode_head.num_clases", "train_cfg.max_iters"]
    cfg = load(osp.join(REPO, "configs", "dacs_cracks_cpu.py"))
    assert not key_exists(cfg, keys[0]) and key_exists(cfg, keys[1])


def test_user_errors_of_the_inspection_tools_are_one_line(tmp_path, capsys):
    """A misspelt --cfg-options key: one line naming it, exit status 1, no traceback."""
    from helpers import write_dataset
    from mmseg_uda.utils import run_tool

    data = write_dataset(str(tmp_path / "d"), num=3, size=(32, 32))
    fake = tmp_path / "c.pth"
    fake.write_bytes(b"not loaded: the config fails first")
    config = osp.join(REPO, "configs", "dacs_cracks_cpu.py")
    typo = "train_cfg.max_itres=3"
    commands = {
        "analyze_domain_gap": [config, "--source", data, "--target", data, "--out",
                               str(tmp_path / "o"), "--cfg-options", typo],
        "calibrate": [config, str(fake), data, "--out", str(tmp_path / "c.json"),
                      "--cfg-options", typo],
        "tent": [config, str(fake), "--target", data, "--out", str(tmp_path / "t.pth"),
                 "--cfg-options", typo],
    }
    for name, argv in commands.items():
        spec = importlib.util.spec_from_file_location(f"cli_{name}",
                                                      osp.join(REPO, "tools", f"{name}.py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        assert run_tool(module.main, f"tools/{name}.py", argv) == 1, name
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1].startswith(f"tools/{name}.py: error: --cfg-options train_cfg.max_itres")
        assert "did you mean 'max_iters'" in err[-1] and "Traceback" not in "\n".join(err)


def test_tools_whose_main_returns_results_exit_with_status_0():
    sys.path.insert(0, REPO)
    from mmseg_uda.utils import run_tool
    from tools._cli import status_only

    assert run_tool(status_only(lambda argv: {"modes": {}}), "tools/benchmark.py", []) == 0
    for name in ("benchmark", "benchmark_deploy", "pseudo_label_quality"):
        with open(osp.join(REPO, "tools", f"{name}.py"), encoding="utf-8") as f:
            assert "run_tool(status_only(main)" in f.read(), name
