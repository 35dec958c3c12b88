"""``Admission``: the ready hosts' next requests handed to the transport, as the limits allow."""

from __future__ import annotations

from collections import deque

from ._frontier import Frontier
from ._hosts import Host
from ._job import Job
from ._ledger import Ledger
from ._ratelimit import TokenBucket
from ._robots import RobotsGate
from ._timers import Timers
from ._transport import Transport


class Admission:
    """Starts requests within the global connection limit and token bucket (``bucket``) and each
    host's limit, pause and token bucket: first for hosts that asked for more connections, then
    hosts whose wait ended, then hosts on the connections their own transfers freed, then hosts
    not started yet, then hosts whose freed connection went to one of those before them, then
    round robin between the hosts in ``ready`` (``Frontier.freed``, ``Frontier.mark_due``)."""

    def __init__(self, frontier: Frontier, timers: Timers, ledger: Ledger, transport: Transport,
                 concurrency: int, bucket: TokenBucket | None) -> None:
        self._frontier = frontier
        self._ready = frontier.ready
        self._warm = frontier.warm
        self._wanting = frontier.wanting
        self._due = frontier.due
        self._fresh = frontier.fresh
        self._displaced = frontier.displaced
        self._spill = frontier.spill
        self._add_timer = timers.add
        self._ledger = ledger
        self._transport = transport
        self._concurrency = concurrency
        self.bucket = bucket
        self.robots: RobotsGate | None = None  # set when robots.txt is obeyed (``_robots``)

    def admit(self, now: float) -> None:
        # First hosts that asked for more connections (they set the run's end), then hosts whose
        # wait ended (a host paced at a request a second gets it each second even while every
        # connection is in use), then hosts on the connections their own transfers freed, then
        # hosts not started yet (their first requests tell a slow or throttling host early),
        # then hosts whose freed connection went to one before them (at their place in ``ready``
        # they would wait for thousands of hosts, their connection closed meanwhile).
        for first in (self._wanting, self._due, self._warm):
            if first:
                self._admit_first(first, now)
        if self._fresh:
            self._admit_fresh(now)
        if self._displaced:
            self._admit_first(self._displaced, now)
        transport = self._transport
        ready = self._ready
        concurrency = self._concurrency
        bucket = self.bucket
        while ready and transport.active < concurrency:
            if bucket is not None and bucket.wait_time(now) > 0.0:
                return  # the scheduler's next wait ends when the global bucket has a token
            host = ready.popleft()
            if not self._may_start(host, now):
                host.in_ready = False  # back in ready when it may: a slot ends, a timer, robots.txt
                continue
            host.streak = 0
            self._start_next(host)
            if host.queue:
                ready.append(host)  # round robin between hosts
            else:
                host.in_ready = False

    def _admit_first(self, hosts: deque[Host], now: float) -> None:
        """Start the next request of each of ``hosts`` (``wanting``, ``due``, ``warm`` or
        ``displaced``, see ``Frontier``), in turn, while connections are free. A host that may
        not start now is skipped: it is also in ``ready``, or its timer is set (``_may_start``).
        ``warm`` is emptied: the hosts left in it when connections ran out go to ``displaced``."""
        transport = self._transport
        concurrency = self._concurrency
        wanting = hosts is self._wanting
        in_a_row = not wanting  # counted in ``streak``
        bucket = self.bucket
        keep_place = hosts is self._displaced
        while hosts and transport.active < concurrency:
            if keep_place and bucket is not None and bucket.wait_time(now) > 0.0:
                break  # their turn comes with the global bucket's next token
            host = hosts.popleft()
            if wanting:
                host.wanting = False
            if self._may_start(host, now):
                if in_a_row:
                    host.streak += 1
                self._start_next(host)
        if hosts is self._warm:
            self._displaced.extend(hosts)
            hosts.clear()

    def _admit_fresh(self, now: float) -> None:
        """The first request of each host not started yet, in the order they were seen, while
        connections are free; each then takes its turns in ``ready``."""
        fresh = self._fresh
        transport = self._transport
        concurrency = self._concurrency
        bucket = self.bucket
        leave_fresh = self._frontier.leave_fresh
        while fresh and transport.active < concurrency:
            if bucket is not None and bucket.wait_time(now) > 0.0:
                return  # their turn comes with the global bucket's next token
            host = fresh.popleft()
            if not host.first_attempts and self._may_start(host, now):
                self._start_next(host)
            leave_fresh(host)

    def _may_start(self, host: Host, now: float) -> bool:
        """Whether ``host`` may start its next request now, taking a token if it does. A host
        that waits for the end of a pause or for a token is woken then (``Frontier.mark_due``)."""
        if (not host.queue or not host.has_room()
                or (self.robots is not None and self.robots.holds(host, now))):
            return False
        if host.paused_until > now:
            self._wake_at(host, host.paused_until, now)
            return False
        bucket = self.bucket
        if bucket is not None and bucket.wait_time(now) > 0.0:
            return False
        if host.bucket is not None:
            wait = host.bucket.try_acquire(now)
            if wait > 0.0:
                self._wake_at(host, now + wait, now)
                return False
        if bucket is not None:
            bucket.try_acquire(now)
        return True

    def _wake_at(self, host: Host, when: float, now: float) -> None:
        """A timer for ``host`` at ``when``, unless one is set already for no later."""
        if not now < host.wake_at <= when:
            host.wake_at = when
            self._add_timer(when, host)

    def _start_next(self, host: Host) -> None:
        job = host.queue.popleft()
        if not host.queue and (host.tail or self._spill.counts):
            self._frontier.refill(host)
        if not host.queue:
            self._frontier.look_again()  # a host ran out of work: the input ahead may have more
        self._start(job, host)

    def _start(self, job: Job, host: Host) -> None:
        job.attempt += 1
        if job.attempt == 1:
            host.first_attempts += 1
        else:
            job.clear_outcome()  # the last attempt's; a new job starts clear
        host.active += 1
        self._ledger.attempts += 1
        self._transport.start(job)
