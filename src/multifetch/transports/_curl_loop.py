"""The libcurl engine's event loop: ``CurlMulti`` handles driven by ``socket_action`` and ``select.epoll``.

Why this shape (measured, see the design notes): ``perform()`` + ``select()`` does O(handles)
work per call and collapses past ~1,000 sockets; ``socket_action`` touches only the sockets that
are ready. The Python work per event is what limits throughput, so the socket callback only
updates a dict and skips registrations that did not change, and completions are drained once
per wake-up (by the transport, ``CurlTransport._collect``).
"""

from __future__ import annotations

import functools
import math
import os
import select
import time
from collections.abc import Callable
from typing import Any, Final

import pycurl

from ..engine._job import Job
from ..engine._resources import spare_fds

# Read once: libcurl's numbers, which compiled code would otherwise look up in pycurl on every use.
_POLL_REMOVE: Final = pycurl.POLL_REMOVE
_SOCKET_TIMEOUT: Final = pycurl.SOCKET_TIMEOUT

PER_MULTI = 64  # transfers a multi handle serves before another one is added
IDLE_HOSTS = 4096  # hosts whose idle connections are placed (see CurlLoop.idle)
IDLE_PLAIN = 4096  # idle plain-HTTP connections kept open at most (see CurlLoop.__init__)

_EPOLL_FOR: Final = {
    pycurl.POLL_IN: select.EPOLLIN,
    pycurl.POLL_OUT: select.EPOLLOUT,
    pycurl.POLL_INOUT: select.EPOLLIN | select.EPOLLOUT,
}
_ERR = select.EPOLLERR | select.EPOLLHUP


def _curl_flags(events: int) -> int:
    flags = 0
    if events & select.EPOLLIN:
        flags |= pycurl.CSELECT_IN
    if events & select.EPOLLOUT:
        flags |= pycurl.CSELECT_OUT
    if events & _ERR:
        flags |= pycurl.CSELECT_ERR
    return flags


# epoll reports few distinct masks; translate each once.
_FLAGS: Final = {mask: _curl_flags(mask) for mask in range(64)}


