"""The one exception tree of multifetch.

In bulk mode failures are data (``Result.error``); these exceptions are raised by the
single-request API (``Client.get``) and for misuse::

    MultifetchError
    ├── UsageError (also ValueError)      bad options or arguments given by the caller
    │   └── InvalidInput                  a request spec that cannot be sent (bad URL, bad JSON)
    ├── RequestError                      a request that failed; ``.kind`` names why
    │   ├── ConnectError                  kind: dns, connect, host_unavailable, proxy
    │   ├── TimeoutError_                 kind: timeout
    │   ├── TLSError                      kind: tls
    │   ├── ProtocolError                 kind: protocol, reset, too_many_redirects
    │   ├── BodyTooLarge                  kind: body_too_large
    │   ├── Blocked                       kind: blocked
    │   └── Cancelled                     kind: cancelled
    └── HTTPStatusError                   ``Result.raise_for_status()`` on a 4xx/5xx answer

Every exception pickles (the Dask runner ships them between processes).
"""

from __future__ import annotations

from typing import Final

#: Every value ``Result.error.kind`` can take.
ERROR_KINDS: Final = (
    "invalid_input",
    "dns",
    "connect",
    "timeout",
    "tls",
    "protocol",
    "reset",
    "too_many_redirects",
    "body_too_large",
    "blocked",
    "host_unavailable",
    "proxy",
    "write",
    "cancelled",
    "other",
)


class MultifetchError(Exception):
    """Base of every exception multifetch raises."""


class UsageError(MultifetchError, ValueError):
    """The caller passed options or arguments that cannot work."""


class InvalidInput(UsageError):
    """A request spec that cannot be sent."""


class RequestError(MultifetchError):
    """A request failed before a complete HTTP answer arrived."""

    kind = "other"

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.url = url

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (type(self), self.message, self.url))

    def __str__(self) -> str:
        return self.message


def _rebuild(cls: type[RequestError], message: str, url: str | None) -> RequestError:
    return cls(message, url=url)


class ConnectError(RequestError):
    kind = "connect"


class TimeoutError_(RequestError):
    kind = "timeout"


class TLSError(RequestError):
    kind = "tls"


class ProtocolError(RequestError):
    kind = "protocol"


class BodyTooLarge(RequestError):
    kind = "body_too_large"


class Blocked(RequestError):
    kind = "blocked"


class Cancelled(RequestError):
    kind = "cancelled"


class HTTPStatusError(MultifetchError):
    """Raised by ``Result.raise_for_status()`` for 4xx and 5xx answers."""

    def __init__(self, message: str, *, status: int, url: str) -> None:
        super().__init__(message)
        self.status = status
        self.url = url

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (str(self),), {"status": self.status, "url": self.url})


_BY_KIND: Final[dict[str, type[RequestError]]] = {
    "dns": ConnectError,
    "connect": ConnectError,
    "host_unavailable": ConnectError,
    "proxy": ConnectError,
    "timeout": TimeoutError_,
    "tls": TLSError,
    "protocol": ProtocolError,
    "reset": ProtocolError,
    "too_many_redirects": ProtocolError,
    "body_too_large": BodyTooLarge,
    "blocked": Blocked,
    "cancelled": Cancelled,
}


def exception_for(kind: str, message: str, url: str | None = None) -> RequestError:
    """The exception the single-request API raises for an error of ``kind``."""
    cls = _BY_KIND.get(kind, RequestError)
    exc = cls(message, url=url)
    if cls is RequestError or kind != cls.kind:
        exc.kind = kind
    return exc
