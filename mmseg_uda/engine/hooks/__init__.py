from .non_finite_guard_hook import NonFiniteGuardHook
from .progress_hook import ProgressHook
from .rank_consistency_hook import RankConsistencyHook
from .safe_checkpoint_hook import SafeCheckpointHook
from .self_training_watch_hook import SelfTrainingWatchHook
from .show_dir_hook import ShowDirHook
from .uda_debug_hook import UDADebugHook

__all__ = ["NonFiniteGuardHook", "ProgressHook", "RankConsistencyHook", "SafeCheckpointHook",
           "SelfTrainingWatchHook", "ShowDirHook", "UDADebugHook"]
