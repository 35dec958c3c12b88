"""``EngineHandle``: one engine process as its parent sees it — what it holds, per host."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..engine._stats import Statistics
from ..inputs._spec import Request
from ._engine_process import BATCH, engine_main
from ._settings import Settings


class EngineHandle:
    """The process, its pipe, and the requests sent to it that have no record yet.

    ``per_host`` counts those requests by host; a host's requests beyond its share (``bound``)
    are the engine's ``surplus``, which the parent keeps under half the engine's cap, so that a
    backlogged host never takes the room other hosts' requests need.
    """

    def __init__(self, context: Any, settings: Settings, deadline: float | None) -> None:
        self.conn, child = context.Pipe()
        self.process = context.Process(target=engine_main, args=(child, settings, deadline),
                                       name="multifetch-engine", daemon=True)
        self.process.start()
        child.close()
        # id -> (position, request, host) sent, no result yet
        self.held: dict[str, tuple[int, Request, str]] = {}
        self.per_host: dict[str, int] = {}
        self.surplus = 0
        self.waiting: list[Request] = []  # chosen for this process, not yet sent
        self.closed = False  # no more requests will be sent
        self.ended = False
        self.stats: Statistics | None = None  # the engine's latest snapshot (sent every second)

    def load(self) -> int:
        return len(self.held)  # ``waiting`` is part of it

    def add(self, host: str, position: int, request: Request, bound: int) -> None:
        """Hand ``request`` (of ``host``, whose share is ``bound``) to this engine."""
        count = self.per_host.get(host, 0)
        if count >= bound:
            self.surplus += 1
        self.per_host[host] = count + 1
        self.held[request.id or ""] = (position, request, host)
        self.waiting.append(request)
        if len(self.waiting) >= BATCH:
            self.send_waiting()

    def done(self, request_id: str, bound: Callable[[str], int]) -> tuple[int, str] | None:
        """A record came for ``request_id``: its position and host (None when not held here)."""
        entry = self.held.pop(request_id, None)
        if entry is None:
            return None
        host = entry[2]
        count = self.per_host[host] - 1
        if count:
            self.per_host[host] = count
        else:
            del self.per_host[host]
        if count >= bound(host):
            self.surplus -= 1
        return entry[0], host

    def send_waiting(self) -> None:
        if self.waiting and not self.closed:
            try:
                self.conn.send(self.waiting)
            except OSError:  # it died: the poll loop hears of it and sends what it held again
                self.closed = True
            self.waiting = []

    def close_input(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self.conn.send(None)
            except OSError:
                pass
