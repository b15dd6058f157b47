"""Blowholes: the pores of a sintered part (magnetic tiles), small dark pits.

The ``spot`` renderer (irregular outline, darker core, lit wall and lip) with the sizes
and shapes seen on magnetic tiles: mostly 6-20 px across, often elongated, dark, rarely
a visible lip. Only the defaults differ, so a style
can still tune every option of ``spot``.
"""

from __future__ import annotations

from typing import Any

from .base import register_defect
from .spot import Spot


@register_defect
class Blowhole(Spot):
    """Blowhole / pore on a ground ceramic or sintered surface."""

    name = "blowhole"
    class_name = "blowhole"
    description = "blowhole / pore of a sintered part: small dark pit, often elongated"
    default_options: dict[str, Any] = {
        "count": (1, 3),
        # Major radius in px at zoom 1 (log-uniform): areas of ~30-180 px at aspect 0.6,
        # the 10th-90th percentile of the train tiles' blowhole regions (35-177 px).
        "radius": (4.0, 10.0),
        "aspect": (0.45, 0.95),
        "irregularity": (0.1, 0.35),
        "darkness": (0.3, 0.7),
        "core": (0.4, 0.7),
        "rim_light": (0.0, 20.0),
    }
