"""Who turns the engine's loop: the consumer while it waits for results, a thread while it is away.

If the event loop ran only in the consumer's thread, the time spent on each result (writing a
record, a full pipe, a notebook cell) would count against the transfers in flight: with a 50 ms
pause per result, 502 of 640 requests to a server answering in under 1 ms were reported as
timeouts. If it ran only on a thread of its own, every result would cross between threads: a
thread switch per batch of results cost 8–20 % more CPU per small request than a single thread.

So the loop is a wheel that one thread at a time turns (``_wheel``). A consumer that wants
results and finds none turns it itself, as a single-threaded loop would, and lets go as soon as a
turn finished jobs. The engine's thread looks every ``_AWAY`` seconds whether the consumer has
been away that long (taking no job, turning no loop); if so it takes the wheel, hands finished
jobs over through the scheduler's ``handoff``, and gives the wheel back as soon as the consumer is
back (it took a job, or it waits for one). Jobs waiting in ``handoff`` count against the scheduler's window,
so a slow consumer holds back only the reading of new input (backpressure), never a transfer
already started; and a transfer is never left unserved for more than ``_AWAY``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator

from ._job import Job
from ._scheduler import Scheduler

# How long the consumer may be away from the loop before the engine's thread turns it. Transfers
# wait at most this long for their events (kernel buffers hold the bytes meanwhile); timeouts are
# seconds, so this is far below anything they would notice.
_AWAY = 0.01


class Driver:
    """Runs ``scheduler`` for one consumer; its watch thread starts with the first ``jobs()`` or
    ``take()``."""

    def __init__(self, scheduler: Scheduler, on_end: Callable[[], None]) -> None:
        self._scheduler = scheduler
        self._on_end = on_end  # runs once the run is over and both threads let go (gives the transport back)
        self._wheel = threading.Lock()  # held by the thread turning the scheduler's loop
        self._cond = threading.Condition(threading.Lock())  # the consumer sleeps on it
        self._sleeping = False  # the consumer waits for a job or for the wheel
        self._seen_at = 0.0  # when the consumer last took a job or turned the loop (monotonic)
        self._nudge = threading.Event()  # the watch thread looks at once (closing)
        self._closing = False
        self._ended = False
        self._failure: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    # -- the consumer's side -----------------------------------------------------------------------

    def jobs(self) -> Generator[Job, None, None]:
        """Every finished job, once; closing the generator early aborts the run."""
        self._start()
        handoff = self._scheduler.handoff
        popleft = handoff.popleft
        taken = self._scheduler.taken
        clock = time.monotonic
        try:
            while True:
                while handoff:
                    job = popleft()
                    taken()
                    self._seen_at = clock()  # back from the last one: the engine's thread may let go
                    yield job
                if not self._await_jobs(None):
                    return
        finally:
            self.close()

    def take(self, timeout: float | None) -> list[Job] | None:
        """The jobs finished so far, waiting up to ``timeout`` for one (``[]`` if none came);
        ``None`` once the run has ended and every job was taken."""
        self._start()
        handoff = self._scheduler.handoff
        if not handoff and not self._await_jobs(timeout):
            return None
        jobs = [handoff.popleft() for _ in range(len(handoff))]
        if jobs:
            self._scheduler.taken()
            self._seen_at = time.monotonic()
        return jobs

    def close(self) -> None:
        """Abort what is still in flight, wait for the watch thread, give the transport back."""
        if self._closed:
            return
        self._closed = True
        thread = self._thread
        if thread is not None:
            if not self._ended:
                self._scheduler.stop(0.0)
                self._scheduler.stop(0.0)  # the second stop aborts at once
            self._closing = True  # the watch thread turns the loop to its end
            self._nudge.set()
            thread.join()
        self._on_end()

    def _await_jobs(self, timeout: float | None) -> bool:
        """Until a job is in ``handoff`` (True), ``timeout`` passed (True) or the run ended with every
        job taken (False): turn the loop while the wheel is free, else sleep until a job comes or the
        engine's thread lets go of the wheel."""
        handoff = self._scheduler.handoff
        deadline = None if timeout is None else time.monotonic() + timeout
        while not handoff and not self._ended:
            if self._wheel.acquire(blocking=False):
                try:
                    self._turn_for_consumer(deadline)
                finally:
                    self._wheel.release()
            else:
                self._sleep_until_handed(deadline)
            if deadline is not None and time.monotonic() >= deadline:
                break
        if handoff or not self._ended:
            return True
        if self._failure is not None:  # after every job the engine finished was taken
            failure, self._failure = self._failure, None
            raise failure
        return False

    def _turn_for_consumer(self, deadline: float | None) -> None:
        scheduler = self._scheduler
        handoff = scheduler.handoff
        turn = scheduler.turn
        try:
            while not handoff:
                now = self._seen_at = time.monotonic()
                if deadline is None:
                    going = turn(None)
                elif now >= deadline:
                    return
                else:
                    going = turn(None, deadline - now)
                if not going:
                    self._finish()
                    return
        except Exception as exc:  # e.g. the input failed: raised once the jobs finished before were taken
            self._failure = exc
            self._finish()
        except BaseException:  # Ctrl-C without a handler: at once
            self._finish()
            raise
        finally:
            self._seen_at = time.monotonic()

    def _sleep_until_handed(self, deadline: float | None) -> None:
        """The engine's thread turns the loop: sleep until it hands a job or the wheel over."""
        with self._cond:
            # Said before looking: the engine's thread, seeing the flag after a turn, publishes
            # and lets go of the wheel, then notifies under this lock, which wait() releases.
            self._sleeping = True
            try:
                if self._scheduler.handoff or self._ended or not self._wheel.locked():
                    return
                self._scheduler.wake()  # its turn may be waiting on the network: end it now
                remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
                self._cond.wait(remaining)
            finally:
                self._sleeping = False

    # -- the engine's side ---------------------------------------------------------------------------

    def _start(self) -> None:
        if self._thread is None and not self._closed:
            self._seen_at = time.monotonic()  # the consumer is here: it asked
            self._thread = threading.Thread(target=self._watch, name="multifetch-engine", daemon=True)
            self._thread.start()

    def _watch(self) -> None:
        """Every ``_AWAY``: if the consumer has neither taken a job nor turned the loop for that
        long, turn it until the consumer is back."""
        while not self._ended:
            self._nudge.wait(_AWAY)
            if self._ended:
                return
            if not self._closing and time.monotonic() - self._seen_at < _AWAY:
                continue
            if not self._wheel.acquire(blocking=self._closing):
                continue  # the consumer turns it
            try:
                self._turn_while_away()
            finally:
                self._wheel.release()
            with self._cond:
                self._cond.notify()  # the consumer may sleep waiting for the wheel

    def _turn_while_away(self) -> None:
        scheduler = self._scheduler
        handoff = scheduler.handoff
        turn = scheduler.turn
        publish = self._publish
        away_since = self._seen_at
        try:
            while not self._ended:
                if not turn(publish):
                    self._finish()
                    return
                if (self._sleeping or self._seen_at != away_since) and not self._closing:
                    if handoff:
                        publish()
                    return  # the consumer is back: the wheel is its own again
        except BaseException as exc:  # e.g. the input failed: the consumer raises it in its thread
            self._failure = exc
            self._finish()

    def _finish(self) -> None:
        """The run is over: every job is in ``handoff`` (or the loop failed)."""
        try:
            self._scheduler.end()
        finally:
            with self._cond:
                self._ended = True
                self._cond.notify()
            self._nudge.set()

    def _publish(self) -> None:
        if self._sleeping:
            with self._cond:
                self._cond.notify()
