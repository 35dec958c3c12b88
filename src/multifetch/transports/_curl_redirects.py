"""Redirects of requests that carry credentials, followed by multifetch rather than by libcurl.

libcurl would still send URL or ``-u`` credentials to the same host on another port or scheme;
here a redirect to another origin drops them (and the secret headers) for the rest of the way.
"""

from __future__ import annotations

from typing import NamedTuple

from ..inputs._spec import Headers, Request
from ..inputs._urls import origin_of

REDIRECTS = frozenset({301, 302, 303, 307, 308})
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


class Hop(NamedTuple):
    """Where a request that follows its redirects by hand has got to."""

    url: str
    method: str
    headers: Headers
    body: bytes | None
    hops: int = 0
    stripped: bool = False  # credentials already dropped (the origin changed once)


class Redirects:
    """Which requests carry secrets, and where each of their redirects leads."""

    def __init__(self, *, has_auth: bool, secret_headers: tuple[str, ...], max_redirects: int,
                 follow: bool) -> None:
        self._has_auth = has_auth
        self._secret_headers = _SECRET_HEADERS | {h.lower() for h in secret_headers}
        self._max_redirects = max_redirects
        self.follow = follow

    def carries_secrets(self, request: Request) -> bool:
        if self._has_auth:
            return True
        url = request.url
        if "@" in url and "@" in url.split("/", 3)[2]:
            return True
        return bool(request.headers) and any(k.lower() in self._secret_headers for k, _ in request.headers)

    def next_hop(self, hop: Hop, status: int, location: str) -> Hop | tuple[str, str]:
        """The request a redirect (``status``, to ``location``) asks for; or why the attempt ends
        there, as ``(error kind, message)``."""
        if hop.hops >= self._max_redirects:
            return "too_many_redirects", f"Maximum ({self._max_redirects}) redirects followed"
        if not location.lower().startswith(("http://", "https://")):
            return "blocked", f"redirect to a scheme other than http(s): {location.split(':', 1)[0]}"
        method, body, headers = hop.method, hop.body, hop.headers
        if status == 303 or (status in (301, 302) and method == "POST"):
            method = "HEAD" if method == "HEAD" else "GET"
            body = None
            headers = tuple((k, v) for k, v in headers if k.lower() not in ("content-type", "content-length"))
        stripped = hop.stripped
        if origin_of(location) != origin_of(hop.url):
            headers = tuple((k, v) for k, v in headers if k.lower() not in self._secret_headers)
            stripped = True
        return Hop(location, method, headers, body, hop.hops + 1, stripped)
