"""The defect-type interface and its registry.

A defect type turns random numbers into (1) a dictionary of parameters that fully
describes one instance and (2) a rendering of that instance: an area-coverage map,
which becomes the label, and an appearance change applied to the image in the same
window. Adding a type is one module with a :class:`DefectType` subclass decorated with
:func:`register_defect`, plus one import line in ``synthetic/defects/__init__.py``.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import cv2
import numpy as np

from ..raster import Region


@dataclass
class DefectRender:
    """One rendered defect instance, restricted to a window of the image.

    The compositor applies, per pixel of the window and channel ``c``::

        image = image * (1 - darkness * tint[c]) + offset * offset_tint[c]

    and labels the pixels whose (visible) coverage is at least 0.5.

    Attributes:
        region: Window of the image the arrays below refer to.
        coverage: float32 (h, w) area coverage of the defect geometry in [0, 1].
        darkness: float32 (h, w) fraction of brightness removed (0 = unchanged;
            negative values brighten).
        tint: Per-channel (B, G, R) multipliers of ``darkness`` (colour of the defect).
        offset: Optional float32 (h, w) additive change in grey levels (0..255 scale),
            e.g. dust, a bright rim or the colour a scratch blends towards.
        offset_tint: Per-channel (B, G, R) multipliers of ``offset``.
    """

    region: Region
    coverage: np.ndarray
    darkness: np.ndarray
    tint: tuple[float, float, float] = (1.0, 1.0, 1.0)
    offset: np.ndarray | None = None
    offset_tint: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def apply(self, image: np.ndarray) -> None:
        """Apply the appearance change to a planar float32 (3, H, W) image in place.

        Only pixels that change are touched, so a long thin crack whose window is the
        whole image costs in proportion to its area.
        """
        changed = self.darkness != 0
        if self.offset is not None:
            changed |= self.offset != 0
        ys, xs = np.nonzero(changed)
        if ys.size == 0:
            return
        gy, gx = ys + self.region.y0, xs + self.region.x0
        px = image[:, gy, gx]
        tint = np.asarray(self.tint, np.float32).reshape(3, 1)
        px *= np.float32(1.0) - self.darkness[ys, xs][None] * tint
        if self.offset is not None:
            otint = np.asarray(self.offset_tint, np.float32).reshape(3, 1)
            px += self.offset[ys, xs][None] * otint
        image[:, gy, gx] = px


class DefectType(abc.ABC):
    """Base class of defect types.

    Subclasses set the class attributes and implement :meth:`sample_params` and
    :meth:`render`. Both must be deterministic: all randomness comes from the
    generator passed to :meth:`sample_params`, which stores a ``seed`` for any detail
    randomness that :meth:`render` needs, so an instance can be re-rendered from its
    recorded parameters alone.

    Attributes:
        name: Registry name, used on the command line (``--type name``).
        class_name: Name of the class this type labels, written to ``meta.json``
            ``classes`` (what a config's ``metainfo.classes`` must list). Default: ``name``.
        description: One line for ``python -m synthetic list``.
        default_options: Sampling ranges; a style may override any of these keys
            (unknown keys are an error). ``count`` (instances per image, inclusive
            range) is required.
        conflicting_distractors: Background distractor kinds that look like this
            defect and are therefore not drawn when this type is generated.
    """

    name: ClassVar[str] = ""
    class_name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    default_options: ClassVar[dict[str, Any]] = {"count": (1, 1)}
    conflicting_distractors: ClassVar[tuple[str, ...]] = ()

    def options(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Default options updated with a style's overrides.

        Args:
            overrides: Option values that replace the defaults.

        Returns:
            A new dictionary of options.

        Raises:
            KeyError: If an override names an option this type does not have.
        """
        opts = dict(self.default_options)
        for key, value in (overrides or {}).items():
            if key not in opts:
                raise KeyError(
                    f"defect type {self.name!r} has no option {key!r}; "
                    f"known options: {sorted(opts)}"
                )
            opts[key] = value
        return opts

    @abc.abstractmethod
    def sample_params(
        self,
        rng: np.random.Generator,
        size: tuple[int, int],
        zoom: float,
        options: Mapping[str, Any],
        disable: frozenset[str],
    ) -> dict[str, Any]:
        """Draw the parameters of one instance.

        Args:
            rng: The image's generator for defects.
            size: Image (height, width) in pixels.
            zoom: Image scale factor of the sample (1 = nominal; widths and grain sizes
                in pixels are multiplied by it).
            options: Merged options (see :meth:`options`).
            disable: Realism features switched off (see ``synthetic.FEATURES``).

        Returns:
            JSON-serialisable parameters (plain floats, ints, lists, strings).
        """

    @abc.abstractmethod
    def render(
        self, params: Mapping[str, Any], size: tuple[int, int], disable: frozenset[str]
    ) -> DefectRender | None:
        """Render one instance from its parameters.

        Args:
            params: Output of :meth:`sample_params`.
            size: Image (height, width) in pixels.
            disable: Realism features switched off.

        Returns:
            The rendering, or None if the instance falls entirely outside the image.
        """


_REGISTRY: dict[str, DefectType] = {}


def register_defect(cls: type[DefectType]) -> type[DefectType]:
    """Class decorator registering a :class:`DefectType` subclass under ``cls.name``.

    Raises:
        ValueError: If the name is empty, malformed or already registered.
    """
    name = getattr(cls, "name", "")
    if not name or not name.replace("_", "").isalnum() or name != name.lower():
        raise ValueError(f"defect type name must be lower-case [a-z0-9_], got {name!r}")
    if name in _REGISTRY:
        raise ValueError(f"defect type {name!r} is already registered")
    if "count" not in cls.default_options:
        raise ValueError(f"defect type {name!r} must define default_options['count']")
    if not cls.__dict__.get("class_name"):  # not inherited: a subclass is another class
        cls.class_name = name
    _REGISTRY[name] = cls()
    return cls


def get_defect(name: str) -> DefectType:
    """Registered defect type by name.

    Raises:
        KeyError: If ``name`` is not registered (the message lists the known names).
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(
            f"unknown defect type {name!r}; available: {', '.join(defect_names())}"
        ) from None


def class_names(types: list[str] | tuple[str, ...]) -> list[str]:
    """``["background"]`` followed by the class name of each type (class id = index)."""
    return ["background"] + [get_defect(t).class_name for t in types]


def defect_names() -> list[str]:
    """Names of all registered defect types, in registration order."""
    return list(_REGISTRY)


def halo(cov: np.ndarray, sigma: float) -> np.ndarray:
    """Soft ring just outside a coverage map (0 inside and far away), float32."""
    blurred = cv2.GaussianBlur(cov, (0, 0), max(sigma, 0.3), borderType=cv2.BORDER_REPLICATE)
    return np.clip(blurred - cov, 0.0, None)

