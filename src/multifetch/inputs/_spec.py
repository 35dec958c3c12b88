"""``Request``: one thing to fetch, built from requests-style arguments.

    >>> Request("https://example.org/search", params={"q": "cats"}).full_url
    'https://example.org/search?q=cats'
    >>> Request("https://api.example.org/items", method="post", json={"a": 1}).method
    'POST'
"""

from __future__ import annotations

import base64
import binascii
import json as jsonlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

from .._errors import InvalidInput
from ._urls import origin_of, sendable_url

Headers = tuple[tuple[str, str], ...]

_SPEC_KEYS = frozenset(
    {"url", "method", "headers", "params", "json", "data", "body_b64", "id", "timeout", "meta"}
)
_CONTROL = frozenset(chr(c) for c in (*range(0x21), 0x7F))
_MAX_TIMEOUT = 1e9  # seconds


@dataclass(frozen=True, slots=True, init=False)
class Request:
    """One request. ``url`` is kept as given; ``full_url`` adds ``params``.

    ``id`` names the request in results; when absent, the client derives one from the
    input position. ``meta`` is any value, copied to the result untouched.
    """

    url: str
    method: str = "GET"
    headers: Headers = ()
    params: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    timeout: float | None = None
    id: str | None = None
    meta: Any = field(default=None, compare=False)

    def __init__(
        self,
        url: str,
        method: str = "GET",
        headers: Headers = (),
        params: tuple[tuple[str, str], ...] = (),
        body: bytes | None = None,
        timeout: float | None = None,
        id: str | None = None,
        meta: Any = None,
    ) -> None:
        # The __init__ a frozen dataclass makes sets each field through object.__setattr__; the slots'
        # own descriptors set them in half the time (a Request an input: it shows at 30,000 a second).
        _set_url(self, url)
        _set_method(self, method)
        _set_headers(self, headers)
        _set_params(self, params)
        _set_body(self, body)
        _set_timeout(self, timeout)
        _set_id(self, id)
        _set_meta(self, meta)

    def __reduce__(self) -> tuple[Any, ...]:  # a plain tuple: 3x quicker to send to an engine process
        return (Request, (self.url, self.method, self.headers, self.params, self.body, self.timeout, self.id,
                          self.meta))

    def with_id(self, id: str) -> Request:
        """This request named ``id`` (``dataclasses.replace`` takes three times as long)."""
        return Request(self.url, self.method, self.headers, self.params, self.body, self.timeout, id,
                       self.meta)

    @property
    def full_url(self) -> str:
        if not self.params:
            return self.url
        joiner = "&" if "?" in self.url else "?"
        return self.url + joiner + urlencode(self.params)

    @property
    def host(self) -> str:
        """``scheme://host:port``: the key of per-host limits."""
        return origin_of(self.url)


_set_url, _set_method, _set_headers, _set_params, _set_body, _set_timeout, _set_id, _set_meta = (
    Request.__dict__[name].__set__
    for name in ("url", "method", "headers", "params", "body", "timeout", "id", "meta")
)


def make_request(
    url: str,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    params: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
    data: str | bytes | Mapping[str, Any] | None = None,
    json: Any = None,
    body_b64: str | None = None,
    timeout: float | None = None,
    id: str | None = None,
    meta: Any = None,
) -> Request:
    """Build a ``Request`` from requests-style arguments; raise ``InvalidInput`` if it can't be sent."""
    url = sendable_url(url)
    if not isinstance(method, str) or not method.isalpha() or not method.isascii():
        raise InvalidInput(f"bad method: {method!r}")
    hdrs = _header_pairs(headers)
    body: bytes | None = None
    if data is not None or json is not None or body_b64 is not None:
        body, hdrs = _body_of(data, json, body_b64, hdrs)
    if timeout is not None:
        # NaN passes `<= 0`, and past _MAX_TIMEOUT libcurl's milliseconds no longer fit a C long
        number = isinstance(timeout, int | float) and not isinstance(timeout, bool)
        if not number or not 0 < timeout <= _MAX_TIMEOUT:
            raise InvalidInput(f"timeout must be a positive number of seconds (at most {_MAX_TIMEOUT:.0e}), "
                               f"not {timeout!r}")
        timeout = float(timeout)
    if id is not None and not isinstance(id, str):
        if isinstance(id, int) and not isinstance(id, bool):
            id = str(id)
        else:
            raise InvalidInput(f"id must be a string, not {type(id).__name__}")
    return Request(
        url=url,
        method=method.upper(),
        headers=hdrs,
        params=_param_pairs(params),
        body=body,
        timeout=timeout,
        id=id,
        meta=meta,
    )


