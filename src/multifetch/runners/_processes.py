"""Several engine processes for one run: ``Client(processes=N)``, ``multifetch fetch --processes N``.

One process drives libcurl with one core: about 24,000 small requests a second on the bench
machine, where libcurl's own work and the system calls are half of it. With ``processes=N`` this
process reads the input and hands requests out in batches to N engine processes — each the usual
scheduler and transport, with the global and per-host limits divided among them — and gathers
their results, so output, resume and the summary work as in a single process.

Limits stay true: concurrency, per-host connections and rates are split into equal shares; when a
per-host limit is smaller than N it cannot be split, and each host is then served by one process
(chosen by a stable hash of its name) with its whole limit. A rate divided among N processes can
let through at most N - 1 extra requests in a one-second window, one per process.

Which engine gets which request, and what waits in this process meanwhile so that a slow host
never holds back the others, is ``ParentFrontier``'s (``_process_frontier``).

An engine process that dies is replaced; the requests it held are sent again once if they are
idempotent, and recorded with an ``other`` error if not — every input still gets one record.
"""

from __future__ import annotations

import multiprocessing
import os
import select
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator
from dataclasses import replace

from .._errors import CANCELLED_UNSTARTED, ErrorKind, MultifetchError
from ..engine._input import NotReady
from ..engine._job import Job
from ..engine._policy import IDEMPOTENT_METHODS
from ..engine._result import Result
from ..engine._stats import Statistics, Tally
from ..inputs._spec import InvalidSpec, Request
from ..inputs._urls import origin_of
from ._engine_handle import EngineHandle
from ._engine_process import BATCH
from ._feed import Feed
from ._process_frontier import ParentFrontier
from ._settings import Settings

_READY_MAX = 1024  # records made here (invalid or cancelled inputs) handed out before reading on
_LOW_WATER = 4 * BATCH  # requests an engine holds below which it is sent a partial batch


