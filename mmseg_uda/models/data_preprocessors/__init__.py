from .uda_seg_data_preprocessor import UDASegDataPreProcessor

__all__ = ["UDASegDataPreProcessor"]
