"""The ``multifetch`` command's entry point: Ctrl-C is answered from its first moment.

Importing the command (click, the library, libcurl) takes a tenth of a second or more. A Ctrl-C
then would print a Python traceback from the middle of an import (and a SIGTERM would end it with
no word and no documented status); so ``main`` first sets a handler that says so in one line and
exits 130 (143), and only then imports the rest. The command's error
boundary (``_group``) puts Python's own handler back once it can catch ``KeyboardInterrupt``.
"""

from __future__ import annotations

import signal

from ._exit import interrupted_while_starting  # cheap, as this module must be


def main() -> None:
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not ignored, not the caller's own
        signal.signal(signal.SIGINT, interrupted_while_starting)
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, interrupted_while_starting)
    from ._group import cli

    cli(prog_name="multifetch")
