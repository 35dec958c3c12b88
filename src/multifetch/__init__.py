"""multifetch: make many HTTP requests concurrently — fast, polite, and never losing a result.

    >>> import multifetch
    >>> for result in multifetch.fetch(urls, concurrency=100):  # doctest: +SKIP
    ...     print(result.id, result.status_code, result.error)
"""

import logging as _logging
from typing import TYPE_CHECKING as _TYPE_CHECKING

from ._client import Client, Run, fetch
from ._errors import (
    ERROR_KINDS,
    Blocked,
    BodyTooLarge,
    Cancelled,
    ConnectError,
    HTTPStatusError,
    InvalidInput,
    MultifetchError,
    ProtocolError,
    RequestError,
    TimeoutError_,
    TLSError,
    UsageError,
)
from ._headers import Headers
from ._hosts import HostHealth
from ._policy import Limits, RetryPolicy, Timeouts
from ._ratelimit import TokenBucket, parse_rate
from ._result import ErrorInfo, Result, Timings
from ._spec import InvalidSpec, Request, make_request
from ._stats import HostSnapshot, Statistics
from ._version import __version__

_logging.getLogger("multifetch").addHandler(_logging.NullHandler())

if _TYPE_CHECKING:
    from ._async import AsyncClient
    from ._compat import requests_map


def __getattr__(name: str) -> object:
    # Imported on first use: asyncio and requests cost start-up time the CLI should not pay.
    if name == "AsyncClient":
        from ._async import AsyncClient

        return AsyncClient
    if name == "requests_map":
        from ._compat import requests_map

        return requests_map
    raise AttributeError(f"module 'multifetch' has no attribute {name!r}")


__all__ = [
    "AsyncClient",
    "Blocked",
    "BodyTooLarge",
    "Cancelled",
    "Client",
    "ConnectError",
    "ERROR_KINDS",
    "ErrorInfo",
    "HTTPStatusError",
    "Headers",
    "HostHealth",
    "HostSnapshot",
    "InvalidInput",
    "InvalidSpec",
    "Limits",
    "MultifetchError",
    "ProtocolError",
    "Request",
    "RequestError",
    "Result",
    "RetryPolicy",
    "Run",
    "Statistics",
    "TLSError",
    "TimeoutError_",
    "Timeouts",
    "Timings",
    "TokenBucket",
    "UsageError",
    "__version__",
    "fetch",
    "make_request",
    "parse_rate",
    "requests_map",
]
