"""``Ledger``: the run's books (jobs pending, attempts, retries, outcomes) and the hand-off of final jobs."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from ._job import Job
from ._robots import RobotsGate, is_robots


class Ledger:
    """The hand-off to the consumer and the run's counters.

    ``handoff`` holds final jobs until the consumer takes them from its own thread (deque's append
    and popleft are atomic); they count against the window until then. ``pending`` counts the jobs
    read and not yet final: the parts that make a job add one, ``finish`` takes it off.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.handoff: deque[Job] = deque()
        self.held_since = 0.0  # when the hand-off last went from empty to holding a job
        self.pending = 0
        self.done = 0
        self.attempts = 0
        self.retries = 0
        self.bytes = 0
        self.errors: dict[str, int] = {}
        self.statuses: dict[int, int] = {}
        self.robots: RobotsGate | None = None  # set when robots.txt is obeyed (``_robots``)

    def finish(self, job: Job) -> None:
        """``job`` is final: count its outcome and hand it to the consumer."""
        if self.robots is not None and is_robots(job):
            self.robots.learned(job)  # a robots.txt request: not an input, no record
            return
        self.pending -= 1
        self.done += 1
        kind = job.error_kind
        if kind is None:
            status = job.status or 0
            self.statuses[status] = self.statuses.get(status, 0) + 1
            self.bytes += job.size
        else:
            self.errors[kind] = self.errors.get(kind, 0) + 1
        if not self.handoff:
            self.held_since = self._clock()
        self.handoff.append(job)