def _body_of(data: str | bytes | Mapping[str, Any] | None, json: Any, body_b64: str | None,
             hdrs: Headers) -> tuple[bytes | None, Headers]:
    """The body one of ``data``, ``json`` or ``body_b64`` gives, and the headers with the
    Content-Type it implies (unless the request names one)."""
    given = [n for n, v in (("data", data), ("json", json), ("body_b64", body_b64)) if v is not None]
    if len(given) > 1:
        raise InvalidInput(f"give only one of data, json, body_b64 (got {', '.join(given)})")
    if json is not None:
        body = jsonlib.dumps(json, separators=(",", ":")).encode()
        return body, _default_header(hdrs, "Content-Type", "application/json")
    if isinstance(data, Mapping):
        body = urlencode(list(data.items()), doseq=True).encode()
        return body, _default_header(hdrs, "Content-Type", "application/x-www-form-urlencoded")
    if isinstance(data, str):
        return _utf8(data, "data"), hdrs
    if isinstance(data, bytes | bytearray):
        return bytes(data), hdrs
    if data is not None:
        raise InvalidInput(f"data must be text, bytes or an object, not {type(data).__name__}")
    if body_b64 is None:
        return None, hdrs
    try:
        return base64.b64decode(body_b64, validate=True), hdrs
    except (binascii.Error, ValueError, TypeError) as exc:
        raise InvalidInput(f"body_b64 is not base64: {exc}") from None


def request_from_json(obj: Any) -> Request:
    """A ``Request`` from one JSONL spec object (the keys of the input contract)."""
    if not isinstance(obj, dict):
        raise InvalidInput(f"a JSON spec must be an object, not {type(obj).__name__}")
    unknown = set(obj) - _SPEC_KEYS
    if unknown:
        raise InvalidInput(f"unknown key(s) {', '.join(sorted(unknown))}")
    if "url" not in obj:
        raise InvalidInput("spec has no 'url'")
    headers = obj.get("headers")
    if headers is not None and not isinstance(headers, dict):
        raise InvalidInput("'headers' must be an object")
    params = obj.get("params")
    if params is not None and not isinstance(params, dict):
        raise InvalidInput("'params' must be an object")
    data = obj.get("data")
    if data is not None and not isinstance(data, str):
        raise InvalidInput("'data' must be a string (use 'json' or 'body_b64' otherwise)")
    return make_request(
        obj["url"],
        method=obj.get("method", "GET"),
        headers=headers,
        params=params,
        data=data,
        json=obj.get("json"),
        body_b64=obj.get("body_b64"),
        timeout=obj.get("timeout"),
        id=obj.get("id"),
        meta=obj.get("meta"),
    )


def with_default_headers(request: Request, defaults: tuple[tuple[str, str], ...]) -> Request:
    """``request`` with each of ``defaults`` it does not set itself (names compared without case)."""
    own = {k.lower() for k, _ in request.headers}
    extra = tuple((k, v) for k, v in defaults if k.lower() not in own)
    return replace(request, headers=extra + request.headers) if extra else request


def _utf8(text: str, what: str) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError:  # a lone surrogate (JSON text may hold one): no UTF-8 form
        raise InvalidInput(f"{what} is not valid text (a lone surrogate): {text[:100]!r}") from None


def _header_pairs(headers: Mapping[str, str] | Iterable[tuple[str, str]] | None) -> Headers:
    if not headers:
        return ()
    items = headers.items() if isinstance(headers, Mapping) else headers
    pairs = []
    for name, value in items:
        # a name is an HTTP token: ASCII, no control characters, no colon
        if not isinstance(name, str) or not name or not name.isascii() or any(
                c in _CONTROL or c == ":" for c in name):
            raise InvalidInput(f"bad header name: {name!r}")
        value = str(value)
        if "\r" in value or "\n" in value or "\0" in value:
            raise InvalidInput(f"header {name} has a line break in its value")
        if not value.isascii():
            _utf8(value, f"header {name}")  # sent as UTF-8 by both engines
        pairs.append((name, value))
    return tuple(pairs)


def _param_pairs(params: Mapping[str, Any] | Iterable[tuple[str, Any]] | None) -> Headers:
    if not params:
        return ()
    items = params.items() if isinstance(params, Mapping) else params
    pairs = tuple((str(k), "" if v is None else str(v)) for k, v in items)
    for k, v in pairs:
        if not (k + v).isascii():
            _utf8(k + v, "a query parameter")  # they are URL-encoded as UTF-8
    return pairs


def _default_header(headers: Headers, name: str, value: str) -> Headers:
    lname = name.lower()
    if any(k.lower() == lname for k, _ in headers):
        return headers
    return (*headers, (name, value))


@dataclass(frozen=True, slots=True)
class InvalidSpec:
    """An input that cannot be sent; it still gets its record (``error.kind = "invalid_input"``)."""

    id: str
    text: str
    message: str
    method: str = "GET"
    meta: Any = None
