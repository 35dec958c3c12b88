"""The engine's own thread: transfers in flight keep moving while the consumer is busy.

If the event loop ran in the consumer's thread, the time spent on each result (writing a record,
a full pipe, a notebook cell) would count against the transfers in flight: with a 50 ms pause per
result, 502 of 640 requests to a server answering in under 1 ms were reported as timeouts. So the
scheduler and its transport run on a thread of their own and hand finished jobs over through the
scheduler's ``handoff``. Jobs waiting there count against the scheduler's window, so a slow
consumer holds back only the reading of new input (backpressure), never a transfer already started.

The hand-off costs no lock per job: the engine appends, the consumer pops (both atomic on a
deque); the consumer sleeps on a condition only when there is nothing to take, and the engine
takes the lock only to wake a consumer that sleeps.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator

from ._job import Job
from ._scheduler import Scheduler


class Driver:
    """Runs ``scheduler`` on a daemon thread, started by the first ``jobs()`` or ``take()``."""

    def __init__(self, scheduler: Scheduler, on_end: Callable[[], None]) -> None:
        self._scheduler = scheduler
        self._on_end = on_end  # runs once the engine thread is over (gives the transport back)
        self._cond = threading.Condition(threading.Lock())
        self._sleeping = False  # the consumer waits on _cond for a job
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
        try:
            while True:
                while handoff:
                    job = popleft()
                    taken()
                    yield job
                if not self._wait(None):
                    return
        finally:
            self.close()

    def take(self, timeout: float | None) -> list[Job] | None:
        """The jobs finished so far, waiting up to ``timeout`` for one (``[]`` if none came);
        ``None`` once the run has ended and every job was taken."""
        self._start()
        handoff = self._scheduler.handoff
        if not handoff and not self._wait(timeout):
            return None
        jobs = [handoff.popleft() for _ in range(len(handoff))]
        if jobs:
            self._scheduler.taken()
        return jobs

    def close(self) -> None:
        """Abort what is still in flight, wait for the engine thread, give the transport back."""
        if self._closed:
            return
        self._closed = True
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._scheduler.stop(0.0)
            self._scheduler.stop(0.0)  # the second stop aborts at once
            thread.join()
        self._on_end()

    def _wait(self, timeout: float | None) -> bool:
        """Sleep until a job is there (True), the timeout passes (True) or the run ended (False)."""
        handoff = self._scheduler.handoff
        with self._cond:
            # Said before looking at the hand-off: a job appended after this look finds the flag
            # set and waits for our lock, which wait() releases.
            self._sleeping = True
            try:
                if not handoff and not self._ended:
                    self._cond.wait(timeout)
            finally:
                self._sleeping = False
        ended = self._ended  # read first: once it is set, every job is in the hand-off
        if handoff or not ended:
            return True
        if self._failure is not None:  # after every job the engine finished was taken
            failure, self._failure = self._failure, None
            raise failure
        return False

    # -- the engine's side --------------------------------------------------------------------------

    def _start(self) -> None:
        if self._thread is None and not self._closed:
            self._thread = threading.Thread(target=self._engine, name="multifetch-engine", daemon=True)
            self._thread.start()

    def _engine(self) -> None:
        try:
            self._scheduler.drive(self._publish)
        except BaseException as exc:  # e.g. the input failed: the consumer raises it in its thread
            self._failure = exc
        finally:
            with self._cond:
                self._ended = True
                self._cond.notify()

    def _publish(self) -> None:
        if self._sleeping:
            with self._cond:
                self._cond.notify()
