"""Immutable run settings: ``Limits``, ``Timeouts`` and ``RetryPolicy``.

``RetryPolicy`` never sleeps: it says how long to wait, and the scheduler parks the request.

    >>> policy = RetryPolicy(retries=3, backoff=0.5)
    >>> policy.delay(attempt=1, method="GET", status=503) is not None
    True
    >>> policy.delay(attempt=1, method="POST", status=503) is None
    True
"""

from __future__ import annotations

import operator
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, SupportsIndex

from .._errors import ErrorKind, SettingError, UsageError
from ._ratelimit import parse_rate

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})


def whole_number(value: object, name: str, *, least: int) -> int:
    """``value`` as an ``int``: an int, NumPy's integers, or a float with nothing after the point
    (``1e6``); anything else, or less than ``least``, is refused by ``name``."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, SupportsIndex) and not isinstance(value, bool):
        number = operator.index(value)
        if number >= least:
            return number
    raise SettingError((name,), f"must be a whole number ≥ {least}, not {value!r}")


@dataclass(frozen=True, kw_only=True, slots=True)
class Timeouts:
    """``connect``: DNS + TCP + TLS; ``total``: one whole attempt. Seconds."""

    connect: float = 10.0
    total: float = 60.0

    def __post_init__(self) -> None:
        if self.connect <= 0 or self.total <= 0:
            raise UsageError("timeouts must be above zero")


@dataclass(frozen=True, kw_only=True, slots=True)
class Limits:
    """How much at once and how fast.

    ``concurrency``: transfers in flight over all hosts. ``per_host``: in flight to one origin
    (scheme, host, port); ``host_limits`` overrides it for named hosts. ``rate`` and
    ``per_host_rate``: requests a second (``"50/s"``, ``"3000/m"``); ``burst``: how many may go
    back to back before the rate applies.

        >>> Limits(concurrency=100, per_host=8, per_host_rate="5/s").per_host_rate
        5.0
    """

    concurrency: int = 64
    per_host: int = 8
    rate: float | None = None
    per_host_rate: float | None = None
    burst: int = 1
    host_limits: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("concurrency", "per_host", "burst"):
            object.__setattr__(self, name, whole_number(getattr(self, name), name, least=1))
        for name in ("rate", "per_host_rate"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, parse_rate(value))
        normalized = {}
        for host, limit in self.host_limits.items():
            if int(limit) < 1:
                raise UsageError(f"host limit for {host} must be at least 1")
            normalized[_host_key(host)] = int(limit)
        object.__setattr__(self, "host_limits", normalized)

    def limit_for(self, origin: str) -> int:
        """The per-host concurrency for ``origin`` (``scheme://host[:port]``)."""
        if self.host_limits:
            hit = self.host_limits.get(origin)
            if hit is None:
                hit = self.host_limits.get(origin.split("://", 1)[-1])
            if hit is None:
                hit = self.host_limits.get(_bare_host(origin))
            if hit is not None:
                return hit
        return self.per_host

    def splits_hosts(self, parts: int) -> bool:
        """Whether every per-host limit can be split ``parts`` ways (none is smaller than ``parts``)."""
        return self.per_host >= parts and all(v >= parts for v in self.host_limits.values())

    def share(self, index: int, parts: int, *, hosts_whole: bool) -> Limits:
        """Share ``index`` of ``parts``: the ``index``-th of equal integer shares that add up to the
        whole (64 over 3: 22, 21, 21), rates divided evenly. ``hosts_whole``: each host is served by
        one part only, so its per-host limits and rate stay whole."""
        if hosts_whole:
            per_host, host_limits, per_host_rate = self.per_host, self.host_limits, self.per_host_rate
        else:
            per_host = _share(self.per_host, parts, index)
            host_limits = {k: _share(v, parts, index) for k, v in self.host_limits.items()}
            per_host_rate = None if self.per_host_rate is None else self.per_host_rate / parts
        return Limits(
            concurrency=_share(self.concurrency, parts, index),
            per_host=per_host,
            rate=None if self.rate is None else self.rate / parts,
            per_host_rate=per_host_rate,
            burst=self.burst,
            host_limits=host_limits,
        )


def _share(total: int, parts: int, index: int) -> int:
    return total // parts + (1 if index < total % parts else 0)


def _host_key(host: str) -> str:
    return host.strip().lower().rstrip("/")


def _bare_host(origin: str) -> str:
    hostport = origin.split("://", 1)[-1]
    if hostport.startswith("["):
        return hostport.split("]", 1)[0] + "]"
    return hostport.rsplit(":", 1)[0] if hostport.count(":") == 1 else hostport


@dataclass(frozen=True, kw_only=True, slots=True)
class RetryPolicy:
    """When to try again, and after how long.

    ``retries``: attempts after the first. A status in ``statuses`` or an error kind in
    ``error_kinds`` retries, for idempotent methods only unless ``retry_non_idempotent`` (or the
    request carries an ``Idempotency-Key`` header). Delay: ``Retry-After`` when the server sent one
    (capped at ``retry_after_max``), else exponential backoff with full jitter, capped at
    ``backoff_max``. ``budget``: retries to one host stay within this share of its requests
    (plus ``budget_min``), so a failing host cannot multiply the load.
    """

    retries: int = 2
    statuses: frozenset[int] = frozenset({429, 500, 502, 503, 504})
    error_kinds: frozenset[str] = frozenset({ErrorKind.CONNECT, ErrorKind.TIMEOUT, ErrorKind.RESET,
                                            ErrorKind.PROTOCOL, ErrorKind.PROXY})
    backoff: float = 0.5
    backoff_max: float = 30.0
    retry_after_max: float = 300.0
    retry_non_idempotent: bool = False
    budget: float = 0.2
    budget_min: int = 10

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise UsageError("retries must be 0 or more")
        if self.backoff < 0 or self.backoff_max < 0 or self.retry_after_max < 0:
            raise UsageError("backoff and delay caps must be 0 or more")
        object.__setattr__(self, "statuses", frozenset(self.statuses))
        object.__setattr__(self, "error_kinds", frozenset(self.error_kinds))

    def is_retryable(
        self,
        *,
        method: str,
        status: int | None = None,
        error_kind: str | None = None,
        idempotency_key: bool = False,
    ) -> bool:
        """Whether this outcome is of a kind that retries (ignoring the attempt count)."""
        if error_kind is not None:
            if error_kind not in self.error_kinds:
                return False
        elif status not in self.statuses:
            return False
        return method in IDEMPOTENT_METHODS or self.retry_non_idempotent or idempotency_key

    def delay(
        self,
        *,
        attempt: int,
        method: str,
        status: int | None = None,
        error_kind: str | None = None,
        retry_after: str | None = None,
        idempotency_key: bool = False,
        now: float | None = None,
        rng: random.Random | Any = random,
    ) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or None when ``attempt`` is final.

        ``now`` (epoch seconds) is needed for a ``Retry-After`` given as an HTTP date.
        """
        if attempt > self.retries:
            return None
        if not self.is_retryable(
            method=method, status=status, error_kind=error_kind, idempotency_key=idempotency_key
        ):
            return None
        if retry_after is not None:
            asked = parse_retry_after(retry_after, now)
            if asked is not None:
                return min(asked, self.retry_after_max)
        ceiling = min(self.backoff_max, self.backoff * (2 ** (attempt - 1)))
        return float(rng.uniform(0.0, ceiling))


def parse_retry_after(value: str, now: float | None = None) -> float | None:
    """Seconds from ``Retry-After`` (delta-seconds or HTTP-date); None when unreadable."""
    value = value.strip()
    if value.isdigit():
        return float(value)
    from email.utils import parsedate_to_datetime  # 6 ms of start-up for a rare header form

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None or now is None:
        return None
    return max(0.0, when.timestamp() - now)
