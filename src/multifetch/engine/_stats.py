"""``Statistics``: a frozen snapshot of a run, cheap to take, polled by progress displays."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._hosts import Host


@dataclass(frozen=True, slots=True)
class HostSnapshot:
    name: str
    active: int
    queued: int
    limit: int
    effective_limit: int
    rate: float | None
    slowdowns: int
    paused: bool
    dead: bool


@dataclass(frozen=True, slots=True)
class Statistics:
    """Counts since the run began. ``done`` counts final records."""

    elapsed: float
    inputs_read: int
    done: int
    in_flight: int
    queued: int
    waiting_retry: int
    attempts: int
    retries: int
    errors: dict[str, int] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)
    bytes: int = 0
    input_exhausted: bool = False
    slowed_hosts: tuple[HostSnapshot, ...] = ()
    # Requests not started, by what they wait for: "connections" (the global limit), "host limit",
    # "slowed down" (a host's limit lowered after 429/503), "rate limit", "paused" (Retry-After or
    # failing connections), "dead host". ``on_disk`` of them wait in the frontier's file.
    waiting: dict[str, int] = field(default_factory=dict)
    on_disk: int = 0

    @property
    def rate(self) -> float:
        """Records a second on average."""
        return self.done / self.elapsed if self.elapsed > 0 else 0.0


class Tally:
    """The counts of a run whose records arrive from elsewhere (engine processes, a cluster)."""

    __slots__ = ("bytes", "done", "errors", "statuses")

    def __init__(self) -> None:
        self.done = 0
        self.errors: dict[str, int] = {}
        self.statuses: dict[int, int] = {}
        self.bytes = 0

    def add(self, result: Any) -> None:
        self.done += 1
        if result.error is not None:
            self.errors[result.error.kind] = self.errors.get(result.error.kind, 0) + 1
        else:
            status = result.status or 0
            self.statuses[status] = self.statuses.get(status, 0) + 1
            self.bytes += result.size

    def statistics(self, elapsed: float, *, inputs_read: int, in_flight: int, queued: int = 0,
                   input_exhausted: bool = False, engines: Sequence[Statistics] = ()) -> Statistics:
        """A snapshot of the records counted here. ``engines``: the latest snapshots of the engines
        that run the requests (engine processes), when they send them: what is in flight, why
        requests wait, and the attempts are theirs; ``in_flight`` and ``queued`` (this side's
        view) are the rest. Without them every record is one attempt as far as this side knows."""
        if not engines:
            return Statistics(elapsed=elapsed, inputs_read=inputs_read, done=self.done, in_flight=in_flight,
                              queued=queued, waiting_retry=0, attempts=self.done, retries=0,
                              errors=dict(self.errors), statuses=dict(self.statuses), bytes=self.bytes,
                              input_exhausted=input_exhausted)
        held = in_flight + queued  # sent to an engine, no record yet
        in_flight = min(held, sum(e.in_flight for e in engines))
        waiting_retry = min(held - in_flight, sum(e.waiting_retry for e in engines))
        waiting: dict[str, int] = {}
        for e in engines:
            for reason, count in e.waiting.items():
                waiting[reason] = waiting.get(reason, 0) + count
        return Statistics(
            elapsed=elapsed, inputs_read=inputs_read, done=self.done, in_flight=in_flight,
            queued=held - in_flight - waiting_retry, waiting_retry=waiting_retry,
            attempts=sum(e.attempts for e in engines), retries=sum(e.retries for e in engines),
            errors=dict(self.errors), statuses=dict(self.statuses), bytes=self.bytes,
            input_exhausted=input_exhausted,
            slowed_hosts=tuple(h for e in engines for h in e.slowed_hosts),
            waiting=waiting, on_disk=sum(e.on_disk for e in engines))


def slowed_hosts(hosts: Iterable[Host], now: float) -> tuple[HostSnapshot, ...]:
    """The hosts running below their limits: slowed down, paused or dead."""
    return tuple(
        HostSnapshot(
            name=h.name,
            active=h.active,
            queued=len(h.queue),
            limit=h.limit,
            effective_limit=h.effective_limit,
            rate=None if h.bucket is None else h.bucket.rate,
            slowdowns=h.slowdowns,
            paused=h.paused_until > now,
            dead=h.dead,
        )
        for h in hosts
        if h.factor < 1.0 or h.dead or h.paused_until > now
    )


def waiting_by_reason(hosts: Iterable[Host], on_disk: Mapping[str, int], now: float) -> dict[str, int]:
    """Queued requests by the reason they wait, for a display that says why little moves."""
    waiting: dict[str, int] = {}
    for h in hosts:
        count = len(h.queue) + len(h.tail) + on_disk.get(h.name, 0)
        if not count:
            continue
        if h.dead:
            reason = "dead host"
        elif h.paused_until > now:
            reason = "paused"
        elif not h.has_room():
            reason = "slowed down" if h.factor < 1.0 else "host limit"
        elif h.bucket is not None and h.bucket.wait_time(now) > 0.0:
            reason = "rate limit"
        else:
            reason = "connections"
        waiting[reason] = waiting.get(reason, 0) + count
    return waiting
