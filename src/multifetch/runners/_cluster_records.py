"""Records made where they are fetched: a cluster worker turns outcomes into part-file lines.

The same record as the command line writes (fields, ``--include-headers``, ``--record-retries``,
secrets masked), and the small summary the driver tallies instead of the records themselves.
"""

from __future__ import annotations

from typing import Any

from ..engine._headers import Headers
from ..engine._job import Job
from ..engine._result import Result
from ..outputs._jsonl import encode_line
from ..outputs._redact import Redactor
from ..outputs._sinks import RECORD_FIELDS
from ..report._summary import SummaryBuilder


class RecordMaker:
    """Turns an outcome (a ``Job`` or a ``Result``) into its record; picklable, sent to workers."""

    def __init__(self, fields: tuple[str, ...] = RECORD_FIELDS, secret_params: tuple[str, ...] = ()) -> None:
        self.fields = fields
        self.secret_params = secret_params
        self._redactor = Redactor(secret_params)

    def record(self, outcome: Job | Result) -> dict[str, Any]:
        record = outcome.to_record()
        fields = self.fields
        if "headers" in fields:
            record["headers"] = _headers(outcome)
        if "retries" in fields:
            record["retries"] = outcome.retries or []
        url, final_url = record["url"], record["final_url"]
        if self.secret_params or "headers" in fields or record["error"] is not None or "@" in url or (
                final_url is not None and "@" in final_url):
            self._redactor.record(record)
        return record

    def line(self, record: dict[str, Any]) -> bytes:
        if len(record) != len(self.fields):
            record = {f: record.get(f) for f in self.fields}
        return encode_line(record)


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


def _headers(outcome: Job | Result) -> dict[str, str] | None:
    if outcome.status is None:
        return None
    if isinstance(outcome, Result):
        return dict(outcome.headers)
    return dict(Headers.from_raw(outcome.raw_headers or []))
