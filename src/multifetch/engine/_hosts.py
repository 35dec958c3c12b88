"""Per-host state: the queue, the limits in force, adaptive slow-down and dead-host detection."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from ._job import Job
from ._ratelimit import TokenBucket

# A pace learned from Retry-After (``Host.pace``): at most this many seconds between requests,
# 10 % quicker after each 10 answers in a row that kept it, and none once it reaches 100 a second.
PACE_MAX = 10.0
QUICKEN_AFTER = 10
QUICKEN_BY = 1.1
UNPACED_RATE = 100.0


@dataclass(frozen=True, kw_only=True, slots=True)
class HostHealth:
    """Adaptive slow-down and dead-host settings.

    A 429 or 503 multiplies the host's concurrency and rate by ``decrease`` (never below one
    connection or ``min_rate``); each success adds back ``increase`` of the configured values.
    ``failures`` consecutive connection failures pause the host for ``cooldown`` seconds; after
    ``pauses`` such pauses its remaining requests fail fast as ``host_unavailable``.
    """

    adaptive: bool = True
    decrease: float = 0.5
    increase: float = 0.02
    min_rate: float = 0.2
    failures: int = 5
    cooldown: float = 10.0
    pauses: int = 2


class Host:
    """One origin's queue and limits."""

    __slots__ = (
        "active",
        "base_rate",
        "bucket",
        "clock",
        "conn_failures",
        "dead",
        "factor",
        "first_attempts",
        "in_ready",
        "kept_pace",
        "latency",
        "limit",
        "name",
        "paused_until",
        "pauses",
        "queue",
        "repeated",
        "retries",
        "slowdowns",
        "streak",
        "tail",
        "wake_at",
        "wanting",
    )

    def __init__(
        self, name: str, limit: int, rate: float | None, burst: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.limit = limit
        self.queue: deque[Job] = deque()
        # Read while older requests of this host wait on disk (``_spill``): they go after those.
        self.tail: deque[Job] = deque()
        self.active = 0
        self.in_ready = False
        self.repeated = False  # a second request of it was read (``Frontier``: the window grows)
        self.latency = 0.0  # a moving average of its attempts' seconds (``Latency.note``)
        self.wanting = False  # in ``Frontier.wanting``
        self.wake_at = 0.0  # when its timer (a pause's end, a token) fires, if one is set
        self.streak = 0  # requests started on connections its own transfers freed, since its last turn
        self.base_rate = rate
        self.clock = clock
        self.kept_pace = 0  # answers in a row, not 429/503, at a pace learned from Retry-After
        self.bucket = TokenBucket(rate, burst, clock) if rate else None
        self.factor = 1.0  # adaptive share of the configured concurrency and rate
        self.first_attempts = 0
        self.retries = 0
        self.conn_failures = 0
        self.pauses = 0
        self.paused_until = 0.0
        self.dead = False
        self.slowdowns = 0

    @property
    def effective_limit(self) -> int:
        return max(1, int(self.limit * self.factor))

    def forgettable(self, now: float) -> bool:
        """Nothing of this host waits or runs, and it knows nothing a ``Host`` made anew would
        not: no pace learned from Retry-After, no slow-down, failures, pause or retries (none
        parked), and its configured bucket is full."""
        bucket = self.bucket
        return (not self.queue and not self.tail and not self.active and not self.in_ready
                and not self.wanting and not self.dead and not self.retries and not self.slowdowns
                and not self.conn_failures and not self.pauses and self.factor == 1.0
                and self.paused_until <= now and self.wake_at <= now
                and (bucket is None or (self.base_rate is not None and bucket.full(now))))

    def has_room(self) -> bool:
        return self.active < self.effective_limit

    def slow_down(self, health: HostHealth) -> None:
        if not health.adaptive:
            return
        self.factor = max(self.factor * health.decrease, 1.0 / self.limit)
        self.slowdowns += 1
        self._apply_rate(health)

    def speed_up(self, health: HostHealth) -> None:
        if self.factor < 1.0:
            self.factor = min(1.0, self.factor + health.increase)
            self._apply_rate(health)
        if self.base_rate is None and self.bucket is not None:  # a pace learned from Retry-After
            self.kept_pace += 1
            if self.kept_pace >= QUICKEN_AFTER:
                self.kept_pace = 0
                rate = self.bucket.rate * QUICKEN_BY
                if rate >= UNPACED_RATE:
                    self.bucket = None
                else:
                    self.bucket.set_rate(rate)

    def pace(self, retry_after: float, health: HostHealth) -> None:
        """A 429/503 asked for ``retry_after`` seconds: besides the pause, requests start at most
        one per that many seconds (``PACE_MAX`` at the slowest), quickening by ``QUICKEN_BY``
        after each ``QUICKEN_AFTER`` answers in a row at that pace. A host that limits its
        clients' rate (one request a second, say) then gets requests as it takes them: with
        only its concurrency halved, every other request came too soon, was refused and paused
        the host again (measured on hosts taking one a second, 20 requests each: about one
        accepted per two seconds, five of them still 429 after their retries). Not when the
        user (``--per-host-rate``) or robots.txt (Crawl-delay) set the host's rate."""
        if not health.adaptive or self.base_rate is not None:
            return
        rate = 1.0 / min(max(retry_after, 1e-3), PACE_MAX)
        self.kept_pace = 0
        if self.bucket is None:
            self.bucket = TokenBucket(rate, 1, self.clock)
        elif rate < self.bucket.rate:
            self.bucket.set_rate(rate)

    def _apply_rate(self, health: HostHealth) -> None:
        # Without a configured rate, concurrency is the lever: fewer connections, and the
        # retried requests wait out their backoff or Retry-After.
        if self.bucket is not None and self.base_rate is not None:
            self.bucket.set_rate(max(health.min_rate, self.base_rate * self.factor))

    def note_answer(self) -> None:
        self.conn_failures = 0
        self.pauses = 0

    def note_connect_failure(self, health: HostHealth, now: float) -> None:
        """Count a connection failure; pause or give the host up when they pile up."""
        self.conn_failures += 1
        if self.conn_failures >= health.failures and self.paused_until <= now:
            self.pauses += 1
            self.conn_failures = 0
            if self.pauses > health.pauses:
                self.dead = True
            else:
                self.paused_until = now + health.cooldown
