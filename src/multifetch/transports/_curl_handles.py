"""The easy handles of a run: reused between transfers, and set up for each request."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, Final

import pycurl

from ..engine._job import Job
from ..engine._policy import Timeouts
from ..inputs._spec import Headers
from ..outputs._bodies import BodyStore, BodyWriter, FileBody
from ._capture import capture
from ._curl_redirects import Hop
from ._decoding import Decoding

# Read once: libcurl's numbers, which compiled code would otherwise look up in pycurl on every use.
_URL: Final = pycurl.URL
_WRITEFUNCTION: Final = pycurl.WRITEFUNCTION
_HEADERFUNCTION: Final = pycurl.HEADERFUNCTION
_TIMEOUT_MS: Final = pycurl.TIMEOUT_MS


class Transfer:
    """One attempt in libcurl's hands (``job.transport_state``): what the loop needs until it ends."""

    __slots__ = ("handle", "hop", "multi", "raw_headers", "url", "writer")

    def __init__(self, handle: pycurl.Curl, url: str, writer: Decoding, raw_headers: list[bytes],
                 hop: Hop | None) -> None:
        self.handle = handle
        self.url = url  # as sent
        self.writer = writer
        self.raw_headers = raw_headers
        self.hop = hop  # the redirects multifetch follows itself (requests that carry secrets)
        self.multi: pycurl.CurlMulti | None = None  # None while it waits for its name's addresses


