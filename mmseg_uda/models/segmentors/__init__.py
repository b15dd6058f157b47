from .weighted_encoder_decoder import WeightedEncoderDecoder, stack_seg_labels

__all__ = ["WeightedEncoderDecoder", "stack_seg_labels"]
