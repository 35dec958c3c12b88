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

An engine process that dies is replaced; the requests it held are sent again once if they are
idempotent, and recorded with an ``other`` error if not — every input still gets one record.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import select
import signal
import sys
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Generator, Iterator
from multiprocessing.connection import Connection
from typing import Any

from ..engine._errors import CANCELLED_UNSTARTED, ErrorKind, MultifetchError
from ..engine._job import Job
from ..engine._policy import IDEMPOTENT_METHODS
from ..engine._result import Result
from ..engine._scheduler import NOT_READY, NotReady
from ..engine._stats import Statistics, Tally
from ..inputs._spec import InvalidSpec, Request, origin_of
from ..outputs._bodies import BodyStore
from ._feed import Feed
from ._local import LocalRun, open_transport, start_local
from ._settings import Settings

_BATCH = 64  # requests a message: amortises pickling and pipe writes, small enough to spread well
_READY_MAX = 1024  # records made here (invalid or cancelled inputs) handed out before reading on
_LOW_WATER = 4 * _BATCH  # requests an engine holds below which it is sent a partial batch
_HOLD = 0.002  # longest an engine process keeps a finished result before sending it
_NO_LIMIT = 3600.0


# -- the engine process ---------------------------------------------------------------------------

def _die_with_parent() -> None:
    """End this engine when the process that started it ends, however it ends (``kill -9``).

    Its pipe cannot tell it: an engine forked after another holds a copy of the parent's end of
    the other's pipe, so neither sees the end of its input. The kernel can (Linux's
    ``PR_SET_PDEATHSIG``); the parent's death before the call is caught by the check after it.
    """
    parent = os.getppid()
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the parent's normal exit still ends us
        return
    if os.getppid() != parent:
        os._exit(1)


def _engine_main(conn: Connection, settings: Settings, deadline: float | None) -> None:
    """Run the normal engine over the requests that arrive on ``conn``; send results back."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the parent decides, and tells us
    _die_with_parent()
    # A forked copy of the parent's stdout may hold records not yet written; multiprocessing
    # flushes sys.stdout when this process ends, which would write them a second time.
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115  # lives as long as the process
    sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
    inbox = _Inbox()
    max_time = None if deadline is None else max(0.0, deadline - time.time())
    transport = open_transport(settings, BodyStore(settings.bodies, settings.limits.concurrency))
    run = start_local(inbox.feed(), transport, settings, on_close=transport.close, read_ahead=False,
                      max_time=max_time, on_idle=inbox.on_idle)
    threading.Thread(target=_listen, args=(conn, run, inbox), name="multifetch-inbox", daemon=True).start()
    try:
        _send_results(conn, run)
    finally:
        run.close()
    conn.send(("end",))


class _Inbox:
    """The requests the parent sent, fed to the scheduler without ever blocking it: a scheduler
    waiting here would hold up its transfers and its results."""

    def __init__(self) -> None:
        self.queue: queue.SimpleQueue[list[Request] | None] = queue.SimpleQueue()
        self._starved = False  # the feed had nothing when the scheduler asked

    def on_idle(self) -> float:
        # A starved feed is looked at every _HOLD: requests arrive from the parent's thread.
        wait = _HOLD if self._starved else _NO_LIMIT
        self._starved = False
        return wait

    def feed(self) -> Iterator[Request | NotReady]:
        while True:
            try:
                batch = self.queue.get_nowait()
            except queue.Empty:
                self._starved = True
                yield NOT_READY
                continue
            if batch is None:
                return
            yield from batch


def _listen(conn: Connection, run: LocalRun, inbox: _Inbox) -> None:
    """The parent's messages: batches of requests, the end of them, or ``("stop", grace)``."""
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):  # the parent is gone: stop now
            run.stop(0.0)
            run.stop(0.0)
            inbox.queue.put(None)
            return
        if isinstance(message, list):
            inbox.queue.put(message)
        elif message is None:
            inbox.queue.put(None)
            return
        else:  # ("stop", grace): nothing more will come
            run.stop(message[1])
            inbox.queue.put(None)


def _send_results(conn: Connection, run: LocalRun) -> None:
    """Results go back in batches (a message each is slower than the engine), yet none waits
    more than _HOLD. A parent slow to read blocks only this thread: the engine's own goes on."""
    outbox: list[Result] = []
    oldest = 0.0  # when the first result in outbox arrived
    while True:
        jobs = run.take(_HOLD if outbox else None)
        if jobs is None:
            break
        if jobs and not outbox:
            oldest = time.monotonic()
        outbox += [job.to_result() for job in jobs]
        if outbox and (len(outbox) >= _BATCH or time.monotonic() - oldest >= _HOLD):
            conn.send(outbox)
            outbox = []
    if outbox:
        conn.send(outbox)


# -- this process's side --------------------------------------------------------------------------

