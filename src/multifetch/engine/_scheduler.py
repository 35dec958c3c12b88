"""The scheduler: admission, per-host queues, rate limits, parking for retries, deadlines.

One thread at a time turns its loop together with the transport's event loop (``_driver``: the
consumer's own thread while it waits for results, the engine's thread while the consumer is away),
so nothing here takes a lock: the consumer takes finished jobs from ``handoff`` (atomic deque
operations) and calls ``taken()``, ``stop()`` and ``statistics()`` from any thread. The input is
pulled lazily: at most ``window`` requests are held (queued, in flight, parked or finished and
not yet taken), so memory does not grow with the input, and a slow consumer holds back only the
reading of input.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import random
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Protocol

from .._errors import CANCELLED_IN_FLIGHT, CANCELLED_UNSTARTED
from ..inputs._spec import InvalidSpec, Request, origin_of
from ._headers import Headers
from ._hosts import Host, HostHealth
from ._job import Job, invalid_job
from ._policy import Limits, RetryPolicy, parse_retry_after
from ._ratelimit import TokenBucket
from ._spill import Spill
from ._stats import HostSnapshot, Statistics

log = logging.getLogger("multifetch")

# Failures that count towards pausing a host. Not "dns": the lookup never reaches the host, and
# the curl engine remembers a name that failed (one question for all its requests), so pausing
# would only hold back records whose outcome is already known.
_CONNECT_KINDS = frozenset({"connect"})
_SLOW_DOWN_STATUSES = frozenset({429, 503})
_IDLE_WAIT = 0.5  # longest sleep with nothing scheduled: bounds how late a stop() is noticed
_PUBLISH_AT = 256  # finished jobs that wake a sleeping consumer even while the loop is busy
_HOLD_RESULTS = 0.005  # the longest a finished job waits for a sleeping consumer to be woken


class NotReady:
    """Yielded by an input that has nothing yet but has not ended (an engine process's feed)."""


NOT_READY = NotReady()
Input = Iterator[Request | InvalidSpec | NotReady]


class Transport(Protocol):
    """What the scheduler asks of an engine: attempts started, their ends collected by ``poll``."""

    active: int  # attempts started and not yet handed back by poll()

    def start(self, job: Job) -> None:
        """Begin ``job``'s next attempt; it ends in a later ``poll()`` (or ``abort``)."""

    def poll(self, timeout: float) -> list[Job]:
        """Wait up to ``timeout`` seconds; the jobs whose attempt ended, outcome filled in."""

    def kick(self) -> None:
        """Send what was just started now, not at the next ``poll()``."""

    def expect(self, origin: str) -> None:
        """A host's first request entered the window: prepare (e.g. look its name up)."""

    def in_flight(self) -> list[Job]:
        """The jobs whose attempt is under way."""

    def abort(self, job: Job) -> None:
        """End ``job``'s attempt now, without an outcome."""

    def close(self) -> None:
        """Abort everything and free what the transport holds."""

    def wake(self) -> None:
        """End a ``poll()`` that is waiting, from any thread."""


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
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        # ``clock`` measures the run (limits, pauses, deadlines); ``wall`` is epoch seconds, for
        # a Retry-After given as an HTTP date. Tests hold both still between a fake transport's polls.
        self._clock = clock
        self._wall = wall
        self._items = iter(items)
        self._transport = transport
        self._limits = limits
        self._retry = retry
        self._health = health or HostHealth()
        self._window = window or max(4 * limits.concurrency, 1024)
        self._skip = skip
        self._record_retries = record_retries
        self._rng = rng or random.Random()
        self._kick = transport.kick
        # Told of each new host as its first request enters the window, so a transport can look
        # its name up while the request waits its turn (the lookup is then off the request's path).
        self._expect = transport.expect
        self._on_idle = on_idle  # called before each wait for the network; returns the longest wait
        self._hosts: dict[str, Host] = {}
        self._ready: deque[Host] = deque()
        self._timers: list[tuple[float, int, Job | Host]] = []  # parked jobs and host wake-ups
        self._seq = itertools.count()
        self._bucket = TokenBucket(limits.rate, limits.burst, clock) if limits.rate else None
        # Finished jobs for the consumer, who takes them from its own thread (deque's append and
        # popleft are atomic). They count against the window until taken.
        self.handoff: deque[Job] = deque()
        self._full = False  # the window is full: the consumer's taking must wake the loop
        # The frontier: requests of hosts with a backlog, read past a full window so that hosts
        # with room get work (see _read_past_backlogs). After looks that found nothing but
        # backlogs, the next one waits longer: _useless_looks, _look_at.
        self._spill = Spill(spill_folder)
        self._useless_looks = 0
        self._look_at = 0.0
        self._draining: list[tuple[str, str, str]] = []  # (host, error kind, message) to fail from disk
        self._starved = False  # the input had nothing ready when last asked
        self._held_since = 0.0  # when the hand-off last went from empty to holding a job
        self._pending = 0  # jobs read and not yet final
        self._parked = 0
        self._position = 0
        self._exhausted = False
        self._t_start = self._clock()
        self._deadline = None if max_time is None else self._t_start + max_time
        self._cancelling = False
        self._stopping = False
        self._stop_at: float | None = None
        # counters for statistics()
        self._done_count = 0
        self._attempts = 0
        self._retries = 0
        self._bytes = 0
        self._errors: dict[str, int] = {}
        self._statuses: dict[int, int] = {}

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
        self._spill.close()

    def turn(self, publish: Callable[[], None] | None, longest: float = _IDLE_WAIT) -> bool:
        """One turn of the loop: schedule, wait for the network at most until something is due,
        handle what ended. False once every input has its job in ``handoff`` (or a stop ended the run).

        ``publish`` is called when finished jobs were added to ``handoff`` for a consumer in another
        thread (see ``_driver``); ``None``: the consumer turns the loop itself and takes them after
        this turn, so a turn that has finished jobs does not wait for the network; nor, in any turn,
        longer than ``longest`` seconds. Jobs in
        ``handoff`` count against the window, so a slow consumer stops the reading of new input,
        never the transfers already started.
        """
        done = self.handoff
        transport = self._transport
        now = self._clock()
        if self._stopping:
            if transport.active == 0 or (self._stop_at is not None and now >= self._stop_at):
                self._abort_in_flight()
                return False
        elif self._deadline is not None and now >= self._deadline and not self._cancelling:
            self._cancel_everything()
            if publish is not None:
                publish()
            return True
        if self._cancelling:
            self._drain_backlogs()
            if not self._draining and self._cancel_input():
                return False
            if publish is not None:
                publish()
            elif done:
                return True
            if self._room() <= 0 or self._starved:
                # the consumer or the input has to catch up; taken() or the input wakes us
                for job in transport.poll(_IDLE_WAIT if self._room() <= 0 else 0.005):
                    self._on_attempt_end(job)
            return True
        if not self._stopping:
            self._schedule(now)
        if self._exhausted and self._pending == 0:
            if publish is not None:
                publish()
            return False
        wait = min(self._next_wait(now), longest)
        if self._on_idle is not None:
            wait = min(wait, self._on_idle())
        if done:
            if publish is None:
                wait = 0.0  # the consumer is here: it takes them once the network was looked at
            else:
                # A sleeping consumer is woken for a batch, or once the oldest result has waited
                # _HOLD_RESULTS: not after every turn of the loop, which cost a thread switch per
                # handful of results (a quarter more CPU at 25,000 small requests a second).
                due = self._held_since + _HOLD_RESULTS
                if len(done) >= _PUBLISH_AT or now >= due:
                    publish()
                elif due - now < wait:
                    wait = due - now
        ended = transport.poll(wait)
        if not ended:
            return True
        for job in ended:
            self._on_attempt_end(job)
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

    def taken(self) -> None:
        """The consumer took jobs from ``handoff``: wake the loop if it waits for that room."""
        if self._full and self._room() >= self._window // 2:
            self._full = False
            self._transport.wake()

    def _room(self) -> int:
        """Requests the window has room for in memory (those spilled to disk are not there)."""
        return self._window - self._pending + self._spill.total - len(self.handoff)

    def _schedule(self, now: float) -> None:
        """Read input into the window, wake what is due, start what the limits allow."""
        if self._draining:
            self._drain_backlogs()
        self._fill()
        self._wake(now)
        self._admit(now)
        if (self._full and now >= self._look_at and not self._ready
                and self._transport.active < self._limits.concurrency
                and len(self.handoff) < self._window // 2):  # not when the consumer is the one behind
            self._read_past_backlogs(now)
            self._admit(now)

    def wake(self) -> None:
        """End a turn waiting for the network now (from another thread)."""
        self._transport.wake()

    def stop(self, grace: float = 5.0) -> None:
        """Admit nothing more; let transfers in flight finish for ``grace`` seconds, then abort."""
        if not self._stopping:
            self._stopping = True
            self._stop_at = self._clock() + grace
        else:
            self._stop_at = self._clock()  # a second stop: abort now
        self._transport.wake()  # called from another thread: the loop may be waiting

    @property
    def unfinished(self) -> int:
        """Inputs read whose record was not produced (after a stop)."""
        return self._pending

    def statistics(self) -> Statistics:
        now = self._clock()
        hosts = list(self._hosts.values())  # the engine's thread may add hosts meanwhile
        slowed = tuple(
            HostSnapshot(
                name=h.name,
                active=h.active,
                queued=len(h.queue),
                limit=h.limit,
                effective_limit=h.effective_limit,
                rate=None if h.bucket is None else h.bucket.rate,
                slowdowns=h.slowdowns,
                paused=h.paused_until > now,
                dead=h.dead,
            )
            for h in hosts
            if h.factor < 1.0 or h.dead or h.paused_until > now
        )
        return Statistics(
            elapsed=now - self._t_start,
            inputs_read=self._position,
            done=self._done_count,
            in_flight=self._transport.active,
            queued=self._pending - self._transport.active - self._parked,
            waiting_retry=self._parked,
            attempts=self._attempts,
            retries=self._retries,
            errors=dict(self._errors),
            statuses=dict(self._statuses),
            bytes=self._bytes,
            input_exhausted=self._exhausted,
            slowed_hosts=slowed,
            waiting=self._waiting(hosts, now),
            on_disk=self._spill.total,
        )

    def _waiting(self, hosts: list[Host], now: float) -> dict[str, int]:
        """Queued requests by the reason they wait, for a display that says why little moves."""
        on_disk = dict(self._spill.counts)
        waiting: dict[str, int] = {}
        for h in hosts:
            count = len(h.queue) + len(h.tail) + on_disk.get(h.name, 0)
            if not count:
                continue
            if h.dead:
                reason = "dead host"
            elif h.paused_until > now:
                reason = "paused"
            elif not h.has_room():
                reason = "slowed down" if h.factor < 1.0 else "host limit"
            elif h.bucket is not None and h.bucket.wait_time(now) > 0.0:
                reason = "rate limit"
            else:
                reason = "connections"
            waiting[reason] = waiting.get(reason, 0) + count
        return waiting

    # -- reading input ----------------------------------------------------------------------------

    def _fill(self) -> None:
        if self._exhausted:
            return
        items = self._items
        window = self._window
        done = self.handoff
        self._starved = False
        self._full = False
        spill = self._spill
        while self._pending - spill.total + len(done) < window:  # finished jobs not yet taken count too
            item = next(items, None)
            if item is None:
                self._exhausted = True
                return
            if isinstance(item, NotReady):
                self._starved = True
                return
            placed = self._job_for(item)
            if placed is None:
                continue
            job, host = placed
            if host.tail or spill.counts.get(host.name):
                host.tail.append(job)  # behind the host's requests on disk
                continue
            host.queue.append(job)
            if not host.in_ready:
                host.in_ready = True
                self._ready.append(host)
        self._full = True

    def _job_for(self, item: Request | InvalidSpec) -> tuple[Job, Host] | None:
        """The job of an input just read and its host; None when it takes no place (skipped by
        ``--resume``, or invalid, or for a host given up: those get their record at once)."""
        position = self._position
        self._position += 1
        skip = self._skip
        if isinstance(item, InvalidSpec):
            if skip is None or not skip(item.id):
                self._finish(self._invalid_job(item, position))
            return None
        job_id = item.id if item.id is not None else str(position)
        if skip is not None and skip(job_id):
            return None
        name = origin_of(item.url)
        job = Job(item, job_id, name, position)
        self._pending += 1
        host = self._hosts.get(name)
        if host is None:
            host = self._new_host(name)
        if host.dead:
            job.fail("host_unavailable", f"{name} is not reachable (repeated connection failures)")
            self._finish(job)
            return None
        return job, host

    def _read_past_backlogs(self, now: float) -> None:
        """The window is full, yet connections are free and no host with room has work.

        Typically one slow, paused or narrowly limited host holds the window. Read on: requests
        of hosts that have a backlog wait behind it (in memory up to twice the window, then on
        disk, in order per host), the others are queued at once, until enough work was found for
        the free connections, a window's worth of input at most. After a look that found nothing
        but backlogs, the next waits twice as long (from half a second, at most a minute), unless a
        host shows up or runs out of work first: a run over one host reads ahead a window only a
        handful of times (the first in memory), and a host whose requests come first in a sorted
        input holds the others for seconds, not for its whole backlog.
        """
        items = self._items
        spill = self._spill
        handoff = self.handoff
        wanted = max(2 * (self._limits.concurrency - self._transport.active), 16)
        found = 0
        looked = 0
        distance = self._window
        hard_bound = 2 * self._window
        while found < wanted:
            in_memory = self._pending - spill.total + len(handoff)
            if looked >= distance:  # the next look goes on from here
                break
            if in_memory >= hard_bound and spill.broken:
                break  # the disk refuses and memory is at its bound: wait for room
            item = next(items, None)
            if item is None:
                self._exhausted = True
                break
            if isinstance(item, NotReady):
                self._starved = True
                break
            looked += 1
            placed = self._job_for(item)
            if placed is None:
                continue
            job, host = placed
            cap = max(2 * host.effective_limit, 4)  # queued beyond this, a host has a backlog
            if host.tail or spill.counts.get(host.name) or len(host.queue) >= cap:
                if in_memory >= hard_bound and self._to_disk(host, job):
                    continue
                host.tail.append(job)  # memory has room (or the disk refused): in order behind the rest
                continue
            host.queue.append(job)
            found += 1
            if not host.in_ready:
                host.in_ready = True
                self._ready.append(host)
        spill.flush()
        if found or self._exhausted:
            self._useless_looks = 0
        else:
            self._look_at = now + min(0.5 * 2 ** self._useless_looks, 60.0)
            self._useless_looks += 1

    def _look_again(self) -> None:
        self._useless_looks = 0
        self._look_at = 0.0

    def _to_disk(self, host: Host, job: Job) -> bool:
        """Put ``job`` on disk behind its host's others: those waiting in memory go there first."""
        spill = self._spill
        tail = host.tail
        while tail and spill.put(host.name, (tail[0].request, tail[0].id, tail[0].position)):
            tail.popleft()
        return not tail and spill.put(host.name, (job.request, job.id, job.position))

    def _refill(self, host: Host) -> None:
        """``host``'s queue ran dry: its oldest requests on disk come back, then those read since."""
        spill = self._spill
        if spill.counts.get(host.name):
            name = host.name
            host.queue.extend(Job(request, job_id, name, position)
                              for request, job_id, position in spill.take(name, max(4 * host.limit, 64)))
        elif host.tail:
            host.queue, host.tail = host.tail, host.queue

    def _invalid_job(self, item: InvalidSpec, position: int) -> Job:
        self._pending += 1
        return invalid_job(item, position)

    def _new_host(self, name: str) -> Host:
        limits = self._limits
        host = Host(name, limits.limit_for(name), limits.per_host_rate, limits.burst, self._clock)
        self._hosts[name] = host
        self._look_again()  # the input ahead may hold work for hosts like this one
        self._expect(name)
        return host

    # -- admission ----------------------------------------------------------------------------------

    def _admit(self, now: float) -> None:
        transport = self._transport
        ready = self._ready
        concurrency = self._limits.concurrency
        bucket = self._bucket
        while ready and transport.active < concurrency:
            if bucket is not None and bucket.wait_time(now) > 0.0:
                return  # _next_wait() wakes us when the global bucket has a token
            host = ready.popleft()
            if not host.queue or not host.has_room():
                host.in_ready = False
                continue
            if host.paused_until > now:
                host.in_ready = False
                self._add_timer(host.paused_until, host)
                continue
            if host.bucket is not None:
                wait = host.bucket.try_acquire(now)
                if wait > 0.0:
                    host.in_ready = False
                    self._add_timer(now + wait, host)
                    continue
            if bucket is not None:
                bucket.try_acquire(now)
            job = host.queue.popleft()
            if not host.queue and (host.tail or self._spill.counts):
                self._refill(host)
            if host.queue:
                ready.append(host)  # round robin between hosts
            else:
                host.in_ready = False
                self._look_again()  # a host ran out of work: the input ahead may have more for it
            self._start(job, host)

    def _start(self, job: Job, host: Host) -> None:
        job.attempt += 1
        if job.attempt == 1:
            host.first_attempts += 1
        host.active += 1
        self._attempts += 1
        job.clear_outcome()
        self._transport.start(job)

    def _mark_ready(self, host: Host) -> None:
        if not host.in_ready:
            if not host.queue and (host.tail or self._spill.counts):
                self._refill(host)
            if host.queue:
                host.in_ready = True
                self._ready.append(host)

    # -- timers: parked retries and hosts waiting for a token or a cool-down --------------------

    def _add_timer(self, when: float, what: Job | Host) -> None:
        heapq.heappush(self._timers, (when, next(self._seq), what))

    def _wake(self, now: float) -> None:
        timers = self._timers
        while timers and timers[0][0] <= now:
            _, _, what = heapq.heappop(timers)
            if isinstance(what, Job):
                self._parked -= 1
                host = self._hosts[what.host]
                if host.dead:
                    self._finish(what)  # keeps its last outcome
                    continue
                host.queue.appendleft(what)  # retries go first: they are the oldest work
                self._mark_ready(host)
            else:
                self._mark_ready(what)

    def _next_wait(self, now: float) -> float:
        if self._full and not self._exhausted and self._room() > 0:
            return 0.0  # the consumer made room after the window was found full: read on
        wait = _IDLE_WAIT
        if self._timers:
            wait = min(wait, self._timers[0][0] - now)
        if self._bucket is not None and self._ready:
            wait = min(wait, self._bucket.wait_time(now))
        if self._deadline is not None:
            wait = min(wait, self._deadline - now)
        if self._stop_at is not None:
            wait = min(wait, self._stop_at - now)
        return max(wait, 0.0)

    # -- outcomes --------------------------------------------------------------------------------

    def _on_attempt_end(self, job: Job) -> None:
        host = self._hosts[job.host]
        host.active -= 1
        self._mark_ready(host)
        now = self._clock()
        health = self._health
        kind = job.error_kind
        status = job.status
        if kind is None:
            host.note_answer()
            if status in _SLOW_DOWN_STATUSES:
                host.slow_down(health)
                log.info("slowing down %s: %d; concurrency now %d", host.name, status, host.effective_limit)
                self._pause_for_retry_after(job, host, now)
            elif status is not None and status < 400:
                host.speed_up(health)
        elif kind in _CONNECT_KINDS:
            host.note_connect_failure(health, now)
            if host.dead:
                self._give_up_host(host)
        if (kind is not None or status in self._retry.statuses) and not (
            self._stopping or self._cancelling
        ):
            delay = self._retry_delay(job, host)
            if delay is not None:
                self._park(job, host, delay, now)
                return
        self._finish(job)

    def _pause_for_retry_after(self, job: Job, host: Host, now: float) -> None:
        """A 429/503 with Retry-After speaks for the host: none of its requests starts before then."""
        if not job.raw_headers:
            return
        value = Headers.from_raw(job.raw_headers).get("retry-after")
        asked = None if value is None else parse_retry_after(value, self._wall())
        if asked is None or asked <= 0:
            return
        until = now + min(asked, self._retry.retry_after_max)
        if until > host.paused_until:
            host.paused_until = until
            log.info("%s asked to wait %.1fs (Retry-After): pausing its requests", host.name, asked)

    def _retry_delay(self, job: Job, host: Host) -> float | None:
        request = job.request
        retry_after = None
        if job.status in self._retry.statuses and job.raw_headers:
            retry_after = Headers.from_raw(job.raw_headers).get("retry-after")
        delay = self._retry.delay(
            attempt=job.attempt,
            method=request.method,
            status=job.status,
            error_kind=job.error_kind,
            retry_after=retry_after,
            idempotency_key=any(k.lower() == "idempotency-key" for k, _ in request.headers),
            now=self._wall(),
            rng=self._rng,
        )
        if delay is None or host.dead:
            return None
        allowed = max(self._retry.budget_min, self._retry.budget * host.first_attempts)
        if host.retries >= allowed:
            log.info("retry budget of %s spent: %s is final", host.name, job.id)
            return None
        if self._deadline is not None and self._clock() + delay >= self._deadline:
            return None
        return delay

    def _park(self, job: Job, host: Host, delay: float, now: float) -> None:
        what = f"status {job.status}" if job.error_kind is None else job.error_kind
        log.info("retrying %s (%s) in %.2fs, attempt %d", job.id, what, delay, job.attempt + 1)
        if self._record_retries:
            if job.retries is None:
                job.retries = []
            job.retries.append(
                {"status": job.status, "error": job.error_kind, "delay": round(delay, 3)}
            )
        host.retries += 1
        self._retries += 1
        self._parked += 1
        self._add_timer(now + delay, job)

    def _give_up_host(self, host: Host) -> None:
        log.warning("%s keeps refusing connections: failing its queued requests", host.name)
        message = f"{host.name} is not reachable (repeated connection failures)"
        for job in self._in_memory(host):
            job.fail("host_unavailable", message)
            self._finish(job)
        if self._spill.counts.get(host.name):
            self._draining.append((host.name, "host_unavailable", message))

    def _in_memory(self, host: Host) -> Iterator[Job]:
        """The requests of ``host`` not yet started and held in memory, taken out of its queues."""
        while host.queue:
            yield host.queue.popleft()
        while host.tail:
            yield host.tail.popleft()

    def _drain_backlogs(self) -> None:
        """Records for requests on disk that will never start (a dead host's; all of them after
        the run's deadline), as the window allows: a million of them never sit in memory at once."""
        spill = self._spill
        draining = self._draining
        while draining:
            room = self._room()
            if room <= 0:
                self._full = True  # taken() wakes the loop when the consumer made room
                return
            name, kind, message = draining[0]
            batch = spill.take(name, min(room, 1024))
            if not batch:
                draining.pop(0)
                continue
            for request, job_id, position in batch:
                job = Job(request, job_id, name, position)
                job.fail(kind, message)
                self._finish(job)

    def _finish(self, job: Job) -> None:
        self._pending -= 1
        self._done_count += 1
        kind = job.error_kind
        if kind is None:
            status = job.status or 0
            self._statuses[status] = self._statuses.get(status, 0) + 1
            self._bytes += job.size
        else:
            self._errors[kind] = self._errors.get(kind, 0) + 1
        if not self.handoff:
            self._held_since = self._clock()
        self.handoff.append(job)

    # -- ending early --------------------------------------------------------------------------

    def _abort_in_flight(self) -> None:
        for host in self._hosts.values():
            host.queue.clear()  # unfinished: a --resume does them
            host.tail.clear()
        for job in self._transport.in_flight():
            self._transport.abort(job)

    def _cancel_everything(self) -> None:
        """The run's deadline passed: every unfinished input gets a ``cancelled`` record."""
        self._cancelling = True
        message = CANCELLED_IN_FLIGHT
        for job in self._transport.in_flight():
            self._transport.abort(job)
            self._hosts[job.host].active -= 1
            job.fail("cancelled", message)
            self._finish(job)
        for host in self._hosts.values():
            for job in self._in_memory(host):
                if job.attempt == 0 or (job.error_kind is None and job.status is None):
                    job.fail("cancelled", message)
                self._finish(job)
        self._draining = [(name, "cancelled", CANCELLED_UNSTARTED) for name in self._spill.counts]
        for _, _, what in self._timers:
            if isinstance(what, Job):
                self._finish(what)  # parked retries keep their last outcome
        self._timers.clear()
        self._parked = 0

    def _cancel_input(self) -> bool:
        """Give unread inputs their ``cancelled`` record, as the window allows; True when done."""
        message = CANCELLED_UNSTARTED
        self._starved = False
        self._full = False
        while True:
            if self._room() <= 0:
                self._full = True
                return False
            item = next(self._items, None)
            if item is None:
                self._exhausted = True
                return True
            if isinstance(item, NotReady):
                self._starved = True
                return False
            position = self._position
            self._position += 1
            if isinstance(item, InvalidSpec):
                job = self._invalid_job(item, position)
            else:
                job_id = item.id if item.id is not None else str(position)
                if self._skip is not None and self._skip(job_id):
                    continue
                job = Job(item, job_id, "", position)
                job.fail("cancelled", message)
                self._pending += 1
            self._finish(job)
