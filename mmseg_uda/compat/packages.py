"""Package lookup for MMEngine without ``pkg_resources``.

setuptools >= 82 no longer ships ``pkg_resources``. MMEngine 0.10.7 uses it to resolve
``_base_ = ['mmseg::...']`` config references (``is_installed``/``get_installed_path``). These
replacements use :mod:`importlib.metadata` / :mod:`importlib.util` and are patched into the
MMEngine modules that imported the originals.
"""

from __future__ import annotations

import importlib.metadata as metadata
import importlib.util
import os.path as osp


def _module_spec(name: str):
    try:
        return importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None


def _top_level_module(distribution: str) -> str:
    dist = metadata.distribution(distribution)
    top_level = dist.read_text("top_level.txt")
    if top_level and top_level.split():
        return top_level.split()[0]
    for path in dist.files or ():
        parts = path.parts
        if len(parts) > 1 and parts[1] == "__init__.py":
            return parts[0]
    raise ValueError(f"can not infer the module name of distribution {distribution!r}")


def is_installed(package: str) -> bool:
    """Whether a distribution or an importable module named ``package`` exists."""
    try:
        metadata.distribution(package)
        return True
    except metadata.PackageNotFoundError:
        spec = _module_spec(package)
        return spec is not None and spec.origin is not None


def get_installed_path(package: str) -> str:
    """Directory of the installed package (a distribution name or a module name)."""
    try:
        module = _top_level_module(package)
    except metadata.PackageNotFoundError:
        module = package
    spec = _module_spec(module)
    if spec is None:
        raise metadata.PackageNotFoundError(package)
    if spec.origin is None:
        raise RuntimeError(f"{package} is a namespace package, which has no single install path")
    return osp.dirname(spec.origin)


def package2module(package: str) -> str:
    """Top-level module name of a distribution (``mmsegmentation`` -> ``mmseg``)."""
    return _top_level_module(package)


def install() -> None:
    """Patch MMEngine's package helpers (idempotent)."""
    import mmengine.config.config as config_module
    import mmengine.utils as utils_module
    import mmengine.utils.package_utils as package_utils

    replacements = {
        "is_installed": is_installed,
        "get_installed_path": get_installed_path,
        "package2module": package2module,
    }
    for module in (package_utils, utils_module, config_module):
        for name, func in replacements.items():
            if hasattr(module, name):
                setattr(module, name, func)
    try:
        import mmengine.hub.hub as hub_module
    except ImportError:  # pragma: no cover - hub is optional in mmengine-lite builds
        return
    if hasattr(hub_module, "get_installed_path"):
        hub_module.get_installed_path = get_installed_path
