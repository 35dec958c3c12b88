"""An engine process of a ``ProcessRun``: the usual engine over the requests its parent sends.

Requests arrive in batches on a pipe and results go back in batches; the engine's own thread keeps
its transfers moving whatever the pipe does.
"""

from __future__ import annotations

import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from multiprocessing.connection import Connection

from ..engine._input import NOT_READY, NotReady
from ..engine._result import Result
from ..inputs._spec import Request
from ..outputs._bodies import BodyStore
from ._local import LocalRun, open_transport, start_local
from ._settings import Settings

BATCH = 64  # requests a message: amortises pickling and pipe writes, small enough to spread well
_HOLD = 0.002  # longest an engine process keeps a finished result before sending it
_NO_LIMIT = 3600.0
STATS_EVERY = 1.0  # seconds between the statistics snapshots an engine sends its parent
_SLOWED_SENT = 50  # slowed-down hosts a snapshot carries at most


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


def engine_main(conn: Connection, settings: Settings, deadline: float | None) -> None:
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
    more than _HOLD. A parent slow to read blocks only this thread: the engine's own goes on.
    Every STATS_EVERY a snapshot of the engine's statistics goes too (the parent's progress and
    metrics show what is in flight and why requests wait from them)."""
    outbox: list[Result] = []
    oldest = 0.0  # when the first result in outbox arrived
    next_stats = time.monotonic() + STATS_EVERY
    while True:
        jobs = run.take(_HOLD if outbox else STATS_EVERY)
        if jobs is None:
            break
        if time.monotonic() >= next_stats:
            stats = run.statistics()
            conn.send(("stats", replace(stats, slowed_hosts=stats.slowed_hosts[:_SLOWED_SENT])))
            next_stats = time.monotonic() + STATS_EVERY
        if jobs and not outbox:
            oldest = time.monotonic()
        outbox += [job.to_result() for job in jobs]
        if outbox and (len(outbox) >= BATCH or time.monotonic() - oldest >= _HOLD):
            conn.send(outbox)
            outbox = []
    if outbox:
        conn.send(outbox)
