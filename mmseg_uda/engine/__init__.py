"""Hooks and runner utilities registered into mmseg's registries."""

from .hooks import NonFiniteGuardHook, RankConsistencyHook, SafeCheckpointHook, UDADebugHook
from .optimizers import TrainableOptimWrapperConstructor

__all__ = ["NonFiniteGuardHook", "RankConsistencyHook", "SafeCheckpointHook",
           "TrainableOptimWrapperConstructor", "UDADebugHook"]
