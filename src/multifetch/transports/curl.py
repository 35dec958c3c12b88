"""The libcurl engine: the ``Transport`` the scheduler drives, on libcurl's multi interface.

Its parts: the event loop over the multi handles (``_curl_loop``), the easy handles reused and
set up per request (``_curl_handles``, with the run's base options from ``_curl_options``), host
names resolved beside the loop (``_curl_names``, ``_resolver``), redirects of requests that
carry secrets (``_curl_redirects``), and a finished transfer read into its job
(``_curl_outcome``, ``_curl_errors``). This module starts attempts and collects their ends.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

import pycurl

from .._version import __version__
from ..engine._job import Job
from ..engine._policy import Timeouts
from ..inputs._spec import Headers
from ..inputs._urls import origin_of
from ..outputs._bodies import BodyStore
from ._capture import captured
from ._curl_handles import Handles, Transfer
from ._curl_loop import IDLE_HOSTS, PER_MULTI, CurlLoop
from ._curl_names import Names
from ._curl_options import base_options, new_share
from ._curl_outcome import effective_url, read_outcome, url_info
from ._curl_redirects import REDIRECTS, Hop, Redirects
from ._decoding import Decoding
from ._guard import denied_reason

USER_AGENT = f"multifetch/{__version__}"

_PROXY_VARIABLES = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")


# libcurl's DNS cache, in the share, keeps an entry for every host of the run (numeric ones
# too) in a hash of a few dozen slots, so a lookup walks a chain that grows with the hosts seen:
# over 200,000 hosts of a request each, 77 % of the loop's time went there (123 s, against 29 s
# for 100,000). A new share every 10,000 hosts keeps the chains short; what it costs is the TLS
# sessions of the hosts seen before it (their next connection makes a full handshake).
SHARE_HOSTS = 10_000


def _resolved_here(base: list[tuple[int, Any]], *, proxied: bool, doh_url: str | None) -> bool:
    """Whether names are resolved by multifetch rather than by libcurl, which holds a transfer
    until both address families have answered (see _resolver): not through a proxy (it
    resolves), nor with DNS-over-HTTPS (names the user pinned with --resolve are left to libcurl
    by ``Names``). Then ``base`` tells libcurl that the addresses handed over never expire (the
    resolver refreshes them), so that it does not walk its whole DNS cache for stale entries
    before every lookup (7 % of the loop's time with 1,000 names)."""
    if proxied or doh_url:
        return False
    base.append((pycurl.DNS_CACHE_TIMEOUT, -1))
    return True

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
        limit_rate: int | None = None,
        proxy_pool: bool = False,
        capture: bool = False,
        answer_details: bool = True,
    ) -> None:
        self._jobs: dict[int, Job] = {}  # id(handle) -> job in flight
        self._ended: list[Job] = []  # attempts that ended inside kick(), for the next poll()
        self.active = 0
        self._denied: dict[int, str] = {}  # id(job) -> the address refused under --deny-private
        # proxy_pool: each attempt names its proxy (``job.proxy``, see _proxies)
        self._proxied = proxy is not None or proxy_pool or any(os.environ.get(v) for v in _PROXY_VARIABLES)
        self._cookies_file = cookies
        self._hosts_in_share = 0  # hosts expected since the share was made (``_renew_share``)
        # No proxy given or in the environment: an empty one says so, or libcurl looks in the
        # environment again for every transfer.
        base = base_options(
            new_share(), timeouts, saving_files=bodies.mode == "files", max_body_size=max_body_size,
            max_redirects=max_redirects, follow_redirects=follow_redirects, user_agent=user_agent,
            verify=verify, cafile=cafile, http_version=http_version, resolve=resolve, doh_url=doh_url,
            proxy=proxy if self._proxied else "", auth=auth, cookies=cookies, client_cert=client_cert,
            limit_rate=limit_rate)
        resolving = _resolved_here(base, proxied=self._proxied, doh_url=doh_url)
        self._handles = Handles(base, bodies, timeouts, self._open_socket if deny_private else None,
                                max_body_size=max_body_size, capture=capture)
        self._capture = capture  # for a WARC archive: each attempt's wire data (_capture)
        self._details = answer_details  # each answer's timings and HTTP version (TransportOptions)
        self._loop = CurlLoop(concurrency)
        self._names = self._start_names(timeouts, resolve) if resolving else None
        self._redirects = Redirects(has_auth=auth is not None, secret_headers=secret_headers,
                                    max_redirects=max_redirects, follow=follow_redirects)
        # looked up once: called for every request
        self._free = self._handles.free
        self._new_transfer = self._handles.transfer
        self._add = self._loop.place
        self._idle = self._loop.idle
        self._many_multis = len(self._loop.multis) > 1
        self._carries_secrets = self._redirects.carries_secrets

    def _start_names(self, timeouts: Timeouts, resolve: list[str] | None) -> Names:
        pinned = {entry.lstrip("+-").split(":", 1)[0].lower() for entry in resolve or ()}
        names = Names(connect_timeout=timeouts.connect, pinned=pinned, carrying=self._handles.carrying,
                      add=self._loop.place, fail=self._end_unsent)
        self._loop.watch(names.resolver.fileno(), names.on_answers)
        return names

    # -- starting attempts ----------------------------------------------------------------------

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

    def _launch(
        self, job: Job, url: str, method: str, headers: Headers, body: bytes | None, hop: Hop | None
    ) -> None:
        transfer = self._new_transfer(job, url, method, headers, body, hop)
        handle = transfer.handle
        job.transport_state = transfer
        self._jobs[id(handle)] = job
        self.active += 1
        names = self._names
        if names is not None:
            origin = job.host if hop is None or not hop.hops else origin_of(url)
            endpoints = names.endpoints
            try:
                endpoint = endpoints[origin]
            except KeyError:
                endpoint = endpoints[origin] = names.endpoint(origin)
            if endpoint is not None and not names.addressed(job, handle, endpoint):
                return  # waits for its name's answers, or has failed
        self._add(job, handle)

    def expect(self, origin: str) -> None:
        """A request to ``origin`` is coming: start looking its name up now."""
        if origin.startswith("https:"):
            self._loop.keep_fewer()
        if self._names is not None:
            self._names.expect(origin)
        self._hosts_in_share += 1
        if self._hosts_in_share >= SHARE_HOSTS and self._cookies_file is None:
            self._renew_share()

    def _renew_share(self) -> None:
        """A new share for the transfers from now on: an empty DNS cache (see ``SHARE_HOSTS``).
        Not with cookies, which live there too."""
        self._hosts_in_share = 0
        self._handles.renew_share(new_share(), in_flight=self._jobs.keys())
        if self._names is not None:
            self._names.forget_told()  # libcurl's new cache holds none of the addresses

    def _end_unsent(self, job: Job, handle: pycurl.Curl, kind: str, message: str) -> None:
        """An attempt that ends before libcurl sees it: handed out by the next poll()."""
        del self._jobs[id(handle)]
        job.transport_state.writer.abort()
        job.transport_state = None
        self._free.append(handle)
        job.elapsed = time.monotonic() - job.t0
        job.fail(kind, message)
        self._ended.append(job)  # still counted in self.active until poll() hands it out

    def _open_socket(self, job: Job, address: Any) -> Any:
        """libcurl's socket opener under --deny-private: refuse non-public addresses."""
        host = address.addr[0] if isinstance(address.addr, tuple) else str(address.addr)
        reason = denied_reason(host)
        if reason is not None:
            self._denied[id(job)] = reason
            return pycurl.SOCKET_BAD
        return socket.socket(address.family, address.socktype, address.protocol)

    # -- collecting their ends --------------------------------------------------------------------

    def poll(self, timeout: float) -> list[Job]:
        """Wait up to ``timeout`` seconds for socket events; return the jobs whose attempt ended."""
        done: list[Job] = []
        if self._ended:  # attempts that ended inside kick(): hand them out without waiting
            done, self._ended = self._ended, done
            self.active -= len(done)
            timeout = 0.0
        loop = self._loop
        names = self._names
        events = loop.wait(timeout, None if names is None else names.resolver.due())
        if names is not None and names.resolver.due() is not None:
            names.settle(names.resolver.advance())
        if events:
            loop.dispatch(events)
        loop.run_timers()
        for multi in loop.multis:
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
        if self._loop.run_timers():
            ended = self._ended
            before = len(ended)
            for multi in self._loop.multis:
                self._collect(multi, ended)
            self.active += len(ended) - before  # still in flight until poll() hands them out

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
        transfer: Transfer = job.transport_state
        writer, raw_headers, hop, multi = transfer.writer, transfer.raw_headers, transfer.hop, transfer.multi
        if code == 0 and self._capture:
            captured(job, handle)
        if code == 0 and hop is not None and self._follow(job, handle, writer, hop):
            return None if job.error_kind is None else self._finished_early(job, handle)
        del self._jobs[id(handle)]
        job.transport_state = None
        assert multi is not None  # it ended in libcurl's hands
        multi.remove_handle(handle)
        names = self._names
        if names is not None and names.telling:
            names.ran(handle, code)
        if code == 0 and self._many_multis:  # its connection is idle now: CurlLoop.place reuses it
            idle = self._idle.get(job.host)
            if idle is None:
                if len(self._idle) >= IDLE_HOSTS:
                    self._idle.clear()  # a crawl over many hosts: keep this map small
                idle = self._idle[job.host] = []
            if len(idle) < PER_MULTI * len(self._loop.multis):
                idle.append(multi)
        self.active -= 1
        job.elapsed = time.monotonic() - job.t0
        url = transfer.url
        read_outcome(job, handle, url, writer, raw_headers, code, message,
                     proxied=self._proxied, denied=self._denied, details=self._details)
        final = job.final_url
        if final is not url and final is not None and final.startswith("https:"):
            self._loop.keep_fewer()  # redirected to HTTPS: its TLS connection idles here too
        self._free.append(handle)
        return job

    def _follow(self, job: Job, handle: pycurl.Curl, writer: Decoding, hop: Hop) -> bool:
        """Take one redirect of a request that carries secrets; False when the answer is final."""
        status = handle.getinfo(pycurl.RESPONSE_CODE)
        location = url_info(handle, pycurl.REDIRECT_URL) if status in REDIRECTS else None
        if not location or not self._redirects.follow:
            return False
        writer.abort()
        self._release(handle, job.transport_state.multi)
        step = self._redirects.next_hop(hop, status, location)
        if isinstance(step, Hop):
            self._launch(job, step.url, step.method, step.headers, step.body, step)
        else:
            job.fail(*step)
        return True

    def _finished_early(self, job: Job, handle: pycurl.Curl) -> Job:
        """A redirect that cannot be followed ended the attempt (the handle is already released)."""
        job.transport_state = None
        job.elapsed = time.monotonic() - job.t0
        job.final_url = effective_url(handle)
        return job

    def _release(self, handle: pycurl.Curl, multi: pycurl.CurlMulti) -> None:
        self._jobs.pop(id(handle), None)
        if self._names is not None:
            self._names.telling.pop(id(handle), None)
        multi.remove_handle(handle)
        self.active -= 1
        self._handles.release(handle)

    # -- the rest of the protocol ---------------------------------------------------------------

    def wake(self) -> None:
        self._loop.wake()

    def abort(self, job: Job) -> None:
        """Stop ``job``'s transfer now; its attempt gets no outcome."""
        transfer: Transfer | None = job.transport_state
        if transfer is None:
            return
        handle, writer, multi = transfer.handle, transfer.writer, transfer.multi
        job.transport_state = None
        del self._jobs[id(handle)]
        names = self._names
        if names is not None:
            names.telling.pop(id(handle), None)
        if multi is not None:
            multi.remove_handle(handle)
        elif names is not None:  # still waiting for its name's addresses
            names.forget(job)
        writer.abort()
        self.active -= 1
        self._handles.release(handle)

    def in_flight(self) -> list[Job]:
        return list(self._jobs.values())

    def close(self) -> None:
        for job in self.in_flight():
            self.abort(job)
        self._handles.close(flush_cookies=bool(self._cookies_file))
        self._loop.close()
        if self._names is not None:
            self._names.close()
        self._denied.clear()
