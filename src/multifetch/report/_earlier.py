"""The records a resumed output already holds, counted so that a ``--resume`` run's progress and
summary are the whole job's (earlier runs and this one), not the last run's alone."""

from __future__ import annotations

from typing import Any

from ._summary import SummaryBuilder


class EarlierRecords:
    """Feed it the records kept from earlier runs (``add``); ``count`` of them, ``summary`` of
    those that carry the summary's fields (an output written with ``--fields`` may not: such a
    record counts as a record, without a status, latency or host)."""

    def __init__(self) -> None:
        self.count = 0
        self.unfigured = 0
        self.summary = SummaryBuilder()

    def add(self, record: dict[str, Any]) -> None:
        self.count += 1
        if _figured(record):
            self.summary.add(record)
        else:
            self.unfigured += 1

    def whole_job(self, figures: dict[str, Any], this_run: int) -> dict[str, Any]:
        """``figures`` of a summary that absorbed ``self.summary``, made the whole job's: every
        earlier record counted, ``earlier_records`` said, the throughput this run's (``this_run``
        records in its ``wall_seconds``)."""
        figures["records"] += self.unfigured  # kept without the fields the other figures are made of
        figures["earlier_records"] = self.count
        wall = figures["wall_seconds"]
        figures["throughput"] = round(this_run / wall, 1) if wall > 0 else None
        return figures


def _figured(record: dict[str, Any]) -> bool:
    """Whether ``record`` has what ``SummaryBuilder.add`` reads, of the types it reads."""
    error = record.get("error", False)
    if error is None:
        if not isinstance(record.get("status"), int) or not isinstance(record.get("size"), int):
            return False
        if not isinstance(record.get("elapsed"), int | float):
            return False
    elif not (isinstance(error, dict) and isinstance(error.get("kind"), str)
              and isinstance(error.get("message"), str)):
        return False
    return (isinstance(record.get("attempts"), int) and isinstance(record.get("url"), str)
            and "id" in record)
