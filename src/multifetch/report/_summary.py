"""The run summary: built incrementally from records, so it costs nothing to keep for huge runs.

One vocabulary, the same in the summary, the report, the API and the README: a record is
**answered** when an HTTP status came back (any status, 404 and 500 too; ``error`` is null),
**ok** when that status is below 400 (2xx/3xx: what ``Result.ok`` says), and an **error** when
no answer came (``error`` set). ``records`` = ``answered`` + ``errors``.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from ._hosts import HostTable, host_of
from ._sketch import LatencySketch


def is_ok(status: int | None) -> bool:
    """An answer ``Result.ok`` calls ok: a status below 400."""
    return isinstance(status, int) and status < 400


class SummaryBuilder:
    """Feed it records (``add``); ``summary()`` gives the figures, with stable keys."""

    def __init__(self) -> None:
        self._clear()

    def _clear(self) -> None:
        self.statuses: dict[int, int] = {}
        self.errors: Counter[str] = Counter()
        self.error_examples: dict[str, dict[str, str]] = {}
        self.bytes = 0
        self.retries = 0
        self.unchanged = 0  # 304 answers to a conditional request (--since)
        # the run's counts and latencies are the hosts' added up at the end, so a record costs one
        # sketch update, not two
        self.hosts = HostTable()
        self.proxies: dict[str, list[int]] = {}  # proxy -> [records, answered, errors] (a proxy pool's)

    def add(self, record: dict[str, Any]) -> None:
        entry = self.hosts.row(host_of(record))
        entry[0] += 1
        proxy = record.get("proxy")
        if proxy is not None:
            self._count_proxy(proxy, record["error"] is None)
        attempts = record["attempts"]
        if attempts > 1:
            self.retries += attempts - 1
        error = record["error"]
        if error:
            kind = error["kind"]
            self.errors[kind] += 1
            entry[1] += 1
            if kind not in self.error_examples:
                self.error_examples[kind] = {"id": record["id"], "url": record["url"],
                                             "message": error["message"]}
            return
        status = record["status"]
        statuses = self.statuses
        statuses[status] = statuses.get(status, 0) + 1
        if status == 304 and record.get("unchanged"):
            self.unchanged += 1  # its size is the previous body's: none of it came this time
        else:
            self.bytes += record["size"]
        entry[2].add(record["elapsed"])

    def _count_proxy(self, proxy: str, answered: bool) -> None:
        row = self.proxies.get(proxy)
        if row is None:
            row = self.proxies[proxy] = [0, 0, 0]
        row[0] += 1
        row[1 if answered else 2] += 1

    def absorb(self, other: SummaryBuilder) -> None:
        """Take every figure of ``other`` (the same as adding its records here), leaving it empty."""
        for status, n in other.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + n
        self.errors.update(other.errors)
        for kind, example in other.error_examples.items():
            self.error_examples.setdefault(kind, example)
        self.bytes += other.bytes
        self.retries += other.retries
        self.unchanged += other.unchanged
        self.hosts.absorb(other.hosts)
        for proxy, (records, answered, errors) in other.proxies.items():
            row = self.proxies.setdefault(proxy, [0, 0, 0])
            row[0] += records
            row[1] += answered
            row[2] += errors
        other._clear()

    @property
    def records(self) -> int:
        return self.hosts.requests

    @property
    def latencies(self) -> LatencySketch:
        """Every answered request's latency: the hosts' sketches merged."""
        return self.hosts.latencies()

    def summary(self, wall_seconds: float, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        lat = self.latencies
        records = self.records
        hosts = self.hosts.figures()
        slowest = sorted((h for h in hosts if h["p50"] is not None), key=lambda h: -h["p50"])[:5]
        failing = sorted((h for h in hosts if h["errors"]), key=lambda h: -h["errors"])[:5]
        out: dict[str, Any] = {
            "records": records,
            "answered": sum(self.statuses.values()),
            "ok": sum(n for status, n in self.statuses.items() if is_ok(status)),
            "errors": sum(self.errors.values()),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "error_kinds": {
                k: {"count": v, "example": self.error_examples[k]}
                for k, v in self.errors.most_common()
            },
            "latency": {
                "p50": lat.quantile(0.5),
                "p90": lat.quantile(0.9),
                "p99": lat.quantile(0.99),
                "max": lat.max,
                "mean": lat.mean,
            },
            "wall_seconds": round(wall_seconds, 3),
            "throughput": round(records / wall_seconds, 1) if wall_seconds > 0 else None,
            "bytes": self.bytes,
            "retries": self.retries,
            "robots_disallowed": self.errors.get("robots_disallowed", 0),
            "unchanged": self.unchanged,
            "slowest_hosts": slowest,
            "most_failing_hosts": failing,
        }
        if self.proxies:  # the records' proxies (each record names the one of its last attempt)
            out["proxies"] = [{"proxy": proxy, "records": n, "answered": answered, "errors": errors}
                              for proxy, (n, answered, errors) in sorted(self.proxies.items())]
        if extra:
            out.update(extra)
        return out
