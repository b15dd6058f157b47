from .daformer_head import DAFormerHead
from .hrda_head import HRDAHead

__all__ = ["DAFormerHead", "HRDAHead"]
