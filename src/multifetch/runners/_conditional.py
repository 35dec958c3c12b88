"""A run whose requests were made conditional by a previous run's output (``--since``).

Whatever runs the requests — the local engine, engine processes, a cluster — the outcomes come
back here, in the process that read the previous output: each ``304`` to a conditional request
is settled by it (``unchanged``, and the previous body's size, hash and file) before anyone sees it.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, TypeVar, cast

from ..outputs._since import PreviousRun
from ._run import Run

if TYPE_CHECKING:
    from ..engine._job import Job
    from ..engine._result import Result
    from ..engine._stats import Statistics


_Outcome = TypeVar("_Outcome", "Job", "Result")


class ConditionalRun:
    """``run``, its outcomes settled by ``previous``."""

    def __init__(self, run: Run, previous: PreviousRun) -> None:
        self._run = run
        self._previous = previous

    def outcomes(self) -> Generator[Job, None, None] | Generator[Result, None, None]:
        outcomes = self._run.outcomes()  # one kind or the other, as the run makes them
        return self._settled(cast("Generator[Job, None, None]", outcomes))

    def results(self) -> Generator[Result, None, None]:
        return self._settled(self._run.results())

    def _settled(self, outcomes: Generator[_Outcome, None, None]) -> Generator[_Outcome, None, None]:
        """``outcomes`` with each 304 settled; closing this closes them."""
        settle = self._previous.settle
        try:
            for outcome in outcomes:
                if outcome.status == 304:
                    settle(outcome)
                yield outcome
        finally:
            outcomes.close()

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
