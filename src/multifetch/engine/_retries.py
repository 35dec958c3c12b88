"""``Retries``: whether and when a failed attempt is tried again, and a host's Retry-After pause."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable

from ._headers import Headers
from ._hosts import Host
from ._job import Job
from ._ledger import Ledger
from ._policy import RetryPolicy, parse_retry_after
from ._timers import Timers

log = logging.getLogger("multifetch")


class Retries:
    """The retry policy applied to one job's attempt, within its host's retry budget and the run's
    deadline; a retry is parked in ``timers`` until its delay has passed."""

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        timers: Timers,
        ledger: Ledger,
        clock: Callable[[], float],
        wall: Callable[[], float],
        rng: random.Random,
        deadline: float | None,
        record: bool,
    ) -> None:
        self._policy = policy
        self.statuses = policy.statuses  # statuses worth another attempt
        self._timers = timers
        self._ledger = ledger
        # ``clock`` measures the run; ``wall`` is epoch seconds, for a Retry-After given as a date.
        self._clock = clock
        self._wall = wall
        self._rng = rng
        self._deadline = deadline
        self._record = record  # keep each retry's reason on the job (its record's ``retries``)

    def pause_for_retry_after(self, job: Job, host: Host, now: float) -> float | None:
        """A 429/503 with Retry-After speaks for the host: none of its requests starts before
        then. Returns the seconds asked for, None when the answer asked for none."""
        if not job.raw_headers:
            return None
        value = Headers.from_raw(job.raw_headers).get("retry-after")
        asked = None if value is None else parse_retry_after(value, self._wall())
        if asked is None or asked <= 0:
            return None
        until = now + min(asked, self._policy.retry_after_max)
        if until > host.paused_until:
            host.paused_until = until
            log.info("%s asked to wait %.1fs (Retry-After): pausing its requests", host.name, asked)
        return asked

    def delay(self, job: Job, host: Host) -> float | None:
        """Seconds until ``job``'s next attempt, or None when this attempt is final."""
        request = job.request
        policy = self._policy
        retry_after = None
        if job.status in policy.statuses and job.raw_headers:
            retry_after = Headers.from_raw(job.raw_headers).get("retry-after")
        delay = policy.delay(
            attempt=job.attempt,
            method=request.method,
            status=job.status,
            error_kind=job.error_kind,
            retry_after=retry_after,
            idempotency_key=any(k.lower() == "idempotency-key" for k, _ in request.headers),
            now=self._wall(),
            rng=self._rng,
        )
        if delay is None or host.dead:
            return None
        allowed = max(policy.budget_min, policy.budget * host.first_attempts)
        if host.retries >= allowed:
            log.info("retry budget of %s spent: %s is final", host.name, job.id)
            return None
        if self._deadline is not None and self._clock() + delay >= self._deadline:
            return None
        return delay

    def park(self, job: Job, host: Host, delay: float, now: float) -> None:
        """``job`` waits ``delay`` seconds for its next attempt."""
        what = f"status {job.status}" if job.error_kind is None else job.error_kind
        log.info("retrying %s (%s) in %.2fs, attempt %d", job.id, what, delay, job.attempt + 1)
        if self._record:
            if job.retries is None:
                job.retries = []
            job.retries.append(
                {"status": job.status, "error": job.error_kind, "delay": round(delay, 3)}
            )
        host.retries += 1
        self._ledger.retries += 1
        self._timers.park(job, now + delay)
