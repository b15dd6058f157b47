"""Data transforms registered into mmseg's TRANSFORMS registry."""

from .factory import (
                      RandomJPEGCompression,
                      RandomLighting,
                      RandomLowContrast,
                      RandomMotionBlur,
                      RandomOcclusion,
                      RandomSpecularHighlight,
)
from .loading import LoadImageFromFile
from .rescale import RandomRescale

__all__ = ["LoadImageFromFile", "RandomRescale",
           "RandomJPEGCompression", "RandomLighting", "RandomLowContrast",
           "RandomMotionBlur", "RandomOcclusion", "RandomSpecularHighlight"]
