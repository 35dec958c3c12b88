"""One pass over the records, into figures small enough to draw: the report never holds records."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .._errors import ErrorKind
from ..outputs._records import read_records
from ._hosts import HostTable, host_of
from ._sketch import LatencySketch
from ._summary import is_ok

# Latency histogram buckets: log-spaced from 0.1 ms to 100 s.
LATENCY_EDGES = [10 ** (e / 4) / 10_000 for e in range(0, 25)]
TIME_BUCKETS = 120


@dataclass
class Aggregate:
    """The figures of a report. ``answered``: records with an HTTP status (any); ``ok``: those
    below 400, as ``Result.ok``; ``errors``: records without an answer (see ``_summary``)."""

    records: int = 0
    answered: int = 0
    ok: int = 0
    errors: int = 0
    first: float | None = None
    last: float | None = None
    latency_hist: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_EDGES) + 1))
    latency: dict[str, float | None] = field(default_factory=dict)
    statuses: Counter[str] = field(default_factory=Counter)
    error_kinds: Counter[str] = field(default_factory=Counter)
    # per time bucket: record count, and counts by status class / error kind
    bucket_seconds: float = 1.0
    throughput: list[int] = field(default_factory=list)
    status_series: dict[str, list[int]] = field(default_factory=dict)
    error_series: dict[str, list[int]] = field(default_factory=dict)
    hosts: list[dict[str, Any]] = field(default_factory=list)


def _epoch(text: object) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def aggregate(path: str) -> Aggregate:
    """Two passes over the file (the first finds the time span), constant memory but latencies."""
    agg = Aggregate()
    for record in read_records(path):
        started = _epoch(record.get("started_at"))
        if started is not None:
            agg.first = started if agg.first is None else min(agg.first, started)
            agg.last = started if agg.last is None else max(agg.last, started)
    span = max((agg.last or 0) - (agg.first or 0), 1.0)
    agg.bucket_seconds = max(span / TIME_BUCKETS, 0.001)
    n_buckets = int(span / agg.bucket_seconds) + 1
    agg.throughput = [0] * n_buckets
    status_series: dict[str, list[int]] = defaultdict(lambda: [0] * n_buckets)
    error_series: dict[str, list[int]] = defaultdict(lambda: [0] * n_buckets)
    latencies = LatencySketch()
    per_host = HostTable()
    for record in read_records(path):
        agg.records += 1
        started = _epoch(record.get("started_at"))
        bucket = None
        if started is not None and agg.first is not None:
            bucket = min(int((started - agg.first) / agg.bucket_seconds), n_buckets - 1)
            agg.throughput[bucket] += 1
        entry = per_host.row(host_of(record))
        entry[0] += 1
        error = record.get("error")
        if error:
            kind = str(error.get("kind", ErrorKind.OTHER)) if isinstance(error, dict) else ErrorKind.OTHER
            agg.errors += 1
            agg.error_kinds[kind] += 1
            entry[1] += 1
            if bucket is not None:
                error_series[kind][bucket] += 1
            continue
        agg.answered += 1
        if is_ok(record.get("status")):
            agg.ok += 1
        status = str(record.get("status"))
        agg.statuses[status] += 1
        if bucket is not None:
            status_series[f"{status[0]}xx"][bucket] += 1
        elapsed = float(record.get("elapsed") or 0.0)
        latencies.add(elapsed)
        entry[2].add(elapsed)
        agg.latency_hist[_latency_bucket(elapsed)] += 1
    agg.latency = {q: latencies.quantile(v) for q, v in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))}
    agg.latency["max"] = latencies.max
    agg.status_series = dict(sorted(status_series.items()))
    agg.error_series = dict(sorted(error_series.items()))
    agg.hosts = sorted(per_host.figures(), key=lambda h: -h["requests"])  # the busiest first
    return agg


def _latency_bucket(seconds: float) -> int:
    if seconds <= LATENCY_EDGES[0]:
        return 0
    index = int(math.log10(seconds * 10_000) * 4) + 1
    return min(max(index, 0), len(LATENCY_EDGES))
