"""An outcome (a finished ``Job``, or a ``Result``) made into its record: the one place for it.

The command line writes these records, and so does a cluster worker into its part files: the
fields chosen (``--fields``), what options add (``--include-headers``, ``--record-retries``,
``--since``, ``--proxy-file``), and secrets masked (``--secret-param``, URL userinfo).
"""

from __future__ import annotations

from typing import Any

from ..engine._headers import Headers
from ..engine._job import Job
from ..engine._result import Result
from ..outputs._jsonl import encode_line
from ..outputs._redact import Redactor, mask
from ..outputs._sinks import RECORD_FIELDS


class RecordMaker:
    """Turns an outcome into its record; picklable (sent to cluster workers)."""

    def __init__(self, fields: tuple[str, ...] = RECORD_FIELDS, secret_params: tuple[str, ...] = ()) -> None:
        self.fields = fields
        self.secret_params = secret_params
        self._redact = Redactor(secret_params).record
        # said once, not looked up in ``fields`` for every record (the command line's hot path)
        self._headers = "headers" in fields
        self._retries = "retries" in fields
        self._unchanged = "unchanged" in fields
        self._proxy = "proxy" in fields
        self._timings = "timings" in fields
        # Most records hold nothing to mask: they skip the redactor unless secret parameters or
        # headers are asked for, or a URL has userinfo, or an error message may quote one.
        self._redact_all = bool(secret_params) or self._headers

    def record(self, outcome: Job | Result) -> dict[str, Any]:
        record = outcome.to_record()
        if self._headers:
            record["headers"] = headers_of(outcome)
        if self._retries:
            record["retries"] = outcome.retries or []
        if self._unchanged:
            record["unchanged"] = outcome.unchanged
        if self._timings:
            record["timings"] = timings_of(outcome)
        if self._proxy:
            # a Result's proxy is masked already; a Job's is what the transport used
            record["proxy"] = outcome.proxy if isinstance(outcome, Result) or outcome.proxy is None \
                else mask(outcome.proxy)
        final_url = record["final_url"]
        if self._redact_all or record["error"] is not None or "@" in record["url"] or (
                final_url is not None and "@" in final_url):
            self._redact(record)
        return record

    def line(self, record: dict[str, Any]) -> bytes:
        """The record as a JSONL line of the chosen fields, in their order."""
        if len(record) != len(self.fields):
            record = {f: record.get(f) for f in self.fields}
        return encode_line(record)


def timings_of(outcome: Job | Result) -> dict[str, float] | None:
    """Seconds from the attempt's start to each phase (``--fields ...,timings``); None when the
    engine measured none. A reused connection's ``connect`` and ``tls`` are 0."""
    timings = outcome.timings
    if timings is None:
        return None
    return {phase: round(seconds, 6) for phase, seconds in zip(timings._fields, timings, strict=True)}


def headers_of(outcome: Job | Result) -> dict[str, str] | None:
    """The answer's headers for ``--include-headers``; None when there was no answer."""
    if outcome.status is None:
        return None
    if isinstance(outcome, Result):
        return dict(outcome.headers)
    return dict(Headers.from_raw(outcome.raw_headers or []))
