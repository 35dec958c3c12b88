"""Ctrl-C and SIGTERM during ``multifetch fetch``: the first stops the run gently, the second aborts."""

from __future__ import annotations

import signal
import threading
from typing import Any

from ..runners._run import Run
from ._terminal import echo_note


class Signals:
    """First SIGINT/SIGTERM: stop admitting and let in-flight finish; second: abort them."""

    def __init__(self, run: Run, grace: float) -> None:
        self.run = run
        self.grace = grace
        self.received: int | None = None
        self._old: dict[int, Any] = {}

    def __enter__(self) -> Signals:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, _frame: Any) -> None:
        name = "Ctrl-C" if signum == signal.SIGINT else "SIGTERM"
        if self.received is None:
            self.received = signum
            stats = self.run.statistics()
            echo_note(f"{name}: stopping; {stats.in_flight} transfers in flight get {self.grace:g}s "
                  f"to finish ({name} again to abort them)")
            self.run.stop(self.grace)
        else:
            echo_note(f"{name} again: aborting transfers in flight")
            self.run.stop(0)

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
