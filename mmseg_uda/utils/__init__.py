"""Helpers shared by the tools: config loading and checks, errors, work dirs."""

from .cli import add_debug_flag, run_tool
from .config import (
                     ConfigKeyError,
                     check_cfg_options,
                     check_schedule,
                     check_top_level_keys,
                     default_work_dir,
                     enable_amp,
                     exit_tool,
                     finish_distributed,
                     load_config,
                     set_local_rank,
                     setup_cpu_distributed,
)
from .data_config import DataConfigError, check_data, data_provenance
from .errors import CheckpointError, NonFiniteError, UserError, WorkDirLockedError
from .work_dir import WorkDirLock, find_resume_checkpoint, process_rank

__all__ = [
    "CheckpointError", "ConfigKeyError", "DataConfigError", "NonFiniteError", "UserError",
    "WorkDirLock", "WorkDirLockedError", "add_debug_flag", "check_cfg_options", "check_data",
    "check_schedule", "check_top_level_keys", "data_provenance", "default_work_dir", "enable_amp",
    "exit_tool", "find_resume_checkpoint", "finish_distributed", "load_config", "process_rank",
    "run_tool", "set_local_rank", "setup_cpu_distributed",
]
