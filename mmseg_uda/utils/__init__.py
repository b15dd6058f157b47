"""Helpers shared by the tools: config loading and checks."""

from .config import (
                     ConfigKeyError,
                     check_cfg_options,
                     check_schedule,
                     check_top_level_keys,
                     default_work_dir,
                     enable_amp,
                     finish_distributed,
                     load_config,
                     set_local_rank,
                     setup_cpu_distributed,
)

__all__ = [
    "ConfigKeyError", "check_cfg_options", "check_schedule", "check_top_level_keys",
    "default_work_dir", "enable_amp", "finish_distributed", "load_config", "set_local_rank",
    "setup_cpu_distributed",
]