class ProcessRun:
    """Like ``Run``: iterate ``results()``; ``statistics()`` and ``stop()`` any time."""

    def __init__(
        self,
        specs: Iterator[Request | InvalidSpec | NotReady],
        settings: Settings,
        *,
        skip: Callable[[str], bool] | None = None,
        max_time: float | None = None,
        window: int | None = None,
        spill_folder: str | None = None,
    ) -> None:
        self._feed = Feed(specs, skip)
        limits = settings.limits
        processes = max(1, min(settings.processes, limits.concurrency))  # an engine has at least one
        # a per-host limit smaller than the processes cannot be split: each host is then served by
        # one process (chosen by a hash of its name) with its whole limits
        # ... and so is each host when robots.txt is obeyed: one process fetches it and paces the
        # host by its Crawl-delay
        self._pinned = settings.robots or not limits.splits_hosts(processes)
        self._shares = [settings.share(i, processes, hosts_whole=self._pinned) for i in range(processes)]
        share = self._shares[0].limits.concurrency
        self._cap = (window or max(4 * share, 1024)) + 2 * BATCH  # held by one process at most
        self._started = time.monotonic()
        self._deadline = None if max_time is None else time.time() + max_time
        self._context = multiprocessing.get_context(_start_method())
        self._concurrency = limits.concurrency
        self.processes = processes
        self._poll = select.poll()
        self._by_fd: dict[int, EngineHandle] = {}
        self._engines = [self._spawn(index) for index in range(processes)]
        self._respawns = 2 * processes
        self._again: deque[tuple[int, Request]] = deque()  # from an engine that died
        self._sent_again: set[str] = set()
        self._abandoned = 0
        self._stopping = False
        self._cancelling = False
        self._backlog = False  # _read stopped because ready was full
        self._more = False  # the frontier stopped reading with input left to read now
        self._tally = Tally()
        # what waits for room in the engines: in memory up to twice what they hold, then on disk
        self._frontier = ParentFrontier(self._engines, self._shares[0].limits, pinned=self._pinned,
                                        cap=self._cap, memory=2 * self._cap * processes, folder=spill_folder)
        self._queued = self._frontier.queues

    def _spawn(self, index: int) -> EngineHandle:
        engine = EngineHandle(self._context, self._shares[index], self._deadline)
        fd = engine.conn.fileno()
        self._by_fd[fd] = engine
        self._poll.register(fd, select.POLLIN)
        return engine

    def _forget(self, engine: EngineHandle) -> None:
        if engine.ended:
            return
        engine.ended = True
        fd = engine.conn.fileno()
        if self._by_fd.get(fd) is engine:
            del self._by_fd[fd]
            self._poll.unregister(fd)
        engine.conn.close()

    @property
    def pids(self) -> list[int]:
        """The engine processes' ids (for tests and for the curious)."""
        return [e.process.pid or 0 for e in self._engines]

    # -- results ------------------------------------------------------------------------------

    def results(self) -> Generator[Result, None, None]:
        for _, result in self.positioned():
            yield result

    def outcomes(self) -> Generator[Result, None, None]:
        return self.results()

    def announcement(self) -> str | None:
        return None

    def positioned(self) -> Generator[tuple[int, Result], None, None]:
        """``(input position, result)`` pairs as results arrive."""
        try:
            ready: list[tuple[int, Result]] = []
            while True:
                if not self._stopping and not self._cancelling:
                    if self._deadline is not None and time.time() >= self._deadline:
                        self._cancel(ready)
                    else:
                        self._dispatch(ready)
                for pair in ready:
                    self._tally.add(pair[1])
                    yield pair
                ready.clear()
                if self._cancelling and (self._queued or not self._feed.exhausted):
                    self._cancel_input(ready)
                    continue
                if self._backlog:  # stopped reading to hand out invalid-input records: read on
                    self._backlog = False
                    continue
                if all(e.ended for e in self._engines):
                    return
                timeout = self._timeout()
                for fd, _ in self._poll.poll(timeout * 1000):
                    engine = self._by_fd.get(fd)
                    if engine is not None and not engine.ended:
                        self._receive(engine, ready)
        finally:
            self._shut_down()

    def _timeout(self) -> float:
        """How long to wait for the engines' records before reading or dispatching again."""
        if self._more:
            return 0.0
        timeout = 0.5
        if self._deadline is not None and not self._cancelling:
            timeout = max(0.0, min(timeout, self._deadline - time.time()))
        look_at = self._frontier.look_at
        if look_at and not self._feed.exhausted and not (self._stopping or self._cancelling):
            timeout = max(0.0, min(timeout, look_at - time.monotonic()))
        return timeout

    def _receive(self, engine: EngineHandle, ready: list[tuple[int, Result]]) -> None:
        try:
            message = engine.conn.recv()
        except (EOFError, OSError):
            self._lost(engine, ready)
            return
        if isinstance(message, tuple):  # ("stats", Statistics) or ("end",)
            if message[0] == "stats":
                engine.stats = message[1]
                return
            self._forget(engine)
            engine.process.join(5)
            return
        frontier = self._frontier
        bound = frontier.bound
        for result in message:
            entry = engine.done(result.id, bound)
            if entry is None:
                ready.append((-1, result))
                continue
            ready.append((entry[0], result))
            frontier.released(entry[1])
        frontier.room_made()

    def _dispatch(self, ready: list[tuple[int, Result]]) -> None:
        """Send what engines died with, then the queued hosts that have room, then read input."""
        engines = [e for e in self._engines if not e.closed]
        if not engines:
            return
        frontier = self._frontier
        while self._again:
            position, request = self._again.popleft()
            host = origin_of(request.url)
            target = frontier.any_engine_for(host)
            if target is None:  # cannot happen: a respawned engine takes them
                ready.append((position, _cancelled(request, position)))
                continue
            frontier.send(target, host, position, request)
        frontier.refill()
        self._more = False
        if not self._feed.exhausted:
            self._more = frontier.read(lambda: self._read(ready))
            self._queued.flush()
        all_sent = self._feed.exhausted and not self._queued
        for engine in engines:
            # A partial batch goes out only when the engine runs short of work or all was sent:
            # sending after every result message made messages of a few requests each. Requests
            # beyond their host's share (``surplus``) are a backlog, not work at hand.
            if all_sent or len(engine.held) - len(engine.waiting) - engine.surplus < _LOW_WATER:
                engine.send_waiting()
            if all_sent:
                engine.close_input()

    # -- ends: the deadline, stop, a lost engine --------------------------------------------------

    def _cancel(self, ready: list[tuple[int, Result]]) -> None:
        """The deadline passed: engines cancel what they hold; what no engine holds, we do."""
        self._cancelling = True
        for engine in self._engines:
            for request in engine.waiting:
                position = engine.held.pop(request.id or "")[0]
                ready.append((position, _cancelled(request, position)))
            engine.waiting = []
            engine.close_input()
        while self._again:
            position, request = self._again.popleft()
            ready.append((position, _cancelled(request, position)))

    def _cancel_input(self, ready: list[tuple[int, Result]]) -> None:
        """Cancelled records for what waits here (on disk too) and the input not read, as many
        at a time as ``ready`` holds: a million of them never sit in memory at once."""
        for position, request in self._frontier.drain(_READY_MAX - len(ready)):
            ready.append((position, _cancelled(request, position)))
        while len(ready) < _READY_MAX:
            taken = self._read(ready)
            if taken is None:
                return
            ready.append((taken[0], _cancelled(taken[1], taken[0])))

    def _read(self, ready: list[tuple[int, Result]]) -> tuple[int, Request] | None:
        """The next input to send (invalid ones go to ``ready`` as records); None when there is
        none now, or when ``ready`` is full: the caller hands those records out before reading on."""
        taken = self._feed.take(ready, _READY_MAX)
        if taken is None and len(ready) >= _READY_MAX:
            self._backlog = True
        return taken

    def _lost(self, engine: EngineHandle, ready: list[tuple[int, Result]]) -> None:
        """An engine process died: replace it; what it held is sent again, or recorded."""
        engine.closed = True
        self._forget(engine)
        engine.process.join(5)
        code = engine.process.exitcode
        message = f"an engine process exited (code {code}) while this request was in it"
        index = self._engines.index(engine)
        if not (self._stopping or self._cancelling):
            if self._respawns <= 0:
                raise MultifetchError(f"engine processes keep exiting (last exit code {code}; "
                                      "their own error is above)")
            self._respawns -= 1
            self._engines[index] = self._spawn(index)  # takes what is sent again, then its input ends
        for request_id, (position, request, _) in engine.held.items():
            again = request.method in IDEMPOTENT_METHODS and request_id not in self._sent_again
            if again and not (self._stopping or self._cancelling):
                self._sent_again.add(request_id)
                self._again.append((position, request))
            elif self._stopping:
                self._abandoned += 1  # no record: --resume fetches it
            else:
                job = Job(request, request_id, "", position)
                job.fail(ErrorKind.OTHER, message)
                ready.append((position, job.to_result()))
        engine.held.clear()
        self._frontier.engine_lost()

    def stop(self, grace: float = 5.0) -> None:
        """Send no more requests; engines finish what is in flight within ``grace``, then abort."""
        if self._stopping:
            grace = 0.0
        self._stopping = True
        for engine in self._engines:
            if engine.ended:
                continue
            try:
                engine.conn.send(("stop", grace))
            except OSError:
                pass

    @property
    def unfinished(self) -> int:
        """Inputs read whose record was not produced (after a stop)."""
        held = sum(len(e.held) for e in self._engines)
        return held + len(self._again) + self._abandoned + len(self._queued)

    def _shut_down(self) -> None:
        for engine in self._engines:
            if not engine.ended:
                engine.close_input()
                engine.process.join(0.2)
                if engine.process.is_alive():
                    engine.process.kill()
                    engine.process.join(5)
                self._forget(engine)
        self._queued.close()

    # -- statistics -------------------------------------------------------------------------------

    def statistics(self) -> Statistics:
        engines = list(self._engines)  # the parent's thread may replace one meanwhile
        held = sum(len(e.held) for e in engines) + len(self._again)
        in_flight = min(held, self._concurrency)  # until the engines say: they queue the rest
        queued = self._queued
        snapshots = [e.stats for e in engines if e.stats is not None and not e.ended]
        stats = self._tally.statistics(
            time.monotonic() - self._started,
            inputs_read=self._feed.read,
            in_flight=in_flight,
            queued=held - in_flight + len(queued),
            input_exhausted=self._feed.exhausted,
            engines=snapshots,
        )
        if not queued:
            return stats
        waiting = dict(stats.waiting)
        if snapshots:  # without them no reason is known for any request
            for reason, count in self._frontier.waiting(stats.slowed_hosts).items():
                waiting[reason] = waiting.get(reason, 0) + count
        return replace(stats, waiting=waiting, on_disk=stats.on_disk + queued.spill.total)


def _start_method() -> str:
    """fork is quick, and safe while this process has one thread; otherwise a fresh interpreter,
    unless the main script cannot be imported again (read from stdin, say)."""
    if threading.active_count() == 1:
        return "fork"
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if getattr(main, "__spec__", None) is None and path is not None and not os.path.exists(path):
        return "fork"
    return "spawn"


def _cancelled(request: Request, position: int) -> Result:
    job = Job(request, request.id or str(position), "", position)
    job.fail(ErrorKind.CANCELLED, CANCELLED_UNSTARTED)
    return job.to_result()
