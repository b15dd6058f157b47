from .cross_entropy import WeightedCrossEntropyLoss, weighted_cross_entropy

__all__ = ["WeightedCrossEntropyLoss", "weighted_cross_entropy"]