class _Engine:
    """One engine process as the parent sees it."""

    def __init__(self, context: Any, settings: Settings, deadline: float | None) -> None:
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_engine_main, args=(child, settings, deadline),
                                       name="multifetch-engine", daemon=True)
        self.process.start()
        child.close()
        self.held: dict[str, tuple[int, Request]] = {}  # id -> (position, request) sent, no result yet
        self.waiting: list[Request] = []  # chosen for this process, not yet sent
        self.closed = False  # no more requests will be sent
        self.ended = False

    def load(self) -> int:
        return len(self.held)  # ``waiting`` is part of it

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
    ) -> None:
        self._feed = Feed(specs, skip)
        limits = settings.limits
        processes = max(1, min(settings.processes, limits.concurrency))  # an engine has at least one
        # a per-host limit smaller than the processes cannot be split: each host is then served by
        # one process (chosen by a hash of its name) with its whole limits
        self._pinned = not limits.splits_hosts(processes)
        self._shares = [settings.share(i, processes, hosts_whole=self._pinned) for i in range(processes)]
        share = self._shares[0].limits.concurrency
        self._cap = (window or max(4 * share, 1024)) + 2 * _BATCH  # held by one process at most
        self._started = time.monotonic()
        self._deadline = None if max_time is None else time.time() + max_time
        self._context = multiprocessing.get_context(_start_method())
        self._concurrency = limits.concurrency
        self.processes = processes
        self._poll = select.poll()
        self._by_fd: dict[int, _Engine] = {}
        self._engines = [self._spawn(index) for index in range(processes)]
        self._respawns = 2 * processes
        self._again: deque[tuple[int, Request]] = deque()  # from an engine that died
        self._sent_again: set[str] = set()
        self._abandoned = 0
        self._stopping = False
        self._cancelling = False
        self._backlog = False  # _read stopped because ready was full
        self._tally = Tally()

    def _spawn(self, index: int) -> _Engine:
        engine = _Engine(self._context, self._shares[index], self._deadline)
        fd = engine.conn.fileno()
        self._by_fd[fd] = engine
        self._poll.register(fd, select.POLLIN)
        return engine

    def _forget(self, engine: _Engine) -> None:
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
                if self._cancelling and not self._feed.exhausted:
                    self._cancel_input(ready)
                    continue
                if self._backlog:  # stopped reading to hand out invalid-input records: read on
                    self._backlog = False
                    continue
                if all(e.ended for e in self._engines):
                    return
                timeout = 0.5
                if self._deadline is not None and not self._cancelling:
                    timeout = max(0.0, min(timeout, self._deadline - time.time()))
                for fd, _ in self._poll.poll(timeout * 1000):
                    engine = self._by_fd.get(fd)
                    if engine is not None and not engine.ended:
                        self._receive(engine, ready)
        finally:
            self._shut_down()

    def _receive(self, engine: _Engine, ready: list[tuple[int, Result]]) -> None:
        try:
            message = engine.conn.recv()
        except (EOFError, OSError):
            self._lost(engine, ready)
            return
        if isinstance(message, tuple):  # ("end",)
            self._forget(engine)
            engine.process.join(5)
            return
        held = engine.held
        for result in message:
            entry = held.pop(result.id, None)
            ready.append((entry[0] if entry else -1, result))

    def _dispatch(self, ready: list[tuple[int, Result]]) -> None:
        """Read input until every engine holds its share; send what was chosen."""
        engines = [e for e in self._engines if not e.closed]
        if not engines:
            return
        while self._again:
            position, request = self._again.popleft()
            target = self._target(engines, request)
            target.waiting.append(request)
            target.held[request.id or ""] = (position, request)
        while not self._feed.exhausted:
            taken = self._read(ready)
            if taken is None:
                break
            position, item = taken
            target = self._target(engines, item)
            target.waiting.append(item)
            target.held[item.id or ""] = (position, item)
            if len(target.waiting) >= _BATCH:
                target.send_waiting()
            if target.load() >= self._cap:
                break
        for engine in engines:
            # A partial batch goes out only when the engine runs short or the input has ended:
            # sending after every result message made messages of a few requests each.
            if self._feed.exhausted or len(engine.held) - len(engine.waiting) < _LOW_WATER:
                engine.send_waiting()
            if self._feed.exhausted:
                engine.close_input()

    def _target(self, engines: list[_Engine], request: Request) -> _Engine:
        if self._pinned:
            return self._engines[zlib.crc32(origin_of(request.url).encode()) % len(self._engines)]
        return min(engines, key=_Engine.load)

    # -- ends: max-time, stop, a lost engine ------------------------------------------------------

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

    def _lost(self, engine: _Engine, ready: list[tuple[int, Result]]) -> None:
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
        for request_id, (position, request) in engine.held.items():
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
        return sum(len(e.held) for e in self._engines) + len(self._again) + self._abandoned

    def _shut_down(self) -> None:
        for engine in self._engines:
            if not engine.ended:
                engine.close_input()
                engine.process.join(0.2)
                if engine.process.is_alive():
                    engine.process.kill()
                    engine.process.join(5)
                self._forget(engine)

    # -- statistics -------------------------------------------------------------------------------

    def statistics(self) -> Statistics:
        held = sum(len(e.held) for e in self._engines) + len(self._again)
        in_flight = min(held, self._concurrency)  # the engines queue the rest
        return self._tally.statistics(
            time.monotonic() - self._started,
            inputs_read=self._feed.read,
            in_flight=in_flight,
            queued=held - in_flight,
            input_exhausted=self._feed.exhausted,
        )


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
