"""A run whose requests were made conditional by a previous run's output (``--since``).

Whatever runs the requests — the local engine, engine processes, a cluster — the outcomes come
back here, in the process that read the previous output: each ``304`` to a conditional request
is settled by it (``unchanged``, and the previous body's size, hash and file) before anyone sees it.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING

from ..outputs._since import PreviousRun
from ._run import Run

if TYPE_CHECKING:
    from ..engine._job import Job
    from ..engine._result import Result
    from ..engine._stats import Statistics


class ConditionalRun:
    """``run``, its outcomes settled by ``previous``."""

    def __init__(self, run: Run, previous: PreviousRun) -> None:
        self._run = run
        self._previous = previous

    def outcomes(self) -> Generator[Job, None, None] | Generator[Result, None, None]:
        settle = self._previous.settle
        outcomes = self._run.outcomes()
        try:
            for outcome in outcomes:
                if outcome.status == 304:
                    settle(outcome)
                yield outcome
        finally:
            outcomes.close()

    def results(self) -> Generator[Result, None, None]:
        settle = self._previous.settle
        results = self._run.results()
        try:
            for result in results:
                if result.status == 304:
                    settle(result)
                yield result
        finally:
            results.close()

    def positioned(self) -> Iterator[tuple[int, Result]]:
        settle = self._previous.settle
        for position, result in self._run.positioned():
            if result.status == 304:
                settle(result)
            yield position, result

    def statistics(self) -> Statistics:
        return self._run.statistics()

    def stop(self, grace: float = 5.0) -> None:
        self._run.stop(grace)

    def announcement(self) -> str | None:
        return self._run.announcement()

    @property
    def unfinished(self) -> int:
        return self._run.unfinished
