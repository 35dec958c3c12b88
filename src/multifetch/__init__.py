"""multifetch: make many HTTP requests concurrently — fast, polite, and never losing a result.

    >>> import multifetch
    >>> for result in multifetch.fetch(urls, concurrency=100):  # doctest: +SKIP
    ...     print(result.id, result.status_code, result.error)
"""

from ._version import __version__

# typing's own flag, without importing typing (10 ms before the command can answer Ctrl-C);
# type checkers know the name
TYPE_CHECKING = False

# The public names, and the module each lives in. Each is imported on first use: the library costs
# its import time only to those who use it, and the command line (which imports this package
# first) is able to answer Ctrl-C before it starts importing what it needs.
_EXPORTS = {
    "Client": "_client",
    "Run": "runners._run",
    "fetch": "_client",
    "ERROR_KINDS": "_errors",
    "ErrorKind": "_errors",
    "Blocked": "_errors",
    "BodyTooLarge": "_errors",
    "Cancelled": "_errors",
    "ConnectError": "_errors",
    "HTTPStatusError": "_errors",
    "InvalidInput": "_errors",
    "MultifetchError": "_errors",
    "ProtocolError": "_errors",
    "RequestError": "_errors",
    "TimeoutError_": "_errors",
    "TLSError": "_errors",
    "UsageError": "_errors",
    "Headers": "engine._headers",
    "HostHealth": "engine._hosts",
    "Limits": "engine._policy",
    "RetryPolicy": "engine._policy",
    "Timeouts": "engine._policy",
    "TokenBucket": "engine._ratelimit",
    "parse_rate": "engine._ratelimit",
    "ErrorInfo": "engine._result",
    "Result": "engine._result",
    "Timings": "engine._result",
    "InvalidSpec": "inputs._spec",
    "Request": "inputs._spec",
    "make_request": "inputs._spec",
    "HostSnapshot": "engine._stats",
    "Statistics": "engine._stats",
    "AsyncClient": "_async",
    "requests_map": "_compat",
    "RECORD_FIELDS": "outputs._fields",
    "SavedResults": "outputs._read",
    "read_results": "outputs._read",
    "to_arrow": "outputs._frames",
    "to_pandas": "outputs._frames",
    "to_polars": "outputs._frames",
}

if TYPE_CHECKING:
    from ._async import AsyncClient
    from ._client import Client, fetch
    from ._compat import requests_map
    from ._errors import (
        ERROR_KINDS,
        Blocked,
        BodyTooLarge,
        Cancelled,
        ConnectError,
        ErrorKind,
        HTTPStatusError,
        InvalidInput,
        MultifetchError,
        ProtocolError,
        RequestError,
        TimeoutError_,
        TLSError,
        UsageError,
    )
    from .engine._headers import Headers
    from .engine._hosts import HostHealth
    from .engine._policy import Limits, RetryPolicy, Timeouts
    from .engine._ratelimit import TokenBucket, parse_rate
    from .engine._result import ErrorInfo, Result, Timings
    from .engine._stats import HostSnapshot, Statistics
    from .inputs._spec import InvalidSpec, Request, make_request
    from .outputs._fields import RECORD_FIELDS
    from .outputs._frames import to_arrow, to_pandas, to_polars
    from .outputs._read import SavedResults, read_results
    from .runners._run import Run

del TYPE_CHECKING


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'multifetch' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value  # the next use is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


__all__ = [
    "AsyncClient",
    "Blocked",
    "BodyTooLarge",
    "Cancelled",
    "Client",
    "ConnectError",
    "ERROR_KINDS",
    "ErrorInfo",
    "ErrorKind",
    "HTTPStatusError",
    "Headers",
    "HostHealth",
    "HostSnapshot",
    "InvalidInput",
    "InvalidSpec",
    "Limits",
    "MultifetchError",
    "ProtocolError",
    "RECORD_FIELDS",
    "Request",
    "RequestError",
    "Result",
    "RetryPolicy",
    "Run",
    "SavedResults",
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
    "read_results",
    "requests_map",
    "to_arrow",
    "to_pandas",
    "to_polars",
]
