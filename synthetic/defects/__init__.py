"""Defect types. Importing this package registers the built-in types.

To add a type, write a module with a :class:`DefectType` subclass decorated with
:func:`register_defect` and import it below (one line).
"""

from . import (
    crack,  # noqa: E402,F401  (registers "crack")
    scratch,  # noqa: E402,F401  (registers "scratch")
    spot,  # noqa: E402,F401  (registers "spot")
)
from .base import (
    DefectRender,
    DefectType,
    class_names,
    defect_names,
    get_defect,
    register_defect,
)

# The magnetic-tile types, imported after the three above so that the registration order
# (`python -m synthetic list`, error messages) keeps the original types first.
from .blowhole import Blowhole  # noqa: E402,F401  (registers "blowhole")
from .edge_break import EdgeBreak  # noqa: E402,F401  (registers "break")
from .fray import Fray  # noqa: E402,F401  (registers "fray")
from .uneven import Uneven  # noqa: E402,F401  (registers "uneven")

__all__ = ["DefectRender", "DefectType", "class_names", "defect_names", "get_defect",
           "register_defect"]
