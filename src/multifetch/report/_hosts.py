"""The per-host table of the run summary and of the report: requests, errors and latency by host.

A record's host is the origin (``scheme://host[:port]``) of the URL as given — the unit of the
per-host limits — and an input that could not be sent has none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._errors import ErrorKind
from ..inputs._urls import origin_of
from ._sketch import LatencySketch

NO_HOST = "(invalid input)"
# Hosts with a row of their own (in the summary, the report and the metrics); those seen after
# count together under OTHER_HOSTS, so that a run over a million hosts holds ten thousand rows.
HOST_ROWS = 10_000
OTHER_HOSTS = "(other hosts)"


def row_name(rows: Mapping[str, object], host: str) -> str:
    """The row ``host`` is counted in among ``rows``: its own, or OTHER_HOSTS once they are full."""
    return host if host in rows or len(rows) < HOST_ROWS else OTHER_HOSTS


def host_of(record: dict[str, Any]) -> str:
    """The host ``record`` is counted under ("" for an input that could not be sent)."""
    error = record.get("error")
    if error and error.get("kind") == ErrorKind.INVALID_INPUT:
        return ""
    url = record.get("url")
    return origin_of(url) if isinstance(url, str) else ""


class HostTable:
    """Figures by host, a record at a time: ``row(host)`` is ``[requests, errors, LatencySketch]``."""

    def __init__(self) -> None:
        self.rows: dict[str, list[Any]] = {}

    def row(self, host: str) -> list[Any]:
        rows = self.rows
        row = rows.get(host)
        if row is None:
            host = row_name(rows, host)
            row = rows.get(host)
            if row is None:
                row = rows[host] = [0, 0, LatencySketch()]
        return row

    def absorb(self, other: HostTable) -> None:
        """Add ``other``'s figures to these (``other`` is not to be used after)."""
        for host, theirs in other.rows.items():
            name = row_name(self.rows, host)
            row = self.rows.get(name)
            if row is None:
                self.rows[name] = theirs
            else:
                row[0] += theirs[0]
                row[1] += theirs[1]
                row[2].merge(theirs[2])

    @property
    def requests(self) -> int:
        return sum(row[0] for row in self.rows.values())

    def latencies(self) -> LatencySketch:
        """Every host's latencies in one sketch."""
        merged = LatencySketch()
        for _, _, sketch in self.rows.values():
            merged.merge(sketch)
        return merged

    def figures(self) -> list[dict[str, Any]]:
        """A row of figures a host, in the order the hosts were first seen."""
        return [
            {
                "host": host or NO_HOST,
                "requests": count,
                "errors": errors,
                "error_rate": round(errors / count, 4) if count else 0.0,
                "p50": latencies.quantile(0.5),
                "p99": latencies.quantile(0.99),
            }
            for host, (count, errors, latencies) in self.rows.items()
        ]


def ms(seconds: float | None, missing: str = "-") -> str:
    """A duration in milliseconds, for people to read."""
    return missing if seconds is None else f"{seconds * 1000:,.1f} ms"
