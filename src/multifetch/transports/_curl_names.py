"""Host names resolved by multifetch (``Resolver``) and their addresses handed to libcurl.

libcurl would hold a transfer until both address families have answered (see ``_resolver``).
A transfer to a name waits here for the resolver's first usable answer, then carries the
addresses in ``CURLOPT_RESOLVE`` until a transfer that carried them has run: libcurl's shared
DNS cache then holds them, and later transfers to the name need not carry them again.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pycurl

from ..engine._job import Job
from ._resolver import MAX_NAMES, Resolver

Endpoint = tuple[str, int]  # (name, port)


class Names:
    """The resolver, the transfers that wait for its answers, and what libcurl was told.

    ``add(job, handle)`` hands an addressed transfer to libcurl; ``fail(job, handle, kind,
    message)`` ends one whose name did not resolve. ``endpoints`` maps an origin to the endpoint
    to resolve (None for an address, localhost or a name the user pinned with ``--resolve``).
    """

    def __init__(self, *, connect_timeout: float, pinned: set[str], carrying: set[int],
                 add: Callable[[Job, pycurl.Curl], None],
                 fail: Callable[[Job, pycurl.Curl, str, str], None]) -> None:
        self.resolver = Resolver(timeout=connect_timeout, clock=time.monotonic)
        self._pinned = pinned
        self._carrying = carrying  # the handles' set of those whose RESOLVE carries addresses
        self._add = add
        self._fail = fail
        self.endpoints: dict[str, Endpoint | None] = {}
        self._waiting: dict[str, list[tuple[Job, Endpoint]]] = {}  # name -> jobs waiting
        self._told: dict[Endpoint, int] = {}  # (name, port) -> generation libcurl has
        self.telling: dict[int, tuple[Endpoint, int]] = {}  # id(handle) -> what it tells

    def endpoint(self, origin: str) -> Endpoint | None:
        """``(name, port)`` of an origin whose host must be resolved; None for an address."""
        if len(self.endpoints) > 100_000:
            self.endpoints.clear()  # a crawl over very many hosts: keep this map small
        scheme, _, authority = origin.partition("://")
        if authority.startswith("["):
            return None  # an IPv6 address
        name, _, port = authority.partition(":")
        if not name or name.replace(".", "").isdigit() or name == "localhost" or name in self._pinned:
            return None  # an IPv4 address; libcurl knows localhost; the user's --resolve
        return name, int(port) if port.isdigit() else (443 if scheme == "https" else 80)

    def expect(self, origin: str) -> None:
        """A request to ``origin`` is coming: start looking its name up now."""
        endpoint = self.endpoints.get(origin)
        if endpoint is None and origin not in self.endpoints:
            endpoint = self.endpoints[origin] = self.endpoint(origin)
        if endpoint is not None:
            self.resolver.addresses(endpoint[0])

    def addressed(self, job: Job, handle: pycurl.Curl, endpoint: Endpoint) -> bool:
        """Give libcurl the addresses of ``job``'s host; False when the job cannot go yet
        (it waits for the answers) or at all (it has failed, for the next poll())."""
        name = endpoint[0]
        generation, answer = self.resolver.addresses(name)
        if answer is None:
            self._waiting.setdefault(name, []).append((job, endpoint))
            return False
        if isinstance(answer, str):
            self._fail(job, handle, "dns", answer)
            return False
        if self._told.get(endpoint) != generation:
            # Every transfer carries the addresses until one that did has run: transfers in
            # other multi handles may start before the first, and libcurl would resolve itself.
            self._carrying.add(id(handle))
            handle.setopt(pycurl.RESOLVE, [f"{name}:{endpoint[1]}:{','.join(answer)}"])
            self.telling[id(handle)] = (endpoint, generation)
        return True

    def ran(self, handle: pycurl.Curl, code: int) -> None:
        """A transfer ended: if it carried addresses and ran, libcurl's DNS cache holds them now."""
        told = self.telling.pop(id(handle), None)
        if told is not None and code == 0:
            if len(self._told) >= MAX_NAMES:
                self._told.clear()  # forgotten ones are told again: the addresses ride along
            self._told[told[0]] = told[1]

    def forget_told(self) -> None:
        """libcurl's DNS cache was replaced (``CurlTransport._renew_share``): every name's
        addresses ride along again until a transfer that carried them has run."""
        self._told.clear()
        self.telling.clear()

    def on_answers(self, fd: int, flags: int) -> None:
        self.settle(self.resolver.answered())

    def settle(self, names: list[str]) -> None:
        """Names whose answers changed: start (or fail) the jobs that waited for them."""
        for name in names:
            jobs = self._waiting.pop(name, None)
            for job, endpoint in jobs or ():
                handle = job.transport_state.handle
                if self.addressed(job, handle, endpoint):
                    self._add(job, handle)

    def forget(self, job: Job) -> None:
        """``job`` no longer waits for its name (aborted)."""
        for waiting in self._waiting.values():
            for index, (other, _) in enumerate(waiting):
                if other is job:
                    del waiting[index]
                    return

    def close(self) -> None:
        self.resolver.close()