class CurlLoop:
    """The multi handles, the sockets libcurl asks to watch, their timers, and ``wake()``.

    Besides libcurl's sockets, ``watch`` takes any file descriptor with its own callback (the
    resolver's answers); ``wake()`` ends a ``wait`` from another thread.
    """

    def __init__(self, concurrency: int) -> None:
        self._epoll = select.epoll()
        self._registered: dict[int, int] = {}
        self._owner: dict[int, Callable[[int, int], Any]] = {}  # fd -> its multi's socket_action
        # wake(): another thread (a consumer making room, a stop, new input) ends a waiting poll()
        self._waker = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self.watch(self._waker, self._on_wake)
        # libcurl looks for a reusable connection by walking the host's connections, so one multi
        # with thousands of connections to a host spends most of its time there (measured: 110 µs
        # per socket_action at 5,000 connections). A multi per 64 transfers keeps that walk short
        # (at 5,000 connections, 200 ms answers: 10 % less CPU than 256 a multi).
        count = max(1, math.ceil(concurrency / PER_MULTI))
        # Connections a multi keeps open, idle ones included. An idle connection is mostly of a
        # host that waits for its turn or is done: one to reuse saves a connect, and over TLS a
        # handshake, but over TLS each costs ~165 KB (OpenSSL's context and buffers). Measured over
        # 2,000 HTTPS hosts at 256 transfers, 40,000 requests: libcurl's default, four times the
        # transfers, kept ~1,100 open, 255 MB; half as many again, 384 open, 147 MB and 4,400
        # connections opened; a quarter, 320, 136 MB and 4,700; as many as the transfers, 126 MB
        # but 13,900 connections opened and 60 % more CPU. So a quarter as many again as the
        # transfers once a host is HTTPS (``keep_fewer``). A plain connection costs ~2 KB and a
        # file descriptor: up to ``IDLE_PLAIN`` are kept, within the open-files limit.
        per_multi = min(PER_MULTI, max(1, concurrency))
        self._kept_tls = per_multi + per_multi // 4
        kept = per_multi + max(per_multi // 4, min(IDLE_PLAIN, spare_fds(concurrency)) // count)
        self._kept = kept
        self.multis: list[pycurl.CurlMulti] = []
        self._dues: list[float | None] = [None] * count
        for index in range(count):
            multi = pycurl.CurlMulti()
            multi.setopt(pycurl.M_SOCKETFUNCTION, functools.partial(self._on_socket, multi.socket_action))
            multi.setopt(pycurl.M_TIMERFUNCTION, functools.partial(self._on_timer, index))
            multi.setopt(pycurl.M_PIPELINING, pycurl.PIPE_MULTIPLEX)
            multi.setopt(pycurl.M_MAXCONNECTS, kept)
            self.multis.append(multi)
        self._turn = 0
        # Each multi keeps its own connections. A transfer sent to a multi with no idle
        # connection to its host opens one while another multi's sits idle (measured: 7,900
        # connections opened for 30,000 requests at 5,000 connections), so transfers go where
        # their host's idle connections are: host -> multis, one entry per connection returned
        # (the transport adds them as transfers end).
        self.idle: dict[str, list[pycurl.CurlMulti]] = {}

    def keep_fewer(self) -> None:
        """A host is HTTPS: keep only as many idle connections as TLS's memory allows (libcurl
        closes the oldest idle ones as transfers end)."""
        if self._kept != self._kept_tls:
            self._kept = self._kept_tls
            for multi in self.multis:
                multi.setopt(pycurl.M_MAXCONNECTS, self._kept_tls)

    def watch(self, fd: int, callback: Callable[[int, int], Any]) -> None:
        """Call ``callback(fd, flags)`` when ``fd`` is readable."""
        self._epoll.register(fd, select.EPOLLIN)
        self._owner[fd] = callback

    # -- libcurl callbacks: keep them tiny, they run per socket event -----------------------------

    def _on_socket(
        self, action: Callable[[int, int], Any], what: int, fd: int, multi: Any, socketp: Any
    ) -> None:
        # libcurl removes a keep-alive socket after every transfer and adds it back for the next:
        # two epoll_ctl calls a request, a tenth of the CPU at 20,000 req/s. So a removed socket
        # stays registered (events for it are dropped, see dispatch) and a re-added one is modified.
        if what == _POLL_REMOVE:
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

    # -- the transport's calls ----------------------------------------------------------------------

    def place(self, job: Job, handle: pycurl.Curl) -> None:
        """Hand ``job``'s transfer to a multi: one holding an idle connection to its host, if any."""
        multis = self.multis
        multi = multis[0]
        if len(multis) > 1:
            idle = self.idle.get(job.host)
            if idle:  # the multi that holds an idle connection to the host: reuse it
                multi = idle.pop()
            else:
                self._turn = (self._turn + 1) % len(multis)
                multi = multis[self._turn]
        job.transport_state.multi = multi
        multi.add_handle(handle)

    def wait(self, timeout: float, due: float | None) -> list[tuple[int, int]]:
        """Socket events, waited for up to ``timeout`` seconds, less when a multi's timer or
        ``due`` (a ``time.monotonic()`` time) comes sooner."""
        now = time.monotonic()
        for when in self._dues:
            if when is not None and when - now < timeout:
                timeout = when - now if when > now else 0.0
        if due is not None and due - now < timeout:
            timeout = due - now if due > now else 0.0
        return self._epoll.poll(timeout)

    def dispatch(self, events: list[tuple[int, int]]) -> None:
        """Hand each event to its socket's multi (or watcher); drop those of parked sockets."""
        owner = self._owner
        flags = _FLAGS
        for fd, mask in events:
            action = owner.get(fd)
            if action is not None:
                action(fd, flags[mask & 63])
            else:
                self._drop(fd)

    def run_timers(self) -> bool:
        """Run the multis' timers that are due; True when one ran."""
        ran = False
        dues = self._dues
        now = time.monotonic()
        for index, due in enumerate(dues):
            if due is not None and now >= due:
                dues[index] = None
                self.multis[index].socket_action(_SOCKET_TIMEOUT, 0)
                ran = True
        return ran

    def wake(self) -> None:
        os.eventfd_write(self._waker, 1)

    def _on_wake(self, fd: int, flags: int) -> None:
        try:
            os.eventfd_read(fd)
        except BlockingIOError:  # another poll() already read it
            pass

    def close(self) -> None:
        for multi in self.multis:
            multi.close()
        self._epoll.close()
        os.close(self._waker)
