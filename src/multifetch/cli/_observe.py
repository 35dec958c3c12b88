"""What watches a ``multifetch fetch`` run besides its output: progress on stderr and the metrics
server, both counting the whole job when the run resumes an output."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from ..inputs._sources import count_lines
from ..observe._figures import JobProgress
from ..observe._metrics import TOP_HOSTS, Metrics
from ..report._hosts import host_of
from ..runners._run import Run
from ._display import Shown, make_progress


class Observers:
    """Made before the output is opened (a metrics port in use is said before anything is
    written); ``start`` once the run has begun, ``stop`` when its records are all taken."""

    def __init__(self, metrics_port: int | None, metrics_host: str = "127.0.0.1",
                 metrics_hosts: int = TOP_HOSTS) -> None:
        self.metrics = None if metrics_port is None else Metrics(metrics_port, metrics_host, metrics_hosts)
        self._shown: Shown | None = None

    def announcement(self) -> str | None:
        return None if self.metrics is None else f"metrics on {self.metrics.url}"

    def start(self, run: Run, inputs: Sequence[str], *, earlier: int, quiet: bool, forced: bool | None,
              log_every: float | None) -> None:
        """``earlier``: the job's records from earlier runs (``--resume``), done already."""
        progress = JobProgress(earlier=earlier)
        self._shown = make_progress(run, progress, quiet=quiet, forced=forced, log_every=log_every)
        if self.metrics is not None:
            self.metrics.earlier = earlier
            self.metrics.watch(run)
        if self._shown is not None or self.metrics is not None:
            threading.Thread(target=self._count, args=(progress, inputs), daemon=True).start()

    def _count(self, progress: JobProgress, inputs: Sequence[str]) -> None:
        """The job's total, counted in the background: a file of millions of lines takes seconds."""
        try:
            total = count_lines(inputs)
        except Exception:
            return
        progress.total = total
        if self.metrics is not None:
            self.metrics.total = total

    def counting(self, add: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
        """``add`` (called once a record), counting each record for the metrics too when they are
        served; ``add`` itself when not, so a run without metrics pays nothing for them."""
        if self.metrics is None:
            return add
        count = self.metrics.counts.add_record

        def add_and_count(record: dict[str, Any]) -> None:
            add(record)
            count(record, host_of(record))

        return add_and_count

    def stop(self, run: Run) -> None:
        if self._shown is not None:
            self._shown.stop()
            self._shown = None
        if self.metrics is not None:
            self.metrics.unwatch(run)

    def close(self) -> None:
        if self.metrics is not None:
            self.metrics.close()
