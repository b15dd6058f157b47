"""Defect types. Importing this package registers the built-in types.

To add a type, write a module with a :class:`DefectType` subclass decorated with
:func:`register_defect` and import it below (one line).
"""

from . import (
    crack,  # noqa: E402,F401  (registers "crack")
    scratch,  # noqa: E402,F401  (registers "scratch")
    spot,  # noqa: E402,F401  (registers "spot")
)
from .base import DefectRender, DefectType, defect_names, get_defect, register_defect

__all__ = ["DefectRender", "DefectType", "defect_names", "get_defect", "register_defect"]
