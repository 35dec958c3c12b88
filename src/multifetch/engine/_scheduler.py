"""The scheduler: the coordinator of one run's parts, and the loop that drives them.

One thread at a time turns its loop together with the transport's event loop (``_driver``: the
consumer's own thread while it waits for results, the engine's thread while the consumer is away),
so nothing here takes a lock: the consumer takes finished jobs from ``handoff`` (atomic deque
operations) and calls ``taken()``, ``stop()`` and ``statistics()`` from any thread. The input is
pulled lazily: at most ``window`` requests are held (queued, in flight, parked or finished and
not yet taken), so memory does not grow with the input, and a slow consumer holds back only the
reading of input.

The parts, one concept each: ``Frontier`` reads the input into per-host queues (and past the
hosts that hold it up), ``Admission`` hands ready requests to the transport within the limits,
``Outcomes`` decides what an attempt's end means, ``Retries`` when a failed one is tried again,
``Timers`` wakes parked retries and waiting hosts, ``Ledger`` counts and hands final jobs out,
``_cancel`` ends a run early.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from ._admission import Admission
from ._cancel import abort_in_flight, cancel_everything
from ._frontier import Frontier
from ._hosts import HostHealth
from ._input import NOT_READY, Input, NotReady
from ._ledger import Ledger
from ._outcomes import Outcomes
from ._policy import Limits, RetryPolicy
from ._ratelimit import TokenBucket
from ._retries import Retries
from ._robots import RobotsGate
from ._stats import Statistics, slowed_hosts, waiting_by_reason
from ._timers import Timers
from ._transport import Transport

# The input's and the transport's types, importable from here as from their own modules.
__all__ = ["NOT_READY", "Input", "NotReady", "Scheduler", "Transport"]

_IDLE_WAIT = 0.5  # longest sleep with nothing scheduled: bounds how late a stop() is noticed
_PUBLISH_AT = 256  # finished jobs that wake a sleeping consumer even while the loop is busy
_HOLD_RESULTS = 0.005  # the longest a finished job waits for a sleeping consumer to be woken


class Scheduler:
    """Turns a stream of requests into a stream of finished jobs, one per input."""

    def __init__(
        self,
        items: Input,
        transport: Transport,
        *,
        limits: Limits,
        retry: RetryPolicy,
        health: HostHealth | None = None,
        max_time: float | None = None,
        window: int | None = None,
        skip: Callable[[str], bool] | None = None,
        record_retries: bool = False,
        rng: random.Random | None = None,
        on_idle: Callable[[], float] | None = None,
        spill_folder: str | None = None,
        robots_agent: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        # ``clock`` measures the run (limits, pauses, deadlines); ``wall`` is epoch seconds, for
        # a Retry-After given as an HTTP date. Tests hold both still between a fake transport's polls.
        self._clock = clock
        self._transport = transport
        self._limits = limits
        self._kick = transport.kick
        self._on_idle = on_idle  # called before each wait for the network; returns the longest wait
        self._t_start = clock()
        self._deadline = None if max_time is None else self._t_start + max_time
        self._cancelling = False
        self._stopping = False
        self._stop_at: float | None = None
        ledger = self._ledger = Ledger(clock)
        self.handoff = ledger.handoff  # final jobs for the consumer, taken from its own thread
        frontier = self._frontier = Frontier(
            iter(items), limits=limits, size=window or max(4 * limits.concurrency, 1024),
            deepen=window is None, skip=skip, ledger=ledger, expect=transport.expect, clock=clock,
            spill_folder=spill_folder)
        timers = self._timers = Timers(frontier, ledger.finish)
        self._bucket = TokenBucket(limits.rate, limits.burst, clock) if limits.rate else None
        self._admission = Admission(frontier, timers, ledger, transport, limits.concurrency, self._bucket)
        retries = Retries(retry, timers=timers, ledger=ledger, clock=clock, wall=wall,
                          rng=rng or random.Random(), deadline=self._deadline, record=record_retries)
        self._outcomes = Outcomes(frontier, retries, ledger, health or HostHealth(), clock)
        self._on_attempt_end = self._outcomes.on_attempt_end
        if robots_agent is not None:  # robots.txt obeyed for this User-Agent (``_robots``)
            frontier.robots = self._admission.robots = ledger.robots = RobotsGate(
                robots_agent, hosts=frontier.hosts, finish=ledger.finish, refill=frontier.refill,
                mark_ready=frontier.mark_ready, clock=clock)

    # -- public -------------------------------------------------------------------------------

    def drive(self, publish: Callable[[], None]) -> None:
        """Turn the loop until every input has its job in ``handoff``, or a stop ends the run."""
        try:
            while self.turn(publish):
                pass
        finally:
            self.end()

    def end(self) -> None:
        """The run is over (or failed): let go of what the frontier holds on disk."""
        self._frontier.spill.close()

    def taken(self) -> None:
        """The consumer took jobs from ``handoff``: wake the loop if it waits for that room."""
        frontier = self._frontier
        if frontier.full and frontier.room() >= frontier.size // 2:
            frontier.full = False
            self._transport.wake()

    def wake(self) -> None:
        """End a turn waiting for the network now (from another thread)."""
        self._transport.wake()

    def stop(self, grace: float = 5.0) -> None:
        """Admit nothing more; let transfers in flight finish for ``grace`` seconds, then abort."""
        if not self._stopping:
            self._stopping = True
            self._outcomes.retrying = False
            self._stop_at = self._clock() + grace
        else:
            self._stop_at = self._clock()  # a second stop: abort now
        self._transport.wake()  # called from another thread: the loop may be waiting

    @property
    def unfinished(self) -> int:
        """Inputs read whose record was not produced (after a stop)."""
        return self._ledger.pending

    def statistics(self) -> Statistics:
        now = self._clock()
        frontier = self._frontier
        ledger = self._ledger
        parked = self._timers.parked
        hosts = list(frontier.hosts.values())  # the engine's thread may add hosts meanwhile
        return Statistics(
            elapsed=now - self._t_start,
            inputs_read=frontier.position,
            done=ledger.done,
            in_flight=self._transport.active,
            # robots.txt requests are in flight (or parked) without being inputs: never below zero
            queued=max(0, ledger.pending - self._transport.active - parked),
            waiting_retry=parked,
            attempts=ledger.attempts,
            retries=ledger.retries,
            errors=dict(ledger.errors),
            statuses=dict(ledger.statuses),
            bytes=ledger.bytes,
            input_exhausted=frontier.exhausted,
            slowed_hosts=slowed_hosts(hosts, now),
            waiting=waiting_by_reason(hosts, dict(frontier.spill.counts), now),
            on_disk=frontier.spill.total,
        )

    # -- the loop -------------------------------------------------------------------------------

    def turn(self, publish: Callable[[], None] | None, longest: float = _IDLE_WAIT) -> bool:
        """One turn of the loop: schedule, wait for the network at most until something is due,
        handle what ended. False once every input has its job in ``handoff`` (or a stop ended the run).

        ``publish`` is called when finished jobs were added to ``handoff`` for a consumer in another
        thread (see ``_driver``); ``None``: the consumer turns the loop itself and takes them after
        this turn, so a turn that has finished jobs does not wait for the network; nor, in any turn,
        longer than ``longest`` seconds. Jobs in ``handoff`` count against the window, so a slow
        consumer stops the reading of new input, never the transfers already started.
        """
        done = self.handoff
        transport = self._transport
        now = self._clock()
        if self._stopping:
            if transport.active == 0 or (self._stop_at is not None and now >= self._stop_at):
                abort_in_flight(transport, self._frontier)
                return False
        elif self._deadline is not None and now >= self._deadline and not self._cancelling:
            self._cancel_everything()
            if publish is not None:
                publish()
            return True
        if self._cancelling:
            return self._cancel_turn(publish)
        if not self._stopping:
            self._schedule(now)
        if self._frontier.exhausted and self._ledger.pending == 0:
            if publish is not None:
                publish()
            return False
        wait = min(self._next_wait(now), longest)
        if self._on_idle is not None:
            wait = min(wait, self._on_idle())
        if done:
            wait = self._hand_out(publish, now, wait)
        ended = transport.poll(wait)
        if not ended:
            return True
        on_attempt_end = self._on_attempt_end
        for job in ended:
            on_attempt_end(job)
        if not (self._stopping or self._cancelling):
            # Start the next requests before handing these results out: the server works on
            # them while the consumer writes records (measured: 4.22 -> 4.02 s for 100,000
            # small requests at 64 connections, CLI to a JSONL file).
            now = self._clock()
            if self._deadline is None or now < self._deadline:
                self._schedule(now)
                self._kick()
        if publish is not None and len(done) >= _PUBLISH_AT:
            publish()
        return True

    def _hand_out(self, publish: Callable[[], None] | None, now: float, wait: float) -> float:
        """Finished jobs wait in ``handoff``: publish them now, or hold them for a batch; the
        longest the turn may now wait for the network."""
        if publish is None:
            return 0.0  # the consumer is here: it takes them once the network was looked at
        # A sleeping consumer is woken for a batch, or once the oldest result has waited
        # _HOLD_RESULTS: not after every turn of the loop, which cost a thread switch per
        # handful of results (a quarter more CPU at 25,000 small requests a second).
        due = self._ledger.held_since + _HOLD_RESULTS
        if len(self.handoff) >= _PUBLISH_AT or now >= due:
            publish()
        elif due - now < wait:
            return due - now
        return wait

    def _schedule(self, now: float) -> None:
        """Read input into the window, wake what is due, start what the limits allow."""
        frontier = self._frontier
        if frontier.draining:
            frontier.drain_backlogs()
        frontier.fill()
        self._timers.wake(now)
        admit = self._admission.admit
        admit(now)
        active = self._transport.active
        concurrency = self._limits.concurrency
        if (frontier.full and now >= frontier.look_at and not frontier.ready and active < concurrency
                and len(self.handoff) < frontier.size // 2):  # not when the consumer is the one behind
            frontier.read_past_backlogs(max(2 * (concurrency - active), 16), now)
            admit(now)

    def _next_wait(self, now: float) -> float:
        frontier = self._frontier
        if frontier.full and not frontier.exhausted and frontier.room() > 0:
            return 0.0  # the consumer made room after the window was found full: read on
        wait = _IDLE_WAIT
        timers = self._timers.heap
        if timers:
            wait = min(wait, timers[0][0] - now)
        if self._bucket is not None and frontier.ready:
            wait = min(wait, self._bucket.wait_time(now))
        if self._deadline is not None:
            wait = min(wait, self._deadline - now)
        if self._stop_at is not None:
            wait = min(wait, self._stop_at - now)
        return max(wait, 0.0)

    # -- after the deadline ------------------------------------------------------------------------

    def _cancel_everything(self) -> None:
        self._cancelling = True
        self._outcomes.retrying = False
        cancel_everything(self._transport, self._frontier, self._timers, self._ledger)

    def _cancel_turn(self, publish: Callable[[], None] | None) -> bool:
        """A turn after the deadline: records for the requests on disk and the input not yet read,
        as the window allows, while transfers aborted late still end; False when all are done."""
        frontier = self._frontier
        frontier.drain_backlogs()
        if not frontier.draining and frontier.cancel_input():
            return False
        if publish is not None:
            publish()
        elif self.handoff:
            return True
        if frontier.room() <= 0 or frontier.starved:
            # the consumer or the input has to catch up; taken() or the input wakes us
            for job in self._transport.poll(_IDLE_WAIT if frontier.room() <= 0 else 0.005):
                self._on_attempt_end(job)
        return True
