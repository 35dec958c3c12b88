"""The libcurl engine: one ``CurlMulti`` driven by ``socket_action`` and ``select.epoll``.

Why this shape (measured, see the design notes): ``perform()`` + ``select()`` does O(handles)
work per call and collapses past ~1,000 sockets; ``socket_action`` touches only the sockets that
are ready. The Python work per event is what limits throughput, so the socket callback only
updates a dict and skips registrations that did not change, and completions are drained once
per wake-up.
"""

from __future__ import annotations

import functools
import math
import os
import re
import select
import socket
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import pycurl

from .._version import __version__
from ..engine._job import Job
from ..engine._policy import Timeouts
from ..engine._result import Timings
from ..inputs._spec import Headers, Request, origin_of
from ..outputs._bodies import BodyStore, BodyWriter, FileBody
from ._curl_errors import error_kind, timeout_phase
from ._curl_options import base_options
from ._guard import denied_reason
from ._resolver import MAX_NAMES, Resolver

USER_AGENT = f"multifetch/{__version__}"

_EPOLL_FOR = {
    pycurl.POLL_IN: select.EPOLLIN,
    pycurl.POLL_OUT: select.EPOLLOUT,
    pycurl.POLL_INOUT: select.EPOLLIN | select.EPOLLOUT,
}
_ERR = select.EPOLLERR | select.EPOLLHUP
_PROXY_VARIABLES = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")
_PER_MULTI = 64  # transfers a multi handle serves before another one is added
_IDLE_HOSTS = 4096  # hosts whose idle connections are placed (see CurlTransport._idle)
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


class Hop(NamedTuple):
    """Where a request that follows its redirects by hand has got to."""

    url: str
    method: str
    headers: Headers
    body: bytes | None
    hops: int = 0
    stripped: bool = False  # credentials already dropped (the origin changed once)


def _curl_flags(events: int) -> int:
    flags = 0
    if events & select.EPOLLIN:
        flags |= pycurl.CSELECT_IN
    if events & select.EPOLLOUT:
        flags |= pycurl.CSELECT_OUT
    if events & _ERR:
        flags |= pycurl.CSELECT_ERR
    return flags


def _effective_url(handle: pycurl.Curl) -> str | None:
    """Where the transfer ended; None for a URL libcurl rejected (asking about it raises)."""
    try:
        return _url_info(handle, pycurl.EFFECTIVE_URL)
    except pycurl.error:
        return None


def _url_info(handle: pycurl.Curl, info: int) -> str | None:
    """A URL libcurl reports. It holds what a Location header said, byte for byte, which need not
    be UTF-8 (pycurl's text form would raise): bytes past ASCII are percent-encoded."""
    raw: bytes | None = handle.getinfo_raw(info)
    if raw is None:
        return None
    if raw.isascii():  # nearly always: no scan and no copy past the decode
        return raw.decode("ascii")
    return _NON_ASCII.sub(lambda byte: b"%%%02X" % byte[0][0], raw).decode("ascii")


_NON_ASCII = re.compile(rb"[\x80-\xff]")

_HTTP_VERSIONS = {
    pycurl.CURL_HTTP_VERSION_1_0: "1.0",
    pycurl.CURL_HTTP_VERSION_1_1: "1.1",
    pycurl.CURL_HTTP_VERSION_2_0: "2",
    getattr(pycurl, "CURL_HTTP_VERSION_3", 30): "3",
}

# epoll reports few distinct masks; translate each once.
_FLAGS = {mask: _curl_flags(mask) for mask in range(64)}


class _Transfer:
    """One attempt in libcurl's hands (``job.transport_state``): what the loop needs until it ends."""

    __slots__ = ("handle", "hop", "multi", "raw_headers", "writer")

    def __init__(self, handle: pycurl.Curl, writer: BodyWriter, raw_headers: list[bytes],
                 hop: Hop | None) -> None:
        self.handle = handle
        self.writer = writer
        self.raw_headers = raw_headers
        self.hop = hop  # the redirects multifetch follows itself (requests that carry secrets)
        self.multi: pycurl.CurlMulti | None = None  # None while it waits for its name's addresses


