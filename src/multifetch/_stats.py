"""``Statistics``: a frozen snapshot of a run, cheap to take, polled by progress displays."""

from __future__ import annotations

from dataclasses import dataclass, field


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

    @property
    def rate(self) -> float:
        """Records a second on average."""
        return self.done / self.elapsed if self.elapsed > 0 else 0.0
