from .rank_consistency_hook import RankConsistencyHook
from .uda_debug_hook import UDADebugHook

__all__ = ["RankConsistencyHook", "UDADebugHook"]
