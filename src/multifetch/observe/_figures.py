"""The progress figures every display shows: done / total, rate now and on average, ETA.

One computation for the terminal, the notebook and the plain status lines, so they agree. A
resumed run counts the whole job: ``earlier`` records from the runs before this one are done too,
while the rate (and so the ETA) comes from this run's records alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..engine._stats import Statistics

_WINDOW = 5.0  # seconds of samples behind the rate "now"


@dataclass(frozen=True, slots=True)
class Figures:
    done: int  # records of the whole job: earlier runs and this one
    total: int | None  # the job's inputs, when known
    rate_now: float  # records a second over the last few seconds
    rate: float  # records a second since this run began
    eta: float | None  # seconds left, when the total and a rate are known
    stats: Statistics

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(1.0, self.done / self.total)

    @property
    def errors(self) -> int:
        return sum(self.stats.errors.values())


class JobProgress:
    """The whole job's progress: turns ``Statistics`` snapshots into ``Figures``, at any pace."""

    def __init__(self, earlier: int = 0, total: int | None = None) -> None:
        self.earlier = earlier
        self.total = total
        self._samples: list[tuple[float, int]] = []

    def figures(self, stats: Statistics, now: float | None = None) -> Figures:
        now = time.monotonic() if now is None else now
        samples = self._samples
        samples.append((now, stats.done))
        while len(samples) > 2 and now - samples[0][0] > _WINDOW:
            samples.pop(0)
        first_t, first_done = samples[0]
        rate_now = (stats.done - first_done) / (now - first_t) if now > first_t else stats.rate
        done = self.earlier + stats.done
        total = self.total
        eta = None
        pace = rate_now or stats.rate
        if total is not None and pace > 0 and total >= done:
            eta = (total - done) / pace
        return Figures(done=done, total=total, rate_now=rate_now, rate=stats.rate, eta=eta, stats=stats)


def bytes_text(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024:
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} TB"


def duration_text(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


def done_text(figures: Figures) -> str:
    """``1,234 / 10,000 (12.3%)``, or ``1,234`` when the total is not known."""
    if figures.total is None:
        return f"{figures.done:,}"
    fraction = figures.fraction or 0.0
    return f"{figures.done:,} / {figures.total:,} ({fraction:.1%})"


def progress_parts(figures: Figures, *, ended: bool = False, reasons: bool = True) -> list[str]:
    """Where the run is, in short phrases: done, rate, in flight, queued (and why, with
    ``reasons``), waiting to retry, errors by kind, bytes, ETA; at the end, done and how fast."""
    stats = figures.stats
    parts = [f"{done_text(figures)} done"]
    if ended:
        parts.append(f"in {duration_text(stats.elapsed)}, {figures.rate:,.0f} req/s")
    else:
        parts += [f"{figures.rate_now:,.0f} req/s (avg {figures.rate:,.0f})",
                  f"{stats.in_flight:,} in flight"]
        queued = sum(stats.waiting.values()) if stats.waiting else stats.queued
        if queued:
            why = ", ".join(f"{reason} {count:,}" for reason, count in
                            sorted(stats.waiting.items(), key=lambda item: -item[1])) if reasons else ""
            parts.append(f"{queued:,} queued" + (f" ({why})" if why else ""))
        if stats.waiting_retry:
            parts.append(f"{stats.waiting_retry:,} waiting to retry")
    if stats.errors:
        kinds = ", ".join(f"{kind} {count:,}" for kind, count in sorted(stats.errors.items()))
        parts.append(f"errors {figures.errors:,} ({kinds})")
    parts.append(bytes_text(stats.bytes))
    if figures.eta is not None and not ended:
        parts.append(f"ETA {duration_text(figures.eta)}")
    return parts
