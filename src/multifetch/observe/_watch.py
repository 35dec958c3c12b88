"""What watches a ``Client``'s runs: the progress display and the metrics server.

``Client(progress=..., metrics_port=...)``. In a Jupyter notebook the progress of ``stream()``,
``map()`` and ``fetch()`` shows in the cell by default; elsewhere ``progress=True`` writes a plain
status line to stderr every ``progress_every`` seconds. Metrics count every result the caller
takes, single requests too, for as long as the client is open.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Generator, Iterator, Sized
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from .._errors import SettingError
from ._figures import JobProgress
from ._metrics import TOP_HOSTS, Metrics
from ._notebook import NotebookProgress, in_notebook
from ._status_lines import StatusLines

if TYPE_CHECKING:
    from ..runners._run import Run

T = TypeVar("T")

PROGRESS_EVERY = 30.0  # seconds between status lines outside a notebook


class _Shown(Protocol):
    def stop(self) -> None: ...


class Watch:
    """A client's progress setting and its metrics server (started here, so a port in use is said
    when the client is made)."""

    def __init__(self, progress: bool | None = None, progress_every: float = PROGRESS_EVERY,
                 metrics_port: int | None = None, metrics_host: str = "127.0.0.1",
                 metrics_hosts: int = TOP_HOSTS) -> None:
        if progress is not None and not isinstance(progress, bool):
            raise SettingError(("progress",), f"is True, False or None (the default), not {progress!r}")
        if isinstance(progress_every, bool) or not isinstance(progress_every, int | float) \
                or progress_every <= 0:
            raise SettingError(("progress_every",), f"must be seconds > 0, not {progress_every!r}")
        if metrics_port is not None and (isinstance(metrics_port, bool) or not isinstance(metrics_port, int)
                                         or not 0 <= metrics_port <= 65535):
            raise SettingError(("metrics_port",), f"must be a port number (0: any free one), "
                               f"not {metrics_port!r}")
        self.progress = progress
        self.progress_every = float(progress_every)
        self.metrics = None if metrics_port is None else Metrics(metrics_port, metrics_host, metrics_hosts)

    def over(self, run: Run, items: Iterator[T], *, total: int | None, bulk: bool = True,
             result_of: Callable[[T], Any] | None = None) -> Iterator[T]:
        """``items`` (taken from ``run``), watched: shown while they come, counted by the metrics.
        ``result_of`` finds the ``Result`` in an item; ``bulk=False`` for a single request (no
        progress display). With nothing to show or count, ``items`` themselves: no cost an item."""
        where = self._where() if bulk else None
        if where is None and self.metrics is None:
            return items
        return self._watched(run, items, where, total, result_of)

    def _watched(self, run: Run, items: Iterator[T], where: str | None, total: int | None,
                 result_of: Callable[[T], Any] | None) -> Generator[T, None, None]:
        # shown from the first item asked for: a stream never iterated shows nothing
        shown = None if where is None else self._show(run, where, total)
        metrics = self.metrics
        if metrics is not None:
            metrics.watch(run)
        try:
            if metrics is None:
                yield from items
            else:
                add = metrics.counts.add_result
                for item in items:
                    add(item if result_of is None else result_of(item))
                    yield item
        finally:
            if shown is not None:
                shown.stop()
            if metrics is not None:
                metrics.unwatch(run)

    def _where(self) -> str | None:
        """Where progress shows: ``"notebook"``, ``"stderr"`` (status lines) or nowhere (None)."""
        if self.progress is False:
            return None
        if in_notebook():
            return "notebook"
        return "stderr" if self.progress else None  # on by default only in a notebook

    def _show(self, run: Run, where: str, total: int | None) -> _Shown:
        progress = JobProgress(total=total)
        if where == "notebook":
            return NotebookProgress(run.statistics, progress)
        return StatusLines(run.statistics, sys.stderr, self.progress_every, progress)

    def close(self) -> None:
        if self.metrics is not None:
            self.metrics.close()
            self.metrics = None


def total_of(specs: object) -> int | None:
    """The number of inputs, when ``specs`` knows it (a list, a tuple, a DataFrame column)."""
    if isinstance(specs, str | bytes | dict) or not isinstance(specs, Sized):
        return None
    try:
        return len(specs)
    except TypeError:
        return None
