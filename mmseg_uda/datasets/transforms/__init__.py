"""Data transforms registered into mmseg's TRANSFORMS registry."""

from .rescale import RandomRescale

__all__ = ["RandomRescale"]
