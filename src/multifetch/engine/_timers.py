"""``Timers``: parked retries and hosts waiting for a token or a cool-down, woken when due."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable

from ._frontier import Frontier
from ._hosts import Host
from ._job import Job


class Timers:
    """A heap of ``(when, sequence, job or host)``; ``parked`` counts the jobs in it."""

    def __init__(self, frontier: Frontier, finish: Callable[[Job], None]) -> None:
        self.heap: list[tuple[float, int, Job | Host]] = []
        self._seq = itertools.count()  # ties keep their order, and jobs and hosts are never compared
        self.parked = 0
        self._hosts = frontier.hosts
        self._mark_due = frontier.mark_due
        self._finish = finish

    def add(self, when: float, what: Job | Host) -> None:
        heapq.heappush(self.heap, (when, next(self._seq), what))

    def park(self, job: Job, when: float) -> None:
        """``job`` is tried again at ``when``."""
        self.parked += 1
        heapq.heappush(self.heap, (when, next(self._seq), job))

    def wake(self, now: float) -> None:
        """Parked jobs that are due go first in their host's queue; due hosts may start again."""
        timers = self.heap
        while timers and timers[0][0] <= now:
            _, _, what = heapq.heappop(timers)
            if isinstance(what, Job):
                self.parked -= 1
                host = self._hosts[what.host]
                if host.dead:
                    self._finish(what)  # keeps its last outcome
                    continue
                host.queue.appendleft(what)  # retries go first: they are the oldest work
                self._mark_due(host)
            else:
                self._mark_due(what)

    def clear(self) -> list[Job]:
        """Take every timer off; the parked jobs, for their records."""
        jobs = [what for _, _, what in self.heap if isinstance(what, Job)]
        self.heap.clear()
        self.parked = 0
        return jobs
