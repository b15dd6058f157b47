"""The data section of a config: data-root variables, classes and the data checks of the tools.

MMEngine evaluates every config file of an inheritance chain on its own, so a base file's
``data_root=source_root`` is fixed to the *base's* value before a child config is read: a child
that sets ``source_root = '/my/data'`` or ``metainfo = dict(classes=...)`` changed only the
top-level variable and nothing that uses it. :func:`trace_data_variables` finds where each
data-root variable is used and :func:`apply_data_variables` (called by ``load_config``, which
every tool uses) writes the final value there:

- ``data_root``, ``source_root``, ``target_root``: every dataset ``data_root`` that was set from
  the variable (found by loading the config once with the variable's environment variable set
  to a marker) gets the variable's final value (child config, ``--cfg-options source_root=...``
  or the environment variable).
- ``metainfo``: every dataset of the dataloaders gets the top-level ``metainfo``, and every
  ``num_classes`` of the model becomes ``len(metainfo['classes'])`` (a top-level ``num_classes``
  must agree; per-class weights of the model must have one value per class).

A key given explicitly with ``--cfg-options`` (``val_dataloader.dataset.data_root=...``) is
kept. Where each variable went is recorded in the config (``data_variables``), so the copy
that the Runner saves in the work dir stays overridable by the same environment variables.

:func:`check_data` is the data check of ``tools/train.py`` and ``tools/test.py`` before the
Runner is built: a missing folder names the variable that sets it and its default, and a target
without masks turns evaluation off for training.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import logging
import os
import os.path as osp
import re
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from mmengine.config import Config
from mmengine.logging import MMLogger, print_log

from .errors import UserError

# Top-level variables that hold dataset folders.
ROOT_VARIABLES = ("data_root", "source_root", "target_root")
RECORD_KEY = "data_variables"
DATALOADERS = ("train_dataloader", "val_dataloader", "test_dataloader")
# Model keys with one value per class, checked against metainfo.
PER_CLASS_KEYS = ("class_weight", "pseudo_class_weight")
_ENV = re.compile(r"^\{\{['\"]?\s*\$(\w+)\s*:\s*(\S*?)\s*['\"]?\}\}$")
_MARK = "@mmseg_uda_data_variable:{}@"


class DataConfigError(UserError, ValueError):
    """The data section of a config is inconsistent (classes, number of classes)."""


def config_chain(path: str) -> List[str]:
    """The config file and its local ``_base_`` files, bases first (depth first)."""
    chain: List[str] = []

    def visit(p: str) -> None:
        for base in Config._get_base_files(p):
            if "::" in base:  # a package's config: holds none of this project's variables
                continue
            visit(osp.normpath(osp.join(osp.dirname(p), base)))
        if p not in chain:
            chain.append(p)

    visit(osp.normpath(path))
    return chain


def _assignments(path: str) -> Dict[str, Any]:
    """Top-level ``name = 'string'`` assignments of the root variables in one config file."""
    if not path.endswith(".py"):
        return {}
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and \
                isinstance(node.targets[0], ast.Name) and node.targets[0].id in ROOT_VARIABLES:
            value = node.value.value if isinstance(node.value, ast.Constant) else None
            found[node.targets[0].id] = value
    return found


def _walk(node: Any, prefix: str = "") -> Iterator[Tuple[str, Any, Any]]:
    """(dotted path, container, key) of every leaf under ``node`` (dicts and lists)."""
    items = node.items() if hasattr(node, "items") else enumerate(node)
    for key, value in list(items):
        path = f"{prefix}.{key}" if prefix else str(key)
        if hasattr(value, "items") or isinstance(value, list):
            yield from _walk(value, path)
        else:
            yield path, node, key


def _get(cfg: Any, path: str) -> Tuple[Any, Any]:
    """(container, key) of a dotted path; KeyError/IndexError if a parent does not exist."""
    *parents, last = path.split(".")
    node = cfg
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node, (int(last) if isinstance(node, list) else last)


def trace_data_variables(path: str) -> Dict[str, dict]:
    """Where each data-root variable of the config at ``path`` is used.

    Returns:
        dict: ``{variable: dict(env=ENV or None, default=str or None, file=defining file,
        used_by=[dotted paths of the dataset keys set from it])}``; only variables that are
        set from an environment variable somewhere in the inheritance chain can be traced.
    """
    chain = config_chain(path)
    table: Dict[str, dict] = {}
    env_names: Dict[str, str] = {}
    for file in chain:
        for name, value in _assignments(file).items():
            match = _ENV.match(value) if isinstance(value, str) else None
            env, default = (match.group(1), match.group(2)) if match else (None, None)
            table[name] = dict(env=env, default=default, file=file, used_by=[])
            if env:
                env_names[env] = name
    if not env_names:
        return {}
    saved = {env: os.environ.get(env) for env in env_names}
    logger = MMLogger.get_current_instance()
    level = logger.level
    try:
        os.environ.update({env: _MARK.format(env) for env in env_names})
        logger.setLevel(logging.WARNING)  # no "Using env variable ... @marker@" lines
        traced = Config.fromfile(path)
    finally:
        logger.setLevel(level)
        for env, value in saved.items():
            if value is None:
                os.environ.pop(env, None)
            else:
                os.environ[env] = value
    marks = {_MARK.format(env): name for env, name in env_names.items()}
    for key in DATALOADERS:
        if traced.get(key) is None:
            continue
        for leaf, node, k in _walk(traced[key], key):
            value = node[k]
            if isinstance(value, str) and value in marks:
                table[marks[value]]["used_by"].append(leaf)
    return {name: info for name, info in table.items() if info["used_by"]}


def _overridden(path: str, options: Optional[dict]) -> bool:
    """Whether ``--cfg-options`` set ``path`` or a key above it explicitly."""
    return any(path == key or path.startswith(key + ".") for key in options or ())


def _dataset_dicts(cfg: Config) -> Iterator[Tuple[str, dict]]:
    """(dotted path, dict) of every dataset config (a dict with ``data_root``) in the
    dataloaders."""
    for key in DATALOADERS:
        loader = cfg.get(key)
        if not loader:
            continue
        queue = [(f"{key}.dataset", loader.get("dataset"))]
        while queue:
            path, node = queue.pop(0)
            if not hasattr(node, "items"):
                continue
            if "data_root" in node:
                yield path, node
            for sub in ("source", "target", "dataset"):
                if sub in node:
                    queue.append((f"{path}.{sub}", node[sub]))


def apply_data_variables(cfg: Config, table: Dict[str, dict],
                         options: Optional[dict] = None) -> None:
    """Write the final data-root variables, ``metainfo`` and number of classes where used.

    Args:
        cfg (Config): the loaded config (``--cfg-options`` already merged).
        table (dict): from :func:`trace_data_variables`.
        options (dict, optional): the ``--cfg-options``; keys set there are kept.

    Raises:
        DataConfigError: a top-level ``num_classes`` or an explicit model ``num_classes``
            that disagrees with ``metainfo``.
    """
    for name, info in table.items():
        value = cfg.get(name)
        if info.get("saved") and info.get("env") and os.environ.get(info["env"]) and \
                not _overridden(name, options):
            value = cfg[name] = os.environ[info["env"]]  # a saved config: env still applies
        if value is None:
            continue
        for path in info["used_by"]:
            if _overridden(path, options):
                continue
            with contextlib.suppress(KeyError, IndexError, ValueError, TypeError):
                node, key = _get(cfg, path)
                node[key] = value
    if table:
        cfg[RECORD_KEY] = {name: dict(info, saved=True) for name, info in table.items()}
    used = {ds.get("data_root") for _, ds in _dataset_dicts(cfg)}
    for name in ROOT_VARIABLES:
        if name not in table and isinstance(cfg.get(name), str) and cfg[name] not in used:
            print_log(f"config variable {name} = {cfg[name]!r} is used by no dataset: only "
                      "variables that a base file sets from an environment variable "
                      "('{{$VAR:default}}') can be traced to the datasets; set the datasets' "
                      "data_root instead", logger="current", level=logging.WARNING)
    metainfo = cfg.get("metainfo")
    if not metainfo or not metainfo.get("classes"):
        return
    classes = tuple(metainfo["classes"])
    for path, ds in _dataset_dicts(cfg):
        if "metainfo" in ds and not _overridden(f"{path}.metainfo", options):
            ds["metainfo"] = copy.deepcopy(metainfo)
    top = cfg.get("num_classes")
    if top is not None and top != len(classes):
        raise DataConfigError(
            f"num_classes = {top} but metainfo names {len(classes)} classes {classes}; the "
            "number of classes follows metainfo (background included): drop num_classes or "
            f"set it to {len(classes)}")
    if cfg.get("model") is None:
        return
    for path, node, key in _walk(cfg.model, "model"):
        if key != "num_classes" or node[key] == len(classes):
            continue
        if _overridden(path, options):
            raise DataConfigError(
                f"--cfg-options {path}={node[key]} but metainfo names {len(classes)} classes "
                f"{classes}; set metainfo (the number of classes follows it)")
        node[key] = len(classes)
    for path, weights in _per_class_lists(cfg.model, "model"):
        if len(weights) != len(classes):
            raise DataConfigError(
                f"{path} has {len(weights)} values {list(weights)} but metainfo names "
                f"{len(classes)} classes {classes}: give one weight per class (in the config or "
                f"--cfg-options {path}=[...]), or None")


def _per_class_lists(node: Any, prefix: str) -> Iterator[Tuple[str, Sequence]]:
    """(dotted path, value) of the per-class weight lists (``class_weight``,
    ``pseudo_class_weight``) under ``node``."""
    items = node.items() if hasattr(node, "items") else \
        enumerate(node) if isinstance(node, (list, tuple)) else ()
    for key, value in items:
        path = f"{prefix}.{key}"
        if key in PER_CLASS_KEYS and isinstance(value, (list, tuple)):
            yield path, value
        elif hasattr(value, "items") or isinstance(value, (list, tuple)):
            yield from _per_class_lists(value, path)


def variable_hint(cfg: Config, path: str) -> str:
    """How the user sets the dataset key ``path`` (``'data_root'`` of a dataset dict)."""
    for name, info in (cfg.get(RECORD_KEY) or {}).items():
        if path in info["used_by"]:
            if info.get("env"):
                return (f"set by {info['env']}, default {info['default']!r}; e.g. "
                        f"{info['env']}=/path/to/folder")
            return f"set by {name} in {info['file']}"
    return f"set by {path} in the config (or --cfg-options {path}=...)"


def _role(path: str) -> str:
    if path.endswith(".source"):
        return "source"
    if path.endswith(".target"):
        return "target"
    return "training" if path.startswith("train_") else "evaluation"


def check_data(cfg: Config, mode: str, build: bool = True) -> List[str]:
    """Check the dataset folders a tool will read, before the Runner is built.

    Args:
        cfg (Config): a config loaded with ``load_config``.
        mode (str): ``'train'`` (training sets and the evaluation set) or ``'test'``.
        build (bool): also build the datasets (:func:`build_datasets`), which checks every
            file. Default: True.

    Returns:
        list[str]: notes for the log (evaluation turned off, split chosen).

    Raises:
        DatasetError: a missing folder (naming the variable that sets it and its default),
            ``meta.json`` classes that differ from the config's, a test set without masks, and
            with ``build`` the dataset's own checks (files, sizes, mask values).
    """
    from mmseg_uda.datasets.defect_dataset import DatasetError, check_meta_classes, resolve_split

    notes: List[str] = []
    wanted = ("train_dataloader", "val_dataloader") if mode == "train" else ("test_dataloader",)
    classes = tuple((cfg.get("metainfo") or {}).get("classes") or ())
    datasets = [(path, ds) for path, ds in _dataset_dicts(cfg) if path.split(".")[0] in wanted]
    missing: Dict[Tuple[str, str], List[str]] = {}
    for path, ds in datasets:
        root = ds.get("data_root")
        if not isinstance(root, str) or not osp.isdir(root):
            hint = variable_hint(cfg, path + ".data_root")
            where = repr(root)
            if isinstance(root, str) and not osp.isabs(root):
                where += f" (= {osp.abspath(root)})"  # relative: to the current folder
            roles = missing.setdefault((where, hint), [])
            if _role(path) not in roles:
                roles.append(_role(path))
    if missing:  # all of them in one line: source and target are often both wrong
        raise DatasetError("; ".join(f"{' and '.join(roles)} data folder not found: {root} "
                                     f"({hint})" for (root, hint), roles in missing.items()))
    for path, ds in datasets:
        if ds.get("type") != "DefectDataset":  # other layouts: the dataset checks itself
            continue
        root = ds.get("data_root")
        role = _role(path)
        images = osp.join(root, ds.get("img_dir", "images"))
        if not osp.isdir(images):
            raise DatasetError(f"{role} data folder {root!r} has no {ds.get('img_dir', 'images')}/"
                               f" folder ({variable_hint(cfg, path + '.data_root')})")
        if ds.get("with_masks", True):  # an unlabeled folder's class ids are never read
            check_meta_classes(root,
                               tuple((ds.get("metainfo") or {}).get("classes") or classes))
        if role != "evaluation" or not ds.get("with_masks", True):
            continue
        has_masks = osp.isdir(osp.join(root, ds.get("mask_dir", "masks")))
        split, how = resolve_split(root, ds.get("split"))
        where = f"{root!r} ({variable_hint(cfg, path + '.data_root').split(';')[0]})"
        if not has_masks and mode == "test":
            raise DatasetError(
                f"the evaluation set {where} has no masks/ folder: tools/test.py scores "
                "predictions against masks; for unlabeled photos use tools/predict.py CONFIG "
                f"CKPT {images} --out DIR")
        if not has_masks:
            notes.append(
                f"no target evaluation: the evaluation set {where} has no masks/ (unlabeled "
                "photos); training runs without validation and keeps the last checkpoints. "
                "Add ROOT/masks and ROOT/test.txt to evaluate")
            for key in ("val_dataloader", "val_cfg", "val_evaluator"):
                cfg[key] = None
            checkpoint = (cfg.get("default_hooks") or {}).get("checkpoint")
            if checkpoint is not None:
                checkpoint.pop("save_best", None)
            break
        if how:
            notes.append(f"evaluation set {root!r}: split {split or 'all images'} ({how})")
    if mode == "train":
        check_labeled_target(cfg)
    if build:
        build_datasets(cfg, wanted)
    return notes


def labeled_target_provenance(cfg: Config) -> Dict[str, Any]:
    """The labeled target images of a UDA training set (``labeled_target`` of
    ``train_dataloader.dataset``): split file, share, seed and names; ``{}`` without.

    ``names`` is None when the split file cannot be read (the dataset's build reports it).
    """
    from mmseg_uda.datasets.defect_dataset import DatasetError, _read_split
    from mmseg_uda.datasets.uda_dataset import DEFAULT_LABELED_RATIO, select_labeled_target

    dataset = (cfg.get("train_dataloader") or {}).get("dataset") or {}
    labeled = dataset.get("labeled_target") if hasattr(dataset, "get") else None
    if not labeled or not hasattr(labeled, "get") or not labeled.get("split"):
        return {}
    root = (dataset.get("target") or {}).get("data_root") or ""
    path = osp.abspath(osp.join(root, labeled["split"]))  # an absolute split stays itself
    out: Dict[str, Any] = dict(data_root=osp.abspath(root), split=path,
                               ratio=labeled.get("ratio", DEFAULT_LABELED_RATIO),
                               seed=labeled.get("seed", 0))
    try:
        names = select_labeled_target(_read_split(path), labeled.get("num"),
                                      int(labeled.get("seed", 0)), path)
    except (OSError, DatasetError, TypeError, ValueError):
        names = None
    out.update(num=len(names) if names is not None else labeled.get("num"), names=names)
    return out


def check_labeled_target(cfg: Config) -> None:
    """Refuse labeled target images that are also in the evaluation split (same folder).

    Raises:
        DatasetError: naming the images and the evaluation split file.
    """
    from mmseg_uda.datasets.defect_dataset import DatasetError, _read_split, resolve_split

    labeled = labeled_target_provenance(cfg)
    if not labeled.get("names"):
        return
    root = labeled["data_root"]  # the images' folder (the split file may live elsewhere)
    for path, ds in _dataset_dicts(cfg):
        if not path.startswith("val_dataloader") or not isinstance(ds.get("data_root"), str):
            continue
        split, _ = resolve_split(ds["data_root"], ds.get("split"))
        evaluated = osp.abspath(osp.join(ds["data_root"], split)) if split else None
        if evaluated is None or not osp.isfile(evaluated) or \
                osp.abspath(ds["data_root"]) != osp.abspath(root):
            continue
        both = sorted(set(labeled["names"]) & set(_read_split(evaluated)))
        if both:
            raise DatasetError(
                f"labeled_target: {len(both)} of the labeled target images of "
                f"{labeled['split']!r} are also in the evaluation split {evaluated!r}, e.g. "
                f"{both[:5]}: the scores would be measured on training labels; choose them "
                "from the training split (train.txt)")


def build_datasets(cfg: Config, dataloaders: Sequence[str]) -> None:
    """Build (and so check: files, sizes, mask values) the datasets of ``dataloaders``.

    Their errors then come before the Runner and its config dump. The file checks are cached
    (``CheckCache``), so the Runner's own build of the same datasets reads no file again.
    """
    from mmengine.registry import DefaultScope
    from mmseg.registry import DATASETS

    logger = MMLogger.get_current_instance()
    level = logger.level
    try:
        logger.setLevel(logging.WARNING)  # the Runner's build logs the summaries
        with DefaultScope.overwrite_default_scope(cfg.get("default_scope") or "mmseg"):
            for path, ds in _dataset_dicts(cfg):
                if path.split(".")[0] in dataloaders:
                    DATASETS.build(copy.deepcopy(ds))
            # The labeled target images of a UDA set are built by the UDA set (they reuse the
            # source pipeline): build it whole; its parts come from the check cache.
            if "train_dataloader" in dataloaders and labeled_target_provenance(cfg):
                DATASETS.build(copy.deepcopy(cfg.train_dataloader.dataset))
    finally:
        logger.setLevel(level)


def data_provenance(cfg: Config) -> Dict[str, Any]:
    """The evaluation set of ``test_dataloader`` for reports: root, split, variable, and the
    labeled target images of training (:func:`labeled_target_provenance`), if any."""
    from mmseg_uda.datasets.defect_dataset import resolve_split

    for path, ds in _dataset_dicts(cfg):
        if path.startswith("test_dataloader"):
            root = ds.get("data_root")
            split, _ = resolve_split(root or "", ds.get("split"))
            out = dict(data_root=osp.abspath(root) if root else root,
                       split=split or "all images")
            for info in (cfg.get(RECORD_KEY) or {}).values():
                if f"{path}.data_root" in info["used_by"] and info.get("env"):
                    out["variable"] = info["env"]
            labeled = labeled_target_provenance(cfg)
            if labeled:  # the model saw these target images' labels in training
                out["labeled_target"] = labeled
            return out
    return {}

