"""multifetch: make many HTTP requests concurrently — fast, polite, and never losing a result.

    >>> import multifetch
    >>> for result in multifetch.fetch(urls, concurrency=100):  # doctest: +SKIP
    ...     print(result.id, result.status_code, result.error)
"""

from ._async import AsyncClient
from ._client import Client, Run, fetch
from ._compat import requests_map
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
