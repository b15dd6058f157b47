"""Factory-variation augmentations: lighting, motion blur, low contrast, specular highlights,
JPEG compression and partial occlusion (see :mod:`.base`)."""

from .random_jpeg_compression import RandomJPEGCompression
from .random_lighting import RandomLighting
from .random_low_contrast import RandomLowContrast
from .random_motion_blur import RandomMotionBlur
from .random_occlusion import RandomOcclusion
from .random_specular_highlight import RandomSpecularHighlight

__all__ = ["RandomJPEGCompression", "RandomLighting", "RandomLowContrast", "RandomMotionBlur",
           "RandomOcclusion", "RandomSpecularHighlight"]
