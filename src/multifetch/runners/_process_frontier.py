"""``ParentFrontier``: how the parent of engine processes hands requests out, host by host.

Each engine process runs the usual frontier, but it can only look past what it was sent. If the
parent sent whatever came next until an engine held its cap, one slow, paused or narrowly limited
host would fill that cap (in every engine when hosts are split among them) and the other hosts
would wait behind it. So the parent sends an engine at most a share of each host's requests — four
times the host's connections there, at least ``_SHARE_MIN`` — plus a surplus of half the engine's
cap shared by all hosts (one fast host keeps an engine's pipeline full); a host beyond that waits
in the parent's own per-host queues (``HostQueues``: memory, then disk), and the input is read on
for the others. When the host's engine returns records, its queue is sent on first, hosts in turn.

Reading stops when every engine holds its cap, and after a look past backlogs (a memory bound's
worth of input that was all for hosts with a backlog): the next look then waits, half a second
doubling to a minute, unless a new host shows up or a host's queue runs dry — so an input that is
all one slow host is not copied to disk as fast as it can be read.
"""

from __future__ import annotations

import time
import zlib
from collections import deque
from collections.abc import Callable, Sequence

from ..engine._policy import Limits
from ..engine._stats import HostSnapshot
from ..inputs._spec import Request
from ..inputs._urls import origin_of
from ._engine_handle import EngineHandle
from ._host_queues import HostQueues, Queued

_SHARE_MIN = 16  # a host's requests an engine may hold beyond its connections' four each, at least
_READ_AT_ONCE = 4096  # inputs read in one go: the engines' records are taken in between