class Handles:
    """Free handles keep the run's base options: a plain GET only sets its URL, callbacks and
    timeout. A request that sets more marks its handle ``dirty``, and a dirty handle is reset
    (and given the base options again) before its next use. ``carrying``: handles whose RESOLVE
    holds a name's addresses for one transfer (see ``Names``).
    """

    def __init__(self, base: list[tuple[int, Any]], bodies: BodyStore, timeouts: Timeouts,
                 open_socket: Callable[[Job, Any], Any] | None, *, max_body_size: int | None = None,
                 capture: bool = False) -> None:
        self._base = base
        self._capture = capture  # for a WARC archive: each attempt's wire data (_capture)
        self._max_body_size = max_body_size  # of the decoded body (see _decoding)
        # What RESOLVE holds on a fresh handle (the user's --resolve), put back after a transfer that carried
        # addresses: cheaper than a reset, which sets every base option again.
        self._base_resolve: list[str] = next((v for option, v in base if option == pycurl.RESOLVE), [])
        self._bodies = bodies
        self._timeouts = timeouts
        self._open_socket = open_socket  # libcurl's socket opener under --deny-private
        self.free: list[pycurl.Curl] = []
        self.dirty: set[int] = set()
        self.carrying: set[int] = set()

    def renew_share(self, share: pycurl.CurlShare, *, in_flight: Iterable[int]) -> None:
        """Handles take ``share`` instead of the run's share until now: each is reset with the
        new base options before its next transfer (those in flight, ``in_flight`` by id, after
        they end)."""
        self._base = [(option, share if option == pycurl.SHARE else value) for option, value in self._base]
        self.dirty.update(id(handle) for handle in self.free)
        self.dirty.update(in_flight)

    def transfer(self, job: Job, url: str, method: str, headers: Headers, body: bytes | None,
                 hop: Hop | None) -> Transfer:
        """A handle set up for ``job``'s attempt at ``url`` (with ``method``, ``headers``, ``body``:
        the request's, or a redirect's when ``hop`` follows one)."""
        free = self.free
        handle = free.pop() if free else None
        if handle is None or id(handle) in self.dirty:
            handle = self._fresh(handle)
        elif id(handle) in self.carrying:
            self.carrying.discard(id(handle))
            handle.setopt(pycurl.RESOLVE, self._base_resolve)
        saved = self._bodies.writer(job.id)
        raw_headers: list[bytes] = []
        writer = Decoding(saved, raw_headers, self._max_body_size)  # bodies come raw: see _decoding
        handle.setopt(_URL, url)
        if self._capture:
            self.dirty.add(id(handle))
            handle.setopt(_WRITEFUNCTION, capture(job, handle, url, writer.write))
        else:
            handle.setopt(_WRITEFUNCTION, writer.write)
        handle.setopt(_HEADERFUNCTION, raw_headers.append)
        timeout = job.request.timeout or self._timeouts.total
        remaining = timeout - (time.monotonic() - job.t0) if hop is not None and hop.hops else timeout
        handle.setopt(_TIMEOUT_MS, max(1, int(remaining * 1000)))
        if job.proxy is not None:  # chosen from a proxy pool (_proxies)
            self.dirty.add(id(handle))
            handle.setopt(pycurl.PROXY, job.proxy)
        if (method != "GET" or headers or body is not None or hop is not None
                or self._open_socket is not None or isinstance(saved, FileBody)):
            self._set_request(handle, job, saved, raw_headers, method, headers, body, hop)
        return Transfer(handle, url, writer, raw_headers, hop)

    def _fresh(self, handle: pycurl.Curl | None) -> pycurl.Curl:
        """A dirty handle reset, or a new one, with the base options."""
        if handle is not None:
            key = id(handle)
            self.dirty.discard(key)
            self.carrying.discard(key)
            handle.unsetopt(pycurl.SHARE)  # pycurl refuses to share a handle twice, even after reset
            handle.reset()
        else:
            handle = pycurl.Curl()
        for option, value in self._base:
            handle.setopt(option, value)
        return handle

    def _set_request(self, handle: pycurl.Curl, job: Job, writer: BodyWriter, raw_headers: list[bytes],
                     method: str, headers: Headers, body: bytes | None, hop: Hop | None) -> None:
        """What a request asks beyond a plain GET: it leaves the handle dirty."""
        dirty = self.dirty
        if isinstance(writer, FileBody):
            writer.raw_headers = raw_headers
            resume = writer.resume_point() if method == "GET" else None
            if resume is not None:  # continue an interrupted download, if it is still the same
                dirty.add(id(handle))
                handle.setopt(pycurl.RANGE, f"{resume[0]}-")
                headers = (*headers, ("If-Range", resume[1]))
        if hop is not None:
            dirty.add(id(handle))
            handle.setopt(pycurl.FOLLOWLOCATION, 0)
            if hop.stripped:
                handle.unsetopt(pycurl.USERPWD)
        if method != "GET" or headers or body is not None:
            dirty.add(id(handle))
            if headers:
                # bytes: pycurl takes text only as ASCII, and a value may hold any character (as UTF-8)
                to_proxy = [f"{k}: {v}".encode() for k, v in headers if k.lower() == "proxy-authorization"]
                if to_proxy:  # for the proxy only: through a tunnel it would reach the origin
                    handle.setopt(pycurl.PROXYHEADER, to_proxy)
                    headers = tuple((k, v) for k, v in headers if k.lower() != "proxy-authorization")
                handle.setopt(pycurl.HTTPHEADER, [f"{k}: {v}".encode() for k, v in headers])
            if body is not None:
                handle.setopt(pycurl.POSTFIELDSIZE_LARGE, len(body))
                # POSTFIELDS, not COPYPOSTFIELDS: pycurl refuses NUL bytes in a copied body;
                # it keeps a reference to this one until the handle is reset.
                handle.setopt(pycurl.POSTFIELDS, body)
                if method != "POST":
                    handle.setopt(pycurl.CUSTOMREQUEST, method)
            elif method == "HEAD":
                handle.setopt(pycurl.NOBODY, 1)
            elif method != "GET":
                handle.setopt(pycurl.CUSTOMREQUEST, method)
        open_socket = self._open_socket
        if open_socket is not None:
            dirty.add(id(handle))
            handle.setopt(pycurl.OPENSOCKETFUNCTION, lambda purpose, address: open_socket(job, address))

    def release(self, handle: pycurl.Curl) -> None:
        """``handle`` is free again, to be reset before its next use."""
        self.dirty.add(id(handle))
        self.free.append(handle)

    def close(self, flush_cookies: bool) -> None:
        if flush_cookies and self.free:
            self.free[0].setopt(pycurl.COOKIELIST, "FLUSH")  # write the jar now, not at some GC
        for handle in self.free:
            handle.close()
        self.free.clear()
