"""Rate limits as token buckets (GCRA form) with an injected clock.

The bucket starts with ``burst`` tokens (1 unless asked), so no one-second window ever sees
more than the rate, from the very first second:

    >>> clock = iter([0.0, 0.0, 0.5]).__next__
    >>> bucket = TokenBucket(rate=2.0, clock=clock)
    >>> bucket.try_acquire(), bucket.try_acquire(), bucket.try_acquire()
    (0.0, 0.5, 0.0)
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from .._errors import UsageError

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*(\d*)\s*(s|sec|second|m|min|minute|h|hour))?\s*$")
_UNIT = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}


def parse_rate(text: str | float) -> float:
    """Requests per second from ``"50/s"``, ``"3000/m"``, ``"10/5s"``, ``"2/h"`` or a number."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        value = float(text)
    else:
        match = _RATE.match(str(text))
        if not match:
            raise UsageError(f"bad rate {text!r}: use a form like 50/s, 3000/m or 100/h")
        count, per, unit = match.groups()
        value = float(count) / ((int(per) if per else 1) * _UNIT[unit or "s"])
    if value <= 0:
        raise UsageError(f"rate must be above zero, not {text!r}")
    return value


class TokenBucket:
    """At most ``rate`` acquisitions a second, ``burst`` of them back to back."""

    __slots__ = ("_clock", "_interval", "_tat", "burst", "rate")

    def __init__(
        self, rate: float, burst: int = 1, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise UsageError("a rate limit needs rate > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._interval = _interval(rate)
        self._clock = clock
        self._tat: float | None = None  # theoretical arrival time of the next token

    def set_rate(self, rate: float) -> None:
        """Change the rate from now on (used by the adaptive slow-down)."""
        self.rate = rate
        self._interval = _interval(rate)

    def wait_time(self, now: float | None = None) -> float:
        """Seconds until an acquisition would succeed (0.0: now)."""
        if self._tat is None:
            return 0.0
        now = self._clock() if now is None else now
        allowed_at = self._tat - (self.burst - 1) * self._interval
        return max(0.0, allowed_at - now)

    def full(self, now: float) -> bool:
        """Whether every token is back (a bucket made anew would be the same)."""
        return self._tat is None or self._tat <= now

    def try_acquire(self, now: float | None = None) -> float:
        """Take a token and return 0.0, or take nothing and return the seconds to wait."""
        now = self._clock() if now is None else now
        wait = self.wait_time(now)
        if wait > 0.0:
            return wait
        tat = self._tat if self._tat is not None and self._tat > now else now
        self._tat = tat + self._interval
        return 0.0


def _interval(rate: float) -> float:
    # A hair longer than 1/rate, so float rounding can never fit rate + 1 grants in one second.
    return (1.0 / rate) * (1.0 + 1e-9)


_BYTES = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?(?:\s*/\s*s)?\s*$", re.IGNORECASE)
_BYTE_FACTOR = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def parse_bytes_rate(value: int | str | None) -> int | None:
    """Bytes a second from ``1048576``, ``"100K"``, ``"1M"``, ``"2G/s"`` (powers of 1024, as curl's
    ``--limit-rate`` counts them); None stays None."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        match = _BYTES.match(str(value))
        if not match:
            raise UsageError(f"bad transfer rate {value!r}: use bytes a second or a suffix, like 100K or 1M")
        number = int(float(match.group(1)) * _BYTE_FACTOR[match.group(2).lower()])
    if number < 1:
        raise UsageError(f"a transfer rate must be at least 1 byte a second, not {value!r}")
    return number
