"""Exceptions for mistakes in the user's input (files, keys, values), not bugs of the code.

The tools print these in one line and exit with status 1 (see :mod:`mmseg_uda.utils.cli`); the
message must name the file, key or value that is wrong and what was expected.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input; the message names the file / key / value."""


class CheckpointError(UserError, ValueError, RuntimeError):
    """A checkpoint or weights file that cannot be used (empty, truncated, wrong model...).

    Also a ``RuntimeError``, which callers caught when a checkpoint did not fit the model.
    """


class WorkDirLockedError(UserError):
    """The work dir is in use by another run (its lock file names the host and PID)."""


class NonFiniteError(UserError, FloatingPointError):
    """Training produced non-finite losses or parameters for too many consecutive steps."""
