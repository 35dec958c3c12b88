"""Records made where they are fetched: a cluster worker turns outcomes into one part file's bytes.

The same record as the command line writes (fields, ``--include-headers``, ``--record-retries``,
secrets masked), and the small summary the driver tallies instead of the records themselves. A part
is built whole in memory, then committed in one write (``PartFolder.commit``): as JSONL lines
(``PartLines``), or as one Parquet file with the fixed schema of the Parquet output (``PartRows``).
"""

from __future__ import annotations

import io
from typing import Any

from ..engine._job import Job
from ..engine._result import Result
from ..report._summary import SummaryBuilder
from ._record_maker import RecordMaker

#: The formats a part folder's parts can have, and the extension each part name ends in.
PART_EXTENSIONS = {"jsonl": ".jsonl", "parquet": ".parquet"}


class PartLines:
    """One JSONL part's lines, and the summary of its records."""

    extension = ".jsonl"

    def __init__(self, maker: RecordMaker) -> None:
        self._maker = maker
        self.lines: list[bytes] = []
        self.summary = SummaryBuilder()

    def add(self, outcome: Job | Result) -> None:
        record = self._maker.record(outcome)
        self.summary.add(record)
        self.lines.append(self._maker.line(record))

    @property
    def count(self) -> int:
        return len(self.lines)

    def data(self) -> bytes:
        return b"".join(self.lines)


class PartRows:
    """One Parquet part's records, and their summary; ``data()`` is the whole Parquet file.

    Same schema as the Parquet output (``outputs/_arrow``), whatever the records hold, so every part
    of a run (and of any run with the same ``--fields``) reads as one dataset.
    """

    extension = ".parquet"

    def __init__(self, maker: RecordMaker) -> None:
        self._fields = maker.fields
        self._maker = maker
        self.records: list[dict[str, Any]] = []
        self.summary = SummaryBuilder()

    def add(self, outcome: Job | Result) -> None:
        record = self._maker.record(outcome)
        self.summary.add(record)
        self.records.append(record)

    @property
    def count(self) -> int:
        return len(self.records)

    def data(self) -> bytes:
        import pyarrow.parquet as pq  # only a Parquet part needs pyarrow

        from ..outputs._arrow import batch_from_records, schema_for

        schema = schema_for(self._fields)
        buffer = io.BytesIO()
        with pq.ParquetWriter(buffer, schema) as writer:
            writer.write_batch(batch_from_records(self.records, schema))
        return buffer.getvalue()


def part_records(maker: RecordMaker, fmt: str) -> PartLines | PartRows:
    """An empty part of format ``fmt`` (``"jsonl"`` or ``"parquet"``)."""
    return PartRows(maker) if fmt == "parquet" else PartLines(maker)


def part_name(chunk: str, fmt: str) -> str:
    """The part that holds the records of input chunk ``chunk`` (``f00003-l0001-c00000.pickle``)."""
    return "part-" + chunk.rsplit(".", 1)[0] + PART_EXTENSIONS[fmt]
