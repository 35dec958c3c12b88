"""Exit statuses of ``multifetch`` (documented in the README), and the exit of a command
interrupted while it starts."""

from __future__ import annotations

import os
import shlex
import signal
import sys
from enum import IntEnum
from types import FrameType


class Exit(IntEnum):
    OK = 0  #: every input has a record and none is an error (HTTP 4xx/5xx answers are not errors)
    SOME_FAILED = 1  #: every input has a record; some are errors (error is not null)
    USAGE = 2  #: bad options or arguments
    INPUT = 3  #: an input could not be read (missing file, corrupt gzip, bad CSV header)
    OUTPUT = 4  #: the output could not be written (disk full, permission); resume later
    RESUME_MISMATCH = 5  #: --resume with other input or options than the first run
    INTERNAL = 70  #: a bug: please report it with --traceback output
    SIGINT = 130  #: interrupted by Ctrl-C; finish with --resume
    SIGTERM = 143  #: terminated by SIGTERM; finish with --resume


class CLIError(Exception):
    """An error the CLI reports in one line, with its exit status."""

    def __init__(self, message: str, status: Exit) -> None:
        super().__init__(message)
        self.status = status


class Terminated(BaseException):
    """SIGTERM before the run's own handler is in place (not an Exception: nothing swallows it)."""


def interrupted_while_starting(signum: int, _frame: FrameType | None) -> None:
    """Ctrl-C or SIGTERM while the command is imported: one line, and how to go on."""
    os.write(2, f"multifetch: error: interrupted while starting: nothing was done{how_to_go_on()}\n".encode())
    # in the middle of an import: nothing to clean up, nothing to flush
    os._exit(Exit.SIGTERM if signum == signal.SIGTERM else Exit.SIGINT)


def terminated(_signum: int, _frame: FrameType | None) -> None:
    raise Terminated


def how_to_go_on() -> str:
    """For a ``fetch`` into a file stopped before its run began: the command that goes on with it
    (its output may hold an earlier run's records, which only ``--resume`` keeps)."""
    args = sys.argv[1:]
    if args[:1] != ["fetch"] or not any(a in ("-o", "--output") or a.startswith("--output=") for a in args):
        return ""
    if "--resume" not in args:
        args = [*args, "--resume"]
    return f"; to go on: multifetch {shlex.join(args)}"