class ParentFrontier:
    """The hosts' shares in each engine, the requests waiting for room there, and the reading."""

    def __init__(self, engines: list[EngineHandle], limits: Limits, *, pinned: bool, cap: int,
                 memory: int, folder: str | None) -> None:
        self._engines = engines  # the run's list: a new engine takes the place of one that died
        self._limits = limits  # the largest engine's share (per-host limits included)
        self._pinned = pinned
        self._cap = cap
        self._surplus_cap = cap // 2
        self.queues = HostQueues(memory, folder)
        self._bounds: dict[str, int] = {}  # host -> the requests an engine may hold of it
        self._ready: deque[str] = deque()  # hosts with queued requests whose engine made room
        self._in_ready: set[str] = set()
        self._stalled: set[str] = set()  # hosts waiting for any engine to be below its cap
        self._distance = memory // 2  # inputs read past backlogs in one look: memory keeps them
        self._past = 0
        self._useless = 0
        self.look_at = 0.0

    def bound(self, host: str) -> int:
        bound = self._bounds.get(host)
        if bound is None:
            bound = self._bounds[host] = max(4 * self._limits.limit_for(host), _SHARE_MIN)
            self.look_again()  # a host not seen before: the input ahead may hold more like it
        return bound

    def look_again(self) -> None:
        self._useless = 0
        self.look_at = 0.0

    # -- which engine -----------------------------------------------------------------------------

    def pinned_engine(self, host: str) -> EngineHandle:
        return self._engines[zlib.crc32(host.encode()) % len(self._engines)]

    def engine_for(self, host: str, bound: int) -> EngineHandle | None:
        """The engine to send a request of ``host`` (whose share is ``bound``) to now, or None
        when no engine has room for it."""
        cap = self._cap
        candidates: Sequence[EngineHandle] = (self.pinned_engine(host),) if self._pinned else self._engines
        best = None
        for engine in candidates:
            load = len(engine.held)
            if engine.closed or load >= cap:
                continue
            if engine.per_host.get(host, 0) >= bound and engine.surplus >= self._surplus_cap:
                continue
            if best is None or load < len(best.held):
                best = engine
        return best

    def any_engine_for(self, host: str) -> EngineHandle | None:
        """Where a request sent again goes (an engine died with it): room or not."""
        if self._pinned:
            engine = self.pinned_engine(host)
            return None if engine.closed else engine
        open_engines = [e for e in self._engines if not e.closed]
        return min(open_engines, key=EngineHandle.load) if open_engines else None

    def send(self, engine: EngineHandle, host: str, position: int, request: Request) -> None:
        engine.add(host, position, request, self.bound(host))

    def _room(self, engine: EngineHandle, host: str, bound: int) -> int:
        """How many requests of ``host`` ``engine`` takes now (it has room for one at least)."""
        room = self._cap - len(engine.held)
        share = bound - engine.per_host.get(host, 0)
        return min(room, max(share, self._surplus_cap - engine.surplus))

    # -- records came back: room ------------------------------------------------------------------

    def released(self, host: str) -> None:
        """A record of ``host`` came back: its engine has room for another of its requests."""
        if host in self.queues and host not in self._in_ready:
            self._in_ready.add(host)
            self._ready.append(host)

    def room_made(self) -> None:
        """Records came back: hosts that waited for an engine under its cap may go on."""
        if self._stalled and self._some_room():
            for host in self._stalled:
                self.released(host)
            self._stalled.clear()

    def engine_lost(self) -> None:
        """An engine died (its shares with it): every queued host may go on."""
        self._stalled.update(self.queues.hosts())
        self.room_made()

    def _some_room(self) -> bool:
        cap = self._cap
        return any(not e.closed and len(e.held) < cap for e in self._engines)

    def _wait(self, host: str) -> None:
        """``host`` has queued requests and no room: note what will give it room."""
        bound = self.bound(host)
        if not any(e.per_host.get(host, 0) >= bound for e in self._engines if not e.closed):
            self._stalled.add(host)  # it waits for an engine's cap, not for its own records

    def refill(self) -> None:
        """Hosts whose engines made room send their queued requests, each host in turn."""
        ready = self._ready
        queues = self.queues
        for _ in range(len(ready)):
            if not self._some_room():
                return
            host = ready.popleft()
            self._in_ready.discard(host)
            bound = self.bound(host)
            while host in queues:
                engine = self.engine_for(host, bound)
                if engine is None:
                    self._wait(host)
                    break
                for _ in range(self._room(engine, host, bound)):
                    item = queues.pop(host)
                    if item is None:
                        break
                    engine.add(host, item[0], item[1], bound)
            if host not in queues:
                self.look_again()  # a host ran out of queued work: the input may have more of it

    # -- reading input ----------------------------------------------------------------------------

    def read(self, take: Callable[[], tuple[int, Request] | None]) -> bool:
        """Read input (``take``) while some engine has room; True when stopped with more to read
        now (the caller takes records first)."""
        queues = self.queues
        if self.look_at and time.monotonic() < self.look_at:
            return False
        if queues.full() or not self._some_room():
            return False
        bounds = self._bounds
        cap = self._cap
        for _ in range(_READ_AT_ONCE):
            taken = take()
            if taken is None:
                return False
            position, request = taken
            host = origin_of(request.url)
            bound = bounds.get(host) or self.bound(host)
            queued = host in queues
            if not queued:
                engine = self.engine_for(host, bound)
                if engine is not None:  # room for it: sent
                    engine.add(host, position, request, bound)
                    self._past = self._useless = 0
                    if len(engine.held) >= cap and not self._some_room():
                        return False  # every engine holds its cap
                    continue
            if queues.push(host, (position, request), bound):
                self._past += 1
                if self._past >= self._distance:  # a look's worth of input all behind backlogs
                    self._past = 0
                    self.look_at = time.monotonic() + min(0.5 * 2 ** self._useless, 60.0)
                    self._useless += 1
                    return False
            else:
                self._past = self._useless = 0
            if not queued:
                self._wait(host)  # a host queued already waits for what gives it room
            if queues.full() or ((not queued or not queues.total % 64) and not self._some_room()):
                return False  # (looked at now and then: only sending takes room)
        return True

    def drain(self, count: int) -> list[Queued]:
        """Up to ``count`` queued requests taken out (the run's deadline cancels them)."""
        return list(self.queues.drain(count))

    def waiting(self, slowed: Sequence[HostSnapshot]) -> dict[str, int]:
        """The requests queued here by what their host waits for, as the engines report it."""
        by_name = {h.name: h for h in slowed}
        waiting: dict[str, int] = {}
        for host, count in self.queues.counts().items():
            h = by_name.get(host)
            if h is None:
                reason = "host limit"
            elif h.dead:
                reason = "dead host"
            elif h.paused:
                reason = "paused"
            else:
                reason = "slowed down"
            waiting[reason] = waiting.get(reason, 0) + count
        return waiting
