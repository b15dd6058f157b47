"""Data transforms registered into mmseg's TRANSFORMS registry."""

from .factory import (
                      RandomJPEGCompression,
                      RandomLighting,
                      RandomLowContrast,
                      RandomMotionBlur,
                      RandomOcclusion,
                      RandomSpecularHighlight,
)
from .rescale import RandomRescale

__all__ = ["RandomRescale", "RandomJPEGCompression", "RandomLighting", "RandomLowContrast",
           "RandomMotionBlur", "RandomOcclusion", "RandomSpecularHighlight"]