class CurlTransport:
    """Runs attempts on libcurl. Not thread-safe: one thread drives it (the scheduler's)."""

    name = "curl"

    def __init__(
        self,
        *,
        timeouts: Timeouts,
        bodies: BodyStore,
        max_body_size: int | None = None,
        max_redirects: int = 10,
        follow_redirects: bool = True,
        user_agent: str = USER_AGENT,
        verify: bool = True,
        cafile: str | None = None,
        http_version: str | None = None,
        resolve: list[str] | None = None,
        doh_url: str | None = None,
        proxy: str | None = None,
        auth: tuple[str, str, str] | None = None,
        cookies: str | None = None,
        client_cert: tuple[str, str | None] | None = None,
        deny_private: bool = False,
        secret_headers: tuple[str, ...] = (),
        concurrency: int = 64,
    ) -> None:
        self._timeouts = timeouts
        self._bodies = bodies
        self._epoll = select.epoll()
        self._registered: dict[int, int] = {}
        self._owner: dict[int, Callable[[int, int], Any]] = {}  # fd -> its multi's socket_action
        self._free: list[pycurl.Curl] = []
        self._dirty: set[int] = set()
        self._carrying: set[int] = set()  # handles whose RESOLVE holds addresses for one transfer
        self._jobs: dict[int, Job] = {}  # id(handle) -> job in flight
        self._ended: list[Job] = []  # attempts that ended inside kick(), for the next poll()
        self.active = 0
        # One DNS cache and TLS session cache for every transfer of the run, across multi handles.
        self._share = pycurl.CurlShare()
        self._share.setopt(pycurl.SH_SHARE, pycurl.LOCK_DATA_DNS)
        self._share.setopt(pycurl.SH_SHARE, pycurl.LOCK_DATA_SSL_SESSION)
        self._base = base_options(
            self._share,
            timeouts,
            saving_files=bodies.mode == "files",
            max_body_size=max_body_size,
            max_redirects=max_redirects,
            follow_redirects=follow_redirects,
            user_agent=user_agent,
            verify=verify,
            cafile=cafile,
            http_version=http_version,
            resolve=resolve,
            doh_url=doh_url,
            proxy=proxy,
            auth=auth,
            cookies=cookies,
            client_cert=client_cert,
        )
        # What RESOLVE holds on a fresh handle (the user's --resolve), put back after a transfer that carried
        # addresses: cheaper than a reset, which sets every base option again.
        self._base_resolve: list[str] = next((v for option, v in self._base if option == pycurl.RESOLVE), [])
        self._deny_private = deny_private
        self._has_auth = auth is not None
        self._proxied = proxy is not None or any(os.environ.get(v) for v in _PROXY_VARIABLES)
        self._cookies_file = cookies
        self._secret_headers = _SECRET_HEADERS | {h.lower() for h in secret_headers}
        self._max_redirects = max_redirects
        self._follow_redirects = follow_redirects
        self._denied: dict[int, str] = {}
        # Names are resolved here rather than by libcurl, which holds a transfer until both
        # address families have answered (see _resolver). Not through a proxy (it resolves),
        # nor with DNS-over-HTTPS or for names the user pinned with --resolve.
        self._resolver: Resolver | None = None
        if not self._proxied and not doh_url:
            self._resolver = Resolver(timeout=timeouts.connect, clock=time.monotonic)
            # The addresses handed over never expire in libcurl (the resolver refreshes them), so
            # libcurl need not look for stale entries: it walks its whole DNS cache for them
            # before every lookup, 7 % of the loop's time with 1,000 names.
            self._base.append((pycurl.DNS_CACHE_TIMEOUT, -1))
            fd = self._resolver.fileno()
            self._epoll.register(fd, select.EPOLLIN)
            self._owner[fd] = self._on_answers
        # wake(): another thread (a consumer making room, a stop, new input) ends a waiting poll()
        self._waker = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._epoll.register(self._waker, select.EPOLLIN)
        self._owner[self._waker] = self._on_wake
        self._pinned = {entry.lstrip("+-").split(":", 1)[0].lower() for entry in resolve or ()}
        self._endpoints: dict[str, tuple[str, int] | None] = {}  # origin -> (name, port) to resolve
        self._waiting: dict[str, list[tuple[Job, tuple[str, int]]]] = {}  # name -> jobs waiting
        self._told: dict[tuple[str, int], int] = {}  # (name, port) -> generation libcurl has
        self._telling: dict[int, tuple[tuple[str, int], int]] = {}  # id(handle) -> what it tells
        # libcurl looks for a reusable connection by walking the host's connections, so one multi
        # with thousands of connections to a host spends most of its time there (measured: 110 µs
        # per socket_action at 5,000 connections). A multi per 64 transfers keeps that walk short
        # (at 5,000 connections, 200 ms answers: 10 % less CPU than 256 a multi).
        count = max(1, math.ceil(concurrency / _PER_MULTI))
        self._multis: list[pycurl.CurlMulti] = []
        self._dues: list[float | None] = [None] * count
        for index in range(count):
            multi = pycurl.CurlMulti()
            multi.setopt(pycurl.M_SOCKETFUNCTION, functools.partial(self._on_socket, multi.socket_action))
            multi.setopt(pycurl.M_TIMERFUNCTION, functools.partial(self._on_timer, index))
            multi.setopt(pycurl.M_PIPELINING, pycurl.PIPE_MULTIPLEX)
            self._multis.append(multi)
        self._turn = 0
        # Each multi keeps its own connections. A transfer sent to a multi with no idle
        # connection to its host opens one while another multi's sits idle (measured: 7,900
        # connections opened for 30,000 requests at 5,000 connections), so transfers go where
        # their host's idle connections are: host -> multis, one entry per connection returned.
        self._idle: dict[str, list[pycurl.CurlMulti]] = {}

    # -- libcurl callbacks: keep them tiny, they run per socket event -----------------------------

    def _on_socket(
        self, action: Callable[[int, int], Any], what: int, fd: int, multi: Any, socketp: Any
    ) -> None:
        # libcurl removes a keep-alive socket after every transfer and adds it back for the next:
        # two epoll_ctl calls a request, a tenth of the CPU at 20,000 req/s. So a removed socket
        # stays registered (events for it are dropped, see poll) and a re-added one is modified.
        if what == pycurl.POLL_REMOVE:
            self._owner.pop(fd, None)
            return
        mask = _EPOLL_FOR[what]
        registered = self._registered
        owner = self._owner
        old = registered.get(fd)
        if old == mask and fd in owner:
            return
        registered[fd] = mask
        owner[fd] = action
        if old is None:
            try:
                self._epoll.register(fd, mask)
            except FileExistsError:
                self._epoll.modify(fd, mask)
            return
        try:
            self._epoll.modify(fd, mask)
        except FileNotFoundError:  # closed while parked, and its number taken by a new socket
            self._epoll.register(fd, mask)

    def _drop(self, fd: int) -> None:
        """A parked socket had an event (its peer closed it, say): stop watching it."""
        self._registered.pop(fd, None)
        try:
            self._epoll.unregister(fd)
        except OSError:
            pass

    def _on_timer(self, index: int, timeout_ms: int) -> None:
        self._dues[index] = None if timeout_ms < 0 else time.monotonic() + timeout_ms / 1000.0

    # -- starting and collecting attempts -------------------------------------------------------

    def _handle(self) -> pycurl.Curl:
        if self._free:
            handle = self._free.pop()
            key = id(handle)
            if key not in self._dirty:
                if key in self._carrying:
                    self._carrying.discard(key)
                    handle.setopt(pycurl.RESOLVE, self._base_resolve)
                return handle
            self._dirty.discard(key)
            self._carrying.discard(key)
            handle.unsetopt(pycurl.SHARE)  # pycurl refuses to share a handle twice, even after reset
            handle.reset()
        else:
            handle = pycurl.Curl()
        for option, value in self._base:
            handle.setopt(option, value)
        return handle

    def start(self, job: Job) -> None:
        """Begin the current attempt of ``job``."""
        request = job.request
        url = request.full_url if request.params else request.url
        # Requests that carry credentials follow redirects here rather than in libcurl, which
        # would still send URL or -u credentials to the same host on another port or scheme.
        hop = None
        if self._carries_secrets(request):
            hop = Hop(url, request.method, request.headers, request.body)
        job.started_at = time.time()
        job.t0 = time.monotonic()
        self._launch(job, url, request.method, request.headers, request.body, hop)

    def _carries_secrets(self, request: Request) -> bool:
        if self._has_auth:
            return True
        url = request.url
        if "@" in url and "@" in url.split("/", 3)[2]:
            return True
        return bool(request.headers) and any(k.lower() in self._secret_headers for k, _ in request.headers)

    def _launch(
        self, job: Job, url: str, method: str, headers: Headers, body: bytes | None, hop: Hop | None
    ) -> None:
        handle = self._handle()
        writer = self._bodies.writer(job.id)
        raw_headers: list[bytes] = []
        handle.setopt(pycurl.URL, url)
        handle.setopt(pycurl.WRITEFUNCTION, writer.write)
        handle.setopt(pycurl.HEADERFUNCTION, raw_headers.append)
        timeout = job.request.timeout or self._timeouts.total
        remaining = timeout - (time.monotonic() - job.t0) if hop is not None and hop.hops else timeout
        handle.setopt(pycurl.TIMEOUT_MS, max(1, int(remaining * 1000)))
        if isinstance(writer, FileBody):
            writer.raw_headers = raw_headers
            resume = writer.resume_point() if method == "GET" else None
            if resume is not None:  # continue an interrupted download, if it is still the same
                self._dirty.add(id(handle))
                handle.setopt(pycurl.RANGE, f"{resume[0]}-")
                headers = (*headers, ("If-Range", resume[1]))
        if hop is not None:
            self._dirty.add(id(handle))
            handle.setopt(pycurl.FOLLOWLOCATION, 0)
            if hop.stripped:
                handle.unsetopt(pycurl.USERPWD)
        if method != "GET" or headers or body is not None:
            self._dirty.add(id(handle))
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
        if self._deny_private:
            self._dirty.add(id(handle))
            handle.setopt(pycurl.OPENSOCKETFUNCTION, lambda purpose, address: self._open_socket(job, address))
        job.transport_state = _Transfer(handle, writer, raw_headers, hop)
        self._jobs[id(handle)] = job
        self.active += 1
        if self._resolver is not None:
            origin = job.host if hop is None or not hop.hops else origin_of(url)
            try:
                endpoint = self._endpoints[origin]
            except KeyError:
                endpoint = self._endpoints[origin] = self._endpoint(origin)
            if endpoint is not None and not self._addressed(job, handle, endpoint):
                return  # waits for its name's answers, or has failed
        self._add(job, handle)

    def _add(self, job: Job, handle: pycurl.Curl) -> None:
        multis = self._multis
        multi = multis[0]
        if len(multis) > 1:
            idle = self._idle.get(job.host)
            if idle:  # the multi that holds an idle connection to the host: reuse it
                multi = idle.pop()
            else:
                self._turn = (self._turn + 1) % len(multis)
                multi = multis[self._turn]
        job.transport_state.multi = multi
        multi.add_handle(handle)

    # -- names --------------------------------------------------------------------------------------

    def _endpoint(self, origin: str) -> tuple[str, int] | None:
        """``(name, port)`` of an origin whose host must be resolved; None for an address."""
        if len(self._endpoints) > 100_000:
            self._endpoints.clear()  # a crawl over very many hosts: keep this map small
        scheme, _, authority = origin.partition("://")
        if authority.startswith("["):
            return None  # an IPv6 address
        name, _, port = authority.partition(":")
        if not name or name.replace(".", "").isdigit() or name == "localhost" or name in self._pinned:
            return None  # an IPv4 address; libcurl knows localhost; the user's --resolve
        return name, int(port) if port.isdigit() else (443 if scheme == "https" else 80)

    def expect(self, origin: str) -> None:
        """A request to ``origin`` is coming: start looking its name up now."""
        if self._resolver is not None:
            endpoint = self._endpoints.get(origin)
            if endpoint is None and origin not in self._endpoints:
                endpoint = self._endpoints[origin] = self._endpoint(origin)
            if endpoint is not None:
                self._resolver.addresses(endpoint[0])

    def _addressed(self, job: Job, handle: pycurl.Curl, endpoint: tuple[str, int]) -> bool:
        """Give libcurl the addresses of ``job``'s host; False when the job cannot go yet
        (it waits for the answers) or at all (it has failed, for the next poll())."""
        assert self._resolver is not None
        name = endpoint[0]
        generation, answer = self._resolver.addresses(name)
        if answer is None:
            self._waiting.setdefault(name, []).append((job, endpoint))
            return False
        if isinstance(answer, str):
            self._end_unsent(job, handle, "dns", answer)
            return False
        if self._told.get(endpoint) != generation:
            # Every transfer carries the addresses until one that did has run: transfers in
            # other multi handles may start before the first, and libcurl would resolve itself.
            self._carrying.add(id(handle))
            handle.setopt(pycurl.RESOLVE, [f"{name}:{endpoint[1]}:{','.join(answer)}"])
            self._telling[id(handle)] = (endpoint, generation)
        return True

    def wake(self) -> None:
        os.eventfd_write(self._waker, 1)

    def _on_wake(self, fd: int, flags: int) -> None:
        try:
            os.eventfd_read(fd)
        except BlockingIOError:  # another poll() already read it
            pass

    def _on_answers(self, fd: int, flags: int) -> None:
        assert self._resolver is not None
        self._settle(self._resolver.answered())

    def _settle(self, names: list[str]) -> None:
        """Names whose answers changed: start (or fail) the jobs that waited for them."""
        for name in names:
            jobs = self._waiting.pop(name, None)
            for job, endpoint in jobs or ():
                handle = job.transport_state.handle
                if self._addressed(job, handle, endpoint):
                    self._add(job, handle)

    def _end_unsent(self, job: Job, handle: pycurl.Curl, kind: str, message: str) -> None:
        """An attempt that ends before libcurl sees it: handed out by the next poll()."""
        del self._jobs[id(handle)]
        job.transport_state.writer.abort()
        job.transport_state = None
        self._free.append(handle)
        job.elapsed = time.monotonic() - job.t0
        job.fail(kind, message)
        self._ended.append(job)  # still counted in self.active until poll() hands it out

    def _follow(self, job: Job, handle: pycurl.Curl, writer: BodyWriter, hop: Hop) -> bool:
        """Take one redirect of a request that carries secrets; False when the answer is final."""
        status = handle.getinfo(pycurl.RESPONSE_CODE)
        location = _url_info(handle, pycurl.REDIRECT_URL) if status in _REDIRECTS else None
        if not location or not self._follow_redirects:
            return False
        writer.abort()
        self._release(handle, job.transport_state.multi)
        if hop.hops >= self._max_redirects:
            job.fail("too_many_redirects", f"Maximum ({self._max_redirects}) redirects followed")
            return True
        if not location.lower().startswith(("http://", "https://")):
            job.fail("blocked", f"redirect to a scheme other than http(s): {location.split(':', 1)[0]}")
            return True
        method, body, headers = hop.method, hop.body, hop.headers
        if status == 303 or (status in (301, 302) and method == "POST"):
            method = "HEAD" if method == "HEAD" else "GET"
            body = None
            headers = tuple((k, v) for k, v in headers if k.lower() not in ("content-type", "content-length"))
        stripped = hop.stripped
        if origin_of(location) != origin_of(hop.url):
            headers = tuple((k, v) for k, v in headers if k.lower() not in self._secret_headers)
            stripped = True
        next_hop = Hop(location, method, headers, body, hop.hops + 1, stripped)
        self._launch(job, location, method, headers, body, next_hop)
        return True

    def _release(self, handle: pycurl.Curl, multi: pycurl.CurlMulti) -> None:
        self._jobs.pop(id(handle), None)
        self._telling.pop(id(handle), None)
        multi.remove_handle(handle)
        self.active -= 1
        self._dirty.add(id(handle))
        self._free.append(handle)

    def poll(self, timeout: float) -> list[Job]:
        """Wait up to ``timeout`` seconds for socket events; return the jobs whose attempt ended."""
        done: list[Job] = []
        if self._ended:  # attempts that ended inside kick(): hand them out without waiting
            done, self._ended = self._ended, done
            self.active -= len(done)
            timeout = 0.0
        dues = self._dues
        now = time.monotonic()
        resolver = self._resolver
        if resolver is not None:
            dues = [*dues, resolver.due()]
        for due in dues:
            if due is not None and due - now < timeout:
                timeout = due - now if due > now else 0.0
        events = self._epoll.poll(timeout)
        if resolver is not None and resolver.due() is not None:
            self._settle(resolver.advance())
        if events:
            owner = self._owner
            flags = _FLAGS
            for fd, mask in events:
                action = owner.get(fd)
                if action is not None:
                    action(fd, flags[mask & 63])
                else:
                    self._drop(fd)
        self._run_timers()
        for multi in self._multis:
            self._collect(multi, done)
        if self._ended:  # requests to names that failed to resolve
            done += self._ended
            self.active -= len(self._ended)
            self._ended = []
        return done

    def kick(self) -> None:
        """Run libcurl's due timers now: transfers just added send their requests.

        A transfer can end inside this call (over TLS on a fast peer, the answer is often read
        in the same ``socket_action`` that sent the request). Its socket is then no longer
        watched and no timer is set, so its completion would wait for an unrelated wake-up:
        it is collected here and handed out by the next ``poll()``, which then does not wait.
        """
        if self._run_timers():
            ended = self._ended
            before = len(ended)
            for multi in self._multis:
                self._collect(multi, ended)
            self.active += len(ended) - before  # still in flight until poll() hands them out

    def _run_timers(self) -> bool:
        ran = False
        dues = self._dues
        now = time.monotonic()
        for index, due in enumerate(dues):
            if due is not None and now >= due:
                dues[index] = None
                self._multis[index].socket_action(pycurl.SOCKET_TIMEOUT, 0)
                ran = True
        return ran

    def _collect(self, multi: pycurl.CurlMulti, done: list[Job]) -> None:
        info_read = multi.info_read
        while True:
            queued, ok_list, err_list = info_read()
            for handle in ok_list:
                job = self._finish(handle, 0, "")
                if job is not None:
                    done.append(job)
            for handle, code, message in err_list:
                job = self._finish(handle, code, message)
                if job is not None:
                    done.append(job)
            if not queued:
                return

    def _finish(self, handle: pycurl.Curl, code: int, message: str) -> Job | None:
        job = self._jobs[id(handle)]
        transfer: _Transfer = job.transport_state
        writer, raw_headers, hop, multi = transfer.writer, transfer.raw_headers, transfer.hop, transfer.multi
        if code == 0 and hop is not None and self._follow(job, handle, writer, hop):
            return None if job.error_kind is None else self._finished_early(job, handle)
        del self._jobs[id(handle)]
        job.transport_state = None
        assert multi is not None  # it ended in libcurl's hands
        multi.remove_handle(handle)
        if self._telling:
            told = self._telling.pop(id(handle), None)
            if told is not None and code == 0:
                if len(self._told) >= MAX_NAMES:
                    self._told.clear()  # forgotten ones are told again: the addresses ride along
                self._told[told[0]] = told[1]
        if code == 0 and len(self._multis) > 1:
            idle = self._idle.get(job.host)
            if idle is None:
                if len(self._idle) >= _IDLE_HOSTS:
                    self._idle.clear()  # a crawl over many hosts: keep this map small
                idle = self._idle[job.host] = []
            if len(idle) < _PER_MULTI * len(self._multis):
                idle.append(multi)
        self.active -= 1
        getinfo = handle.getinfo
        job.elapsed = time.monotonic() - job.t0
        job.final_url = _effective_url(handle)
        job.timings = Timings(
            getinfo(pycurl.NAMELOOKUP_TIME),
            getinfo(pycurl.CONNECT_TIME),
            getinfo(pycurl.APPCONNECT_TIME),
            getinfo(pycurl.STARTTRANSFER_TIME),
            getinfo(pycurl.TOTAL_TIME),
        )
        if code == 0:
            try:
                job.content, job.sha256, job.body_path = writer.finish()
            except OSError as exc:
                writer.abort()
                job.fail("write", f"cannot save body: {exc}")
            else:
                job.status = getinfo(pycurl.RESPONSE_CODE)
                job.http_version = _HTTP_VERSIONS.get(getinfo(pycurl.INFO_HTTP_VERSION), "")
                job.size = writer.size
                job.raw_headers = raw_headers
        else:
            writer.abort()
            self._fail(job, handle, writer, code, message)
        self._free.append(handle)
        return job

    def _finished_early(self, job: Job, handle: pycurl.Curl) -> Job:
        """A redirect that cannot be followed ended the attempt (the handle is already released)."""
        job.transport_state = None
        job.elapsed = time.monotonic() - job.t0
        job.final_url = _effective_url(handle)
        return job

    def _open_socket(self, job: Job, address: Any) -> Any:
        """libcurl's socket opener under --deny-private: refuse non-public addresses."""
        host = address.addr[0] if isinstance(address.addr, tuple) else str(address.addr)
        reason = denied_reason(host)
        if reason is not None:
            self._denied[id(job)] = reason
            return pycurl.SOCKET_BAD
        return socket.socket(address.family, address.socktype, address.protocol)

    def _fail(self, job: Job, handle: pycurl.Curl, writer: BodyWriter, code: int, msg: str) -> None:
        kind = error_kind(code, msg, proxied=bool(handle.getinfo(pycurl.PROXY_ERROR)) or self._proxied)
        denied = self._denied.pop(id(job), None)
        if denied is not None:
            kind, msg = "blocked", f"refused to connect: {denied} (--deny-private)"
        if kind == "write" and getattr(writer, "error", None) is not None:
            msg = f"cannot save body: {writer.error}"  # type: ignore[union-attr]
        elif kind == "timeout":
            msg = f"{msg} ({timeout_phase(handle)})"
        job.raw_headers = None
        job.fail(kind, msg or f"libcurl error {code}")

    def abort(self, job: Job) -> None:
        """Stop ``job``'s transfer now; its attempt gets no outcome."""
        transfer: _Transfer | None = job.transport_state
        if transfer is None:
            return
        handle, writer, multi = transfer.handle, transfer.writer, transfer.multi
        job.transport_state = None
        del self._jobs[id(handle)]
        self._telling.pop(id(handle), None)
        if multi is not None:
            multi.remove_handle(handle)
        else:  # still waiting for its name's addresses
            self._forget_waiting(job)
        writer.abort()
        self.active -= 1
        self._dirty.add(id(handle))
        self._free.append(handle)

    def _forget_waiting(self, job: Job) -> None:
        for waiting in self._waiting.values():
            for index, (other, _) in enumerate(waiting):
                if other is job:
                    del waiting[index]
                    return

    def in_flight(self) -> list[Job]:
        return list(self._jobs.values())

    def close(self) -> None:
        for job in self.in_flight():
            self.abort(job)
        if self._cookies_file and self._free:
            self._free[0].setopt(pycurl.COOKIELIST, "FLUSH")  # write the jar now, not at some GC
        for handle in self._free:
            handle.close()
        self._free.clear()
        for multi in self._multis:
            multi.close()
        if self._resolver is not None:
            self._resolver.close()
        self._epoll.close()
        os.close(self._waker)
        self._denied.clear()
