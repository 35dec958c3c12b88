"""``Run``: what every runner's run offers — a local engine, engine processes or a Dask cluster.

Callers (``Client.map``, the command line, progress displays, signal handlers) speak to this
protocol and never ask which kind of run they hold.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ..engine._job import Job
    from ..engine._result import Result
    from ..engine._stats import Statistics


@runtime_checkable
class Run(Protocol):
    """One run: iterate ``outcomes()``, ``results()`` or ``positioned()`` once; ``statistics()``
    and ``stop()`` any time, from any thread."""

    def outcomes(self) -> Generator[Job, None, None] | Generator[Result, None, None]:
        """Each input's outcome as it completes: a ``Job`` or a ``Result`` (both make a record)."""
        ...

    def results(self) -> Generator[Result, None, None]:
        """Each input's ``Result`` as it completes."""
        ...

    def positioned(self) -> Iterator[tuple[int, Result]]:
        """``(input position, result)`` pairs as results complete (``UsageError`` where the run
        cannot know the positions)."""
        ...

    def statistics(self) -> Statistics: ...

    def stop(self, grace: float = 5.0) -> None:
        """Admit nothing more; in-flight transfers get ``grace`` seconds. Call again to abort."""
        ...

    def announcement(self) -> str | None:
        """A line worth saying as the run starts (where to watch it), or None."""
        ...

    @property
    def unfinished(self) -> int:
        """Inputs read whose record was not produced (after a stop)."""
        ...
