from .weighted_encoder_decoder import WeightedEncoderDecoder, split_groups, stack_seg_labels

__all__ = ["WeightedEncoderDecoder", "split_groups", "stack_seg_labels"]
