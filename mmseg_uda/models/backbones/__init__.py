from .mix_vision_transformer_sdpa import MixVisionTransformerSDPA, SDPAEfficientAttention

__all__ = ["MixVisionTransformerSDPA", "SDPAEfficientAttention"]
