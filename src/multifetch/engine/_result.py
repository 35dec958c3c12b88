"""``Result``: the outcome of one request, with requests-like accessors."""

from __future__ import annotations

import codecs
import hashlib
import json as jsonlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from .._errors import HTTPStatusError, exception_for
from ._headers import Headers, validators, validators_since

_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """Why a request has no usable answer: ``kind`` is one of ``ERROR_KINDS``."""

    kind: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "message": self.message}

    def __reduce__(self) -> tuple[Any, ...]:  # plain tuples cross process boundaries quickly
        return (ErrorInfo, (self.kind, self.message))


class Timings(NamedTuple):
    """Seconds from the start of the attempt to each phase, as libcurl measured them.

    A named tuple: made once a request, it costs a fifth of a frozen dataclass.
    """

    dns: float
    connect: float
    tls: float
    first_byte: float
    total: float


class Result:
    """One record per input: the answer (``status`` set) or the reason there is none (``error``)."""

    __slots__ = (
        "_content",
        "_headers",
        "_raw_headers",
        "_sha256",
        "_validators",
        "attempts",
        "body_path",
        "elapsed",
        "error",
        "final_url",
        "http_version",
        "id",
        "meta",
        "method",
        "proxy",
        "retries",
        "size",
        "started_at",
        "status",
        "timings",
        "unchanged",
        "url",
    )

    def __init__(
        self,
        *,
        id: str,
        url: str,
        method: str,
        final_url: str | None = None,
        status: int | None = None,
        error: ErrorInfo | None = None,
        attempts: int = 0,
        elapsed: float = 0.0,
        size: int = 0,
        sha256: str | None = None,
        content: bytes | None = None,
        body_path: str | None = None,
        started_at: float | None = None,
        meta: Any = None,
        raw_headers: list[bytes] | None = None,
        timings: Timings | None = None,
        retries: list[dict[str, Any]] | None = None,
        http_version: str = "",
        unchanged: bool = False,
        validators: tuple[str | None, str | None] | None = None,
        proxy: str | None = None,
    ) -> None:
        self.id = id
        self.url = url
        self.method = method
        self.final_url = final_url
        self.status = status
        self.error = error
        self.attempts = attempts
        self.elapsed = elapsed
        self.size = size
        self._sha256 = sha256
        self._content = content
        self.body_path = body_path
        self.started_at = started_at
        self.meta = meta
        self._raw_headers = raw_headers
        self._headers: Headers | None = None
        self.timings = timings
        self.retries = retries
        self.http_version = http_version
        self.unchanged = unchanged  # a 304 to --since's conditional request: the body is the previous run's
        self._validators = validators  # None: the answer's own
        self.proxy = proxy  #: the proxy that carried the last attempt (password masked), if any

    # -- requests-like accessors -------------------------------------------------------------

    @property
    def status_code(self) -> int | None:
        return self.status

    @property
    def ok(self) -> bool:
        """True for an answer below 400, as in requests; False for errors."""
        return self.error is None and self.status is not None and self.status < 400

    @property
    def headers(self) -> Headers:
        if self._headers is None:
            self._headers = Headers.from_raw(self._raw_headers or [])
        return self._headers

    @property
    def content(self) -> bytes:
        """The body; empty when it was not kept in memory (see ``body_path``)."""
        return self._content if self._content is not None else b""

    @property
    def encoding(self) -> str:
        """The charset named by Content-Type, else UTF-8 (JSON's and the web's default)."""
        match = _CHARSET.search(self.headers.get("content-type", ""))
        if match:
            try:
                return codecs.lookup(match.group(1)).name
            except LookupError:
                pass
        return "utf-8"

    @property
    def text(self) -> str:
        return self.content.decode(self.encoding, errors="replace")

    def json(self, **kwargs: Any) -> Any:
        return jsonlib.loads(self.content, **kwargs)

    @property
    def sha256(self) -> str | None:
        if self._sha256 is None and self._content is not None:
            self._sha256 = hashlib.sha256(self._content).hexdigest()
        return self._sha256

    @property
    def etag(self) -> str | None:
        """The answer's ``ETag`` (for an unchanged answer without one, the previous run's)."""
        return (self._validators or validators(self._raw_headers))[0]

    @property
    def last_modified(self) -> str | None:
        """The answer's ``Last-Modified`` (for an unchanged answer without one, the previous run's)."""
        return (self._validators or validators(self._raw_headers))[1]

    def mark_unchanged(self, sha256: str | None, size: int, body_path: str | None,
                       previous: tuple[str | None, str | None]) -> None:
        """A 304 to a conditional request (``--since``): the body is the one the previous run saw."""
        self.unchanged = True
        self._sha256, self.size, self.body_path = sha256, size, body_path
        self._validators = validators_since(self._raw_headers, previous)

    def raise_for_status(self) -> Result:
        """Raise the request's error, or ``HTTPStatusError`` for 4xx/5xx; return self otherwise."""
        if self.error is not None:
            raise exception_for(self.error.kind, self.error.message, self.url)
        if self.status is not None and self.status >= 400:
            reason = "Client Error" if self.status < 500 else "Server Error"
            raise HTTPStatusError(
                f"{self.status} {reason} for url: {self.final_url or self.url}",
                status=self.status,
                url=self.final_url or self.url,
            )
        return self

    # -- the record ---------------------------------------------------------------------------

    def to_record(self) -> dict[str, Any]:
        """The result record of the output contract (JSONL line, CSV row, SQLite row)."""
        etag, last_modified = self._validators or validators(self._raw_headers)
        return {
            "id": self.id,
            "url": self.url,
            "final_url": self.final_url,
            "method": self.method,
            "status": self.status,
            "error": None if self.error is None else self.error.as_dict(),
            "attempts": self.attempts,
            "elapsed": round(self.elapsed, 6),
            "size": self.size,
            "sha256": self.sha256,
            "body_path": self.body_path,
            "started_at": iso_utc(self.started_at),
            "meta": self.meta,
            "etag": etag,
            "last_modified": last_modified,
        }

    # Results cross from engine processes as one plain tuple each (see _processes).
    def __reduce__(self) -> tuple[Any, ...]:
        return (_restored, ((
            self._content, self._headers, self._raw_headers, self._sha256, self._validators, self.attempts,
            self.body_path, self.elapsed, self.error, self.final_url, self.http_version, self.id, self.meta,
            self.method, self.retries, self.size, self.started_at, self.status, self.timings, self.unchanged,
            self.url, self.proxy),))

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        (self._content, self._headers, self._raw_headers, self._sha256, self._validators, self.attempts,
         self.body_path, self.elapsed, self.error, self.final_url, self.http_version, self.id, self.meta,
         self.method, self.retries, self.size, self.started_at, self.status, self.timings, self.unchanged,
         self.url, self.proxy) = state

    def __repr__(self) -> str:
        what = f"status={self.status}" if self.error is None else f"error={self.error.kind}"
        return f"<Result id={self.id!r} {self.method} {self.url} {what}>"


def iso_utc(ts: float | None) -> str | None:
    """``2026-11-25T08:42:48.123Z``; one record each, so the date part is formatted once a second."""
    if ts is None:
        return None
    global _last
    second, prefix = _last  # one tuple: another thread never sees a second with another's prefix
    # Microseconds past the remembered second, rounded as datetime rounds the fraction alone (the
    # subtraction is exact, so inside that second this is the same number as from int(ts // 1)).
    fraction = round((ts - second) * 1_000_000)
    if not 0 <= fraction < 1_000_000:
        second = int(ts // 1)
        fraction = round((ts - second) * 1_000_000)
        if fraction == 1_000_000:
            second, fraction = second + 1, 0
        prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        _last = (second, prefix)
    return prefix + _MILLISECONDS[fraction // 1000]


_last = (-(2**40), "")  # (the second last formatted, its date and time up to the seconds)
_MILLISECONDS = tuple(f"{ms:03d}Z" for ms in range(1000))  # a lookup costs half of formatting


def _restored(state: tuple[Any, ...]) -> Result:
    """A result unpickled: made empty, then given its fields (a compiled class has no bare ``__new__``)."""
    result = Result(id="", url="", method="")
    result.__setstate__(state)
    return result
