"""The one exception tree of multifetch.

In bulk mode failures are data (``Result.error``); these exceptions are raised by the
single-request API (``Client.get``) and for misuse::

    MultifetchError
    ├── UsageError (also ValueError)      bad options or arguments given by the caller
    │   ├── SettingError                  a setting refused; ``.names`` names the settings
    │   └── InvalidInput                  a request spec that cannot be sent (bad URL, bad JSON)
    ├── RequestError                      a request that failed; ``.kind`` names why
    │   ├── ConnectError                  kind: dns, connect, host_unavailable, proxy
    │   ├── TimeoutError_                 kind: timeout
    │   ├── TLSError                      kind: tls
    │   ├── ProtocolError                 kind: protocol, reset, too_many_redirects
    │   ├── BodyTooLarge                  kind: body_too_large
    │   ├── Blocked                       kind: blocked, robots_disallowed
    │   └── Cancelled                     kind: cancelled
    └── HTTPStatusError                   ``Result.raise_for_status()`` on a 4xx/5xx answer

Every exception pickles (the Dask runner ships them between processes).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class ErrorKind(StrEnum):
    """Why a request failed: every value ``Result.error.kind`` can take.

    A ``str`` enum: each kind is its own string, in records and wherever it is compared.
    """

    INVALID_INPUT = "invalid_input"
    DNS = "dns"
    CONNECT = "connect"
    TIMEOUT = "timeout"
    TLS = "tls"
    PROTOCOL = "protocol"
    RESET = "reset"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    BODY_TOO_LARGE = "body_too_large"
    BLOCKED = "blocked"
    ROBOTS_DISALLOWED = "robots_disallowed"
    HOST_UNAVAILABLE = "host_unavailable"
    PROXY = "proxy"
    WRITE = "write"
    CANCELLED = "cancelled"
    OTHER = "other"


#: Every value ``Result.error.kind`` can take, as plain strings.
ERROR_KINDS: Final = tuple(kind.value for kind in ErrorKind)

#: The messages of ``cancelled`` records, when the run's time is up (``deadline``).
CANCELLED_IN_FLIGHT: Final = "the run's --deadline passed before this request finished"
CANCELLED_UNSTARTED: Final = "the run's --deadline passed before this request started"


class MultifetchError(Exception):
    """Base of every exception multifetch raises."""


class UsageError(MultifetchError, ValueError):
    """The caller passed options or arguments that cannot work."""


class SettingError(UsageError):
    """A setting refused: ``names`` are the settings' own names, ``problem`` what is wrong.

    The message names the settings as the Python API spells them; the command line says its
    flags instead.
    """

    def __init__(self, names: tuple[str, ...], problem: str) -> None:
        super().__init__(f"{', '.join(names)}: {problem}")
        self.names = names
        self.problem = problem

    def __reduce__(self) -> tuple[type[SettingError], tuple[tuple[str, ...], str]]:
        return SettingError, (self.names, self.problem)


class InvalidInput(UsageError):
    """A request spec that cannot be sent."""


class RequestError(MultifetchError):
    """A request failed before a complete HTTP answer arrived."""

    kind: str = ErrorKind.OTHER

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
    kind = ErrorKind.CONNECT


class TimeoutError_(RequestError):
    kind = ErrorKind.TIMEOUT


class TLSError(RequestError):
    kind = ErrorKind.TLS


class ProtocolError(RequestError):
    kind = ErrorKind.PROTOCOL


class BodyTooLarge(RequestError):
    kind = ErrorKind.BODY_TOO_LARGE


class Blocked(RequestError):
    kind = ErrorKind.BLOCKED


class Cancelled(RequestError):
    kind = ErrorKind.CANCELLED


class HTTPStatusError(MultifetchError):
    """Raised by ``Result.raise_for_status()`` for 4xx and 5xx answers."""

    def __init__(self, message: str, *, status: int, url: str) -> None:
        super().__init__(message)
        self.status = status
        self.url = url

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (str(self),), {"status": self.status, "url": self.url})


_BY_KIND: Final[dict[str, type[RequestError]]] = {
    ErrorKind.DNS: ConnectError,
    ErrorKind.CONNECT: ConnectError,
    ErrorKind.HOST_UNAVAILABLE: ConnectError,
    ErrorKind.PROXY: ConnectError,
    ErrorKind.TIMEOUT: TimeoutError_,
    ErrorKind.TLS: TLSError,
    ErrorKind.PROTOCOL: ProtocolError,
    ErrorKind.RESET: ProtocolError,
    ErrorKind.TOO_MANY_REDIRECTS: ProtocolError,
    ErrorKind.BODY_TOO_LARGE: BodyTooLarge,
    ErrorKind.BLOCKED: Blocked,
    ErrorKind.ROBOTS_DISALLOWED: Blocked,
    ErrorKind.CANCELLED: Cancelled,
}


def exception_for(kind: str, message: str, url: str | None = None) -> RequestError:
    """The exception the single-request API raises for an error of ``kind``."""
    cls = _BY_KIND.get(kind, RequestError)
    exc = cls(message, url=url)
    if cls is RequestError or kind != cls.kind:
        exc.kind = kind
    return exc
