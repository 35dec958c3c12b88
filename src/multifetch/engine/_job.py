"""``Job``: one input's journey through the scheduler and a transport, attempt after attempt."""

from __future__ import annotations

import hashlib
from typing import Any

from .._errors import ErrorKind
from ..inputs._spec import InvalidSpec, Request
from ..outputs._redact import mask
from ._headers import validators, validators_since
from ._result import ErrorInfo, Result, Timings, iso_utc


class Job:
    """Mutable state of one request. Transports fill in the outcome of the current attempt."""

    __slots__ = (
        "archive",
        "attempt",
        "body_path",
        "content",
        "elapsed",
        "error_kind",
        "error_message",
        "final_url",
        "host",
        "http_version",
        "id",
        "native",
        "position",
        "proxy",
        "raw_headers",
        "request",
        "retries",
        "sha256",
        "size",
        "started_at",
        "status",
        "t0",
        "timings",
        "transport_state",
        "unchanged",
        "validators",
    )

    def __init__(self, request: Request, id: str, host: str, position: int) -> None:
        self.request = request
        self.id = id
        self.host = host
        self.position = position
        self.attempt = 0
        self.retries: list[dict[str, Any]] | None = None
        self.proxy: str | None = None  # the proxy of the current attempt (a proxy pool's choice)
        self.archive: list[Any] | None = None  # what each attempt sent and got, for a WARC archive
        self.transport_state: Any = None
        self.clear_outcome()

    def clear_outcome(self) -> None:
        self.status: int | None = None
        self.error_kind: str | None = None
        self.error_message = ""
        self.final_url: str | None = None
        self.raw_headers: list[bytes] | None = None
        self.content: bytes | None = None
        self.size = 0
        self.sha256: str | None = None
        self.body_path: str | None = None
        self.timings: Timings | None = None
        self.http_version = ""
        self.native: Any = None  # the transport's own answer object, when asked to keep it
        self.elapsed = 0.0
        self.started_at: float | None = None
        self.t0 = 0.0
        # A 304 to a conditional request (--since): the size, hash and file are the previous
        # run's, and so are the validators the 304 did not repeat.
        self.unchanged = False
        self.validators: tuple[str | None, str | None] | None = None

    @property
    def url(self) -> str:
        """The URL as given (the record's ``url``)."""
        return self.request.url

    def fail(self, kind: str, message: str) -> None:
        self.status = None
        self.error_kind = kind
        self.error_message = message

    def mark_unchanged(self, sha256: str | None, size: int, body_path: str | None,
                       previous: tuple[str | None, str | None]) -> None:
        """A 304 to a conditional request (``--since``): the body is the one the previous run saw."""
        self.unchanged = True
        self.sha256, self.size, self.body_path = sha256, size, body_path
        self.validators = validators_since(self.raw_headers, previous)

    def to_result(self) -> Result:
        request = self.request
        return Result(
            id=self.id,
            url=request.url,
            method=request.method,
            final_url=self.final_url,
            status=self.status,
            error=None if self.error_kind is None else ErrorInfo(self.error_kind, self.error_message),
            attempts=self.attempt,
            elapsed=self.elapsed,
            size=self.size,
            sha256=self.sha256,
            content=self.content,
            body_path=self.body_path,
            started_at=self.started_at,
            meta=request.meta,
            raw_headers=self.raw_headers,
            timings=self.timings,
            retries=self.retries,
            http_version=self.http_version,
            unchanged=self.unchanged,
            validators=self.validators,
            proxy=None if self.proxy is None else mask(self.proxy),
        )

    def to_record(self) -> dict[str, Any]:
        """``self.to_result().to_record()`` without making the ``Result``: the CLI's path, a
        record per request (tests check that the two agree)."""
        request = self.request
        kind = self.error_kind
        sha256 = self.sha256
        if sha256 is None and self.content is not None:
            sha256 = hashlib.sha256(self.content).hexdigest()
        etag, last_modified = self.validators or validators(self.raw_headers)
        return {
            "id": self.id,
            "url": request.url,
            "final_url": self.final_url,
            "method": request.method,
            "status": self.status,
            "error": None if kind is None else {"kind": kind, "message": self.error_message},
            "attempts": self.attempt,
            "elapsed": round(self.elapsed, 6),
            "size": self.size,
            "sha256": sha256,
            "body_path": self.body_path,
            "started_at": iso_utc(self.started_at),
            "meta": request.meta,
            "etag": etag,
            "last_modified": last_modified,
        }


def invalid_job(item: InvalidSpec, position: int) -> Job:
    """The job of an input that cannot be sent: final at once, ``invalid_input``."""
    job = Job(Request(url=item.text, method=item.method, meta=item.meta), item.id, "", position)
    job.fail(ErrorKind.INVALID_INPUT, item.message)
    return job
