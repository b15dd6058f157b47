"""One way for the tools to end on a user error: one line, exit status 1.

A tool's ``main`` raises; :func:`run_tool` turns the exceptions that are mistakes in the
user's input (a missing or broken file, a misspelt key, bad data, a work dir in use, a run
that went non-finite) into one line on stderr, ``<tool>: error: <message>``, and exit status
1. Anything else is a bug and keeps its traceback. ``--debug`` (added by
:func:`add_debug_flag`) shows the traceback of user errors too.

    def main(argv=None): ...

    if __name__ == "__main__":
        sys.exit(run_tool(main, "tools/train.py"))
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Optional, Sequence

from .errors import UserError

DEBUG_FLAG = "--debug"


def add_debug_flag(parser: argparse.ArgumentParser) -> None:
    """Add ``--debug``: show the full traceback of user errors."""
    parser.add_argument(DEBUG_FLAG, action="store_true",
                        help="on an error show the full traceback instead of one line")


def user_error_types() -> tuple:
    """The exception types reported as user errors (one line, no traceback)."""
    from mmseg_uda.datasets.defect_dataset import DatasetError  # late: needs mmseg
    from mmseg_uda.models.weights.mit_converters import MiTWeightsError
    from mmseg_uda.utils.config import ConfigKeyError

    types = [UserError, DatasetError, MiTWeightsError, ConfigKeyError, FileNotFoundError,
             FileExistsError, IsADirectoryError, NotADirectoryError, PermissionError]
    try:
        from mmseg_uda.apis.files import ImageReadError
        types.append(ImageReadError)
    except ImportError:  # pragma: no cover - apis are optional for the training tools
        pass
    return tuple(types)


def format_error(exc: BaseException) -> str:
    """The one-line message of ``exc`` (newlines folded, the type kept when it says more)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, (FileNotFoundError, PermissionError)) and exc.filename and \
            str(exc.filename) not in text:
        text = f"{text}: {exc.filename!r}"
    return text


def run_tool(main: Callable[[Optional[Sequence[str]]], Optional[int]], name: str,
             argv: Optional[Sequence[str]] = None) -> int:
    """Run a tool's ``main(argv)``; report user errors in one line.

    Args:
        main (callable): the tool's entry point; returns an exit status or None (0).
        name (str): the tool's name for the message, e.g. ``'tools/train.py'``.
        argv (sequence of str, optional): the arguments; default ``sys.argv[1:]``.

    Returns:
        int: the exit status (0 on success, 1 on a user error, 130 on Ctrl-C).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    debug = DEBUG_FLAG in args
    try:
        status = main(args)
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"{name}: interrupted", file=sys.stderr)
        return 130
    except SystemExit:
        raise
    except Exception as exc:  # noqa: BLE001 - sorted into user errors and bugs below
        if debug or not isinstance(exc, user_error_types()):
            raise
        print(f"{name}: error: {format_error(exc)}", file=sys.stderr)
        return 1
    return int(status or 0)
