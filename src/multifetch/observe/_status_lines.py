"""Progress as plain lines: one every interval, for stderr that is a log file, a pipe or a journal.

A terminal shows a live display that redraws itself; a log collector keeps every byte, so there the
run says where it is in one self-contained line now and then, with no escape codes:

    multifetch: 2025-06-01T12:00:30Z 1,234 / 10,000 (12.3%) done; 41 req/s (avg 40); 64 in flight;
    300 queued (host limit 250, rate limit 50); errors 12 (timeout 10, connect 2); 1.2 MB; ETA 3m33s

(one line in the log). The first comes one interval after the start, so a short run says nothing
more than its summary.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TextIO

from ..engine._stats import Statistics
from ._figures import Figures, JobProgress, progress_parts


def status_line(figures: Figures, now: float | None = None) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    return f"multifetch: {stamp} " + "; ".join(progress_parts(figures))


class StatusLines:
    """Writes ``status_line`` of ``statistics()`` to ``stream`` every ``interval`` seconds, from a
    thread of its own, until ``stop()``."""

    def __init__(self, statistics: Callable[[], Statistics], stream: TextIO, interval: float,
                 progress: JobProgress) -> None:
        self._statistics = statistics
        self._stream = stream
        self._interval = interval
        self._progress = progress
        self._stopped = threading.Event()
        # the rate "now" needs a sample before the first line, taken at this run's start
        progress.figures(statistics())
        self._thread = threading.Thread(target=self._loop, name="multifetch-status", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stopped.wait(self._interval):
            line = status_line(self._progress.figures(self._statistics()))
            try:
                self._stream.write(line + "\n")
                self._stream.flush()
            except (OSError, ValueError):  # stderr went away (closed pipe): nothing left to tell
                return

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()
