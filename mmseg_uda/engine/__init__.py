"""Hooks and runner utilities registered into mmseg's registries."""

from .hooks import RankConsistencyHook, UDADebugHook
from .optimizers import TrainableOptimWrapperConstructor

__all__ = ["RankConsistencyHook", "TrainableOptimWrapperConstructor", "UDADebugHook"]
