"""The records a resumed output already holds, counted so that a ``--resume`` run's progress and
summary are the whole job's (earlier runs and this one), not the last run's alone."""

from __future__ import annotations

from typing import Any

from ._summary import SummaryBuilder


class EarlierRecords:
    """Feed it the records kept from earlier runs (``add``): ``count`` of them, and ``summary``.

    A record written with ``--fields`` may lack some of the fields the summary is made of: it
    counts as a record, with the figures it has (the summary reads a record's host and count
    first)."""

    def __init__(self) -> None:
        self.count = 0
        self.summary = SummaryBuilder()
        self._uncounted = 0  # records the summary could not even count (an error that is no object)

    def add(self, record: dict[str, Any]) -> None:
        self.count += 1
        error = record.get("error")
        if error is not None and not isinstance(error, dict):
            self._uncounted += 1
            return
        try:
            self.summary.add(record)
        except (KeyError, TypeError, AttributeError):
            pass  # counted already: see above

    def whole_job(self, figures: dict[str, Any], this_run: int) -> dict[str, Any]:
        """``figures`` of a summary that absorbed ``self.summary``, made the whole job's:
        ``earlier_records`` said, the throughput this run's (``this_run`` records in its
        ``wall_seconds``)."""
        figures["records"] += self._uncounted
        figures["earlier_records"] = self.count
        wall = figures["wall_seconds"]
        figures["throughput"] = round(this_run / wall, 1) if wall > 0 else None
        return figures
