from .defect_tta_model import DefectTTAModel
from .hrda_encoder_decoder import HRDAEncoderDecoder
from .weighted_encoder_decoder import WeightedEncoderDecoder, split_groups, stack_seg_labels

__all__ = ["DefectTTAModel", "HRDAEncoderDecoder", "WeightedEncoderDecoder", "split_groups",
           "stack_seg_labels"]
