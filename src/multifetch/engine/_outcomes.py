"""``Outcomes``: what the end of an attempt means for its host and for its job."""

from __future__ import annotations

import logging
from collections.abc import Callable

from ._frontier import Frontier
from ._hosts import HostHealth
from ._job import Job
from ._ledger import Ledger
from ._retries import Retries

log = logging.getLogger("multifetch")

# Failures that count towards pausing a host. Not "dns": the lookup never reaches the host, and
# the curl engine remembers a name that failed (one question for all its requests), so pausing
# would only hold back records whose outcome is already known.
_CONNECT_KINDS = frozenset({"connect"})
_SLOW_DOWN_STATUSES = frozenset({429, 503})


class Outcomes:
    """An attempt ended: the host slows down, speeds up, pauses or is given up; the job is retried
    or final. ``retrying`` turns off once the run stops or its deadline passed: every end is final."""

    def __init__(self, frontier: Frontier, retries: Retries, ledger: Ledger, health: HostHealth,
                 clock: Callable[[], float]) -> None:
        self._frontier = frontier
        self._hosts = frontier.hosts
        self._freed = frontier.freed
        self._retries = retries
        self._retry_statuses = retries.statuses
        self._finish = ledger.finish
        self._health = health
        self._clock = clock
        self.retrying = True

    def on_attempt_end(self, job: Job) -> None:
        host = self._hosts[job.host]
        host.active -= 1
        self._freed(host, job.elapsed)
        now = self._clock()
        health = self._health
        kind = job.error_kind
        status = job.status
        if kind is None:
            host.note_answer()
            if status in _SLOW_DOWN_STATUSES:
                host.slow_down(health)
                log.info("slowing down %s: %d; concurrency now %d", host.name, status, host.effective_limit)
                asked = self._retries.pause_for_retry_after(job, host, now)
                if asked is not None:
                    host.pace(asked, health)
            elif status is not None and status < 400:
                host.speed_up(health)
        elif kind in _CONNECT_KINDS:
            host.note_connect_failure(health, now)
            if host.dead:
                log.warning("%s keeps refusing connections: failing its queued requests", host.name)
                message = f"{host.name} is not reachable (repeated connection failures)"
                self._frontier.fail_queued(host, "host_unavailable", message)
        if (kind is not None or status in self._retry_statuses) and self.retrying:
            delay = self._retries.delay(job, host)
            if delay is not None:
                self._retries.park(job, host, delay, now)
                return
        self._finish(job)
