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
from .views import TwoViewCrops

__all__ = ["LoadImageFromFile", "RandomRescale", "TwoViewCrops",
           "RandomJPEGCompression", "RandomLighting", "RandomLowContrast",
           "RandomMotionBlur", "RandomOcclusion", "RandomSpecularHighlight"]
