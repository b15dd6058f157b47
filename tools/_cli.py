"""Argument parsing for the tools that imports nothing of the stack (torch, MMEngine, MMSeg).

``--help`` and argument errors are answered before a tool imports torch and MMSeg (seconds on a
CPU machine): a tool parses its arguments with plain :mod:`argparse` and these helpers, and
imports the stack inside ``main``.

    from tools._cli import CfgOptionsAction, add_debug_flag, run_main

    def parse_args(argv=None): ...          # argparse only
    def main(argv=None): ...                 # imports the stack

    if __name__ == "__main__":
        run_main(main, parse_args, "tools/x.py")
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Optional, Sequence

DEBUG_FLAG = "--debug"  # the flag mmseg_uda.utils.cli.run_tool looks for


class CfgOptionsAction(argparse.Action):
    """MMEngine's ``DictAction`` (``key=value`` pairs into a dict), imported when used."""

    def __call__(self, parser, namespace, values, option_string=None):
        from mmengine.config import DictAction

        DictAction(self.option_strings, self.dest)(parser, namespace, values, option_string)


def add_cfg_options(parser: argparse.ArgumentParser, help: str, **kwargs) -> None:
    """Add ``--cfg-options KEY=VALUE ...`` (MMEngine syntax) to ``parser``."""
    parser.add_argument("--cfg-options", nargs="+", action=CfgOptionsAction,
                        metavar="KEY=VALUE", help=help, **kwargs)


def add_debug_flag(parser: argparse.ArgumentParser) -> None:
    """Add ``--debug``: show the full traceback of user errors."""
    parser.add_argument(DEBUG_FLAG, action="store_true",
                        help="on an error show the full traceback instead of one line")


def run_main(main: Callable[[Optional[Sequence[str]]], Optional[int]],
             parse_args: Callable[[Optional[Sequence[str]]], object], name: str) -> None:
    """Run a tool: ``--help`` and usage errors first, then ``main`` under
    :func:`mmseg_uda.utils.run_tool` (user errors in one line, exit status 1)."""
    parse_args(sys.argv[1:])
    from mmseg_uda.utils import exit_tool, run_tool

    exit_tool(run_tool(main, name))


def parse_early(module_name: str, parse_args: Callable[[Optional[Sequence[str]]], object]
                ) -> None:
    """Parse the command line now when the tool runs as a script (``module_name`` is
    ``'__main__'``): for a tool whose stack imports follow its ``parse_args`` at module level,
    ``--help`` and usage errors are answered before those imports."""
    if module_name == "__main__":
        parse_args(sys.argv[1:])


def status_only(main: Callable[[Optional[Sequence[str]]], object]
                ) -> Callable[[Optional[Sequence[str]]], int]:
    """``main`` for :func:`mmseg_uda.utils.run_tool` when it returns its results (a dict, for
    the tests and scripts that call it) rather than an exit status: exit status 0."""
    def run(argv: Optional[Sequence[str]] = None) -> int:
        main(argv)
        return 0

    return run
