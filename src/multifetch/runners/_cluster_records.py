"""Records made where they are fetched: a cluster worker turns outcomes into part-file lines.

The same record as the command line writes (fields, ``--include-headers``, ``--record-retries``,
secrets masked), and the small summary the driver tallies instead of the records themselves.
"""

from __future__ import annotations

from ..engine._job import Job
from ..engine._result import Result
from ..report._summary import SummaryBuilder
from ._record_maker import RecordMaker


class PartLines:
    """One part's lines, and the summary of its records."""

    def __init__(self, maker: RecordMaker) -> None:
        self._maker = maker
        self.lines: list[bytes] = []
        self.summary = SummaryBuilder()

    def add(self, outcome: Job | Result) -> None:
        record = self._maker.record(outcome)
        self.summary.add(record)
        self.lines.append(self._maker.line(record))

    def data(self) -> bytes:
        return b"".join(self.lines)

