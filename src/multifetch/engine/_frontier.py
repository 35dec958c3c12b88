"""``Frontier``: the input read into per-host queues, and read past the hosts that hold it up.

At most ``size`` requests are held in memory (queued, in flight, parked, or final and not yet taken
by the consumer), so memory does not grow with the input. When one slow, paused or narrowly limited
host fills that window while connections are free, the frontier reads on: the requests of hosts with
a backlog wait behind it, in memory and then on disk (``Spill``), in order per host."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from .._errors import CANCELLED_UNSTARTED
from ..inputs._spec import InvalidSpec, Request
from ..inputs._urls import origin_of
from ._hosts import Host
from ._idle_hosts import forget_idle
from ._input import Input, NotReady
from ._job import Job, invalid_job
from ._latency import Latency
from ._ledger import Ledger
from ._policy import Limits
from ._spill import Spill

if TYPE_CHECKING:
    from ._robots import RobotsGate


# Requests a host may start in a row on each of the connections its own transfers freed (see
# ``Frontier.freed``) before other hosts waiting for a connection go first.
TURN = 8
# The default window grows by this many requests for each host seen with a second request, up
# to ``DEEPEST_WINDOW`` (about 30 MB of requests in memory).
WINDOW_PER_HOST = 16
DEEPEST_WINDOW = 65_536
# A host's first requests, one after another on its first connection, go before the later
# requests of hosts already seen at work (``Frontier.fresh``): they tell a slow or throttling
# host (a refusal comes on the second request in a second) while its whole queue is still ahead.
PROBE = 2


class Frontier:
    """The requests read and not yet started: a queue per host, the hosts with work in turn.

    ``hosts`` maps an origin to its ``Host``; ``ready`` holds the hosts that may have work to
    start, each once (``Host.in_ready``). ``full``: the window was found full, so the consumer's
    taking must wake the loop; ``starved``: the input had nothing ready when last asked.
    """

    def __init__(
        self,
        items: Input,
        *,
        limits: Limits,
        size: int,
        deepen: bool = False,
        skip: Callable[[str], bool] | None,
        ledger: Ledger,
        expect: Callable[[str], None],
        clock: Callable[[], float],
        spill_folder: str | None,
    ) -> None:
        self._items = items
        self._limits = limits
        self.size = size
        self._deepen = deepen
        self._skip = skip
        self._ledger = ledger
        self._handoff = ledger.handoff
        self._finish = ledger.finish
        # Told of each new host as its first request enters the window, so a transport can look
        # its name up while the request waits its turn (the lookup is then off the request's path).
        self._expect = expect
        self._clock = clock
        self.hosts: dict[str, Host] = {}
        self.ready: deque[Host] = deque()
        self.warm: deque[Host] = deque()  # hosts whose transfer just ended: its connection is free
        self.wanting: deque[Host] = deque()  # hosts that should have more connections (``freed``)
        self.due: deque[Host] = deque()  # hosts whose wait just ended (``mark_due``)
        self._forget_at = 0  # hosts held when the next forget_idle() runs (``_idle_hosts``)
        self._repeated_hosts = 0  # hosts seen with a second request (the window grows with them)
        # hosts not started yet, in the order seen; in ``ready`` once started (``in_ready`` is set)
        self.fresh: deque[Host] = deque()
        self.displaced: deque[Host] = deque()  # warm hosts whose connection went to one before them
        self.latency = Latency()
        self.spill = Spill(spill_folder)
        self.robots: RobotsGate | None = None  # set when robots.txt is obeyed (``_robots``)
        # After looks past the backlogs that found nothing, the next one waits longer.
        self._useless_looks = 0
        self.look_at = 0.0
        self.draining: list[tuple[str, str, str]] = []  # (host, error kind, message) to fail from disk
        self.full = False
        self.starved = False
        self.exhausted = False
        self.position = 0  # inputs read

    def room(self) -> int:
        """Requests the window has room for in memory (those spilled to disk are not there)."""
        return self.size - self._ledger.pending + self.spill.total - len(self._handoff)

    # -- reading input ----------------------------------------------------------------------------

    def fill(self) -> None:
        """Read input until the window is full, the input ends or has nothing ready."""
        if self.exhausted:
            return
        items = self._items
        window = self.size
        done = self._handoff
        ledger = self._ledger
        self.starved = False
        self.full = False
        spill = self.spill
        while ledger.pending - spill.total + len(done) < window:  # final jobs not yet taken count too
            item = next(items, None)
            if item is None:
                self.exhausted = True
                return
            if isinstance(item, NotReady):
                self.starved = True
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
                self.ready.append(host)
        self.full = True

    def _job_for(self, item: Request | InvalidSpec) -> tuple[Job, Host] | None:
        """The job of an input just read and its host; None when it takes no place (skipped by
        ``--resume``, or invalid, or for a host given up: those get their record at once)."""
        position = self.position
        self.position += 1
        skip = self._skip
        if isinstance(item, InvalidSpec):
            if skip is None or not skip(item.id):
                self._ledger.pending += 1
                self._finish(invalid_job(item, position))
            return None
        job_id = item.id if item.id is not None else str(position)
        if skip is not None and skip(job_id):
            return None
        name = origin_of(item.url)
        job = Job(item, job_id, name, position)
        self._ledger.pending += 1
        host = self.hosts.get(name)
        if host is None:
            host = self._new_host(name)
        elif not host.repeated:
            host.repeated = True
            self._repeated_hosts += 1
            if self._deepen:
                # ~16 requests a host seen twice, so that its requests meet in its queue and share
                # its connections (``freed``), not each open one (2,000 hosts, shuffled: 22,000 of
                # 40,000 did with a window of 1,024; 2,300 with 40,000). Over distinct hosts the
                # window stays small, and so do the hosts held for it (~2 KB each).
                self.size = max(self.size, min(WINDOW_PER_HOST * self._repeated_hosts, DEEPEST_WINDOW))
        if host.dead:
            job.fail("host_unavailable", f"{name} is not reachable (repeated connection failures)")
            self._finish(job)
            return None
        return job, host

    def _new_host(self, name: str) -> Host:
        if len(self.hosts) >= self._forget_at:
            self._forget_at = forget_idle(self.hosts, self.ready, self.spill.counts, self.robots,
                                          self._clock())
        limits = self._limits
        host = Host(name, limits.limit_for(name), limits.per_host_rate, limits.burst, self._clock)
        self.hosts[name] = host
        if self.robots is not None:
            host.queue.append(self.robots.job_for(host))  # first, and the rest wait for it
        host.in_ready = True  # in ``fresh``: ``ready`` once its first request started
        self.fresh.append(host)
        self.look_again()  # the input ahead may hold work for hosts like this one
        self._expect(name)
        return host

    # -- the look past backlogs -------------------------------------------------------------------

    def read_past_backlogs(self, wanted: int, now: float) -> None:
        """The window is full, yet connections are free and no host with room has work.

        Typically one slow, paused or narrowly limited host holds the window. Read on: requests
        of hosts that have a backlog wait behind it (in memory up to twice the window, then on
        disk, in order per host), the others are queued at once, until ``wanted`` requests were
        found for the free connections, a window's worth of input at most. After a look that found
        nothing but backlogs, the next waits twice as long (from half a second, at most a minute),
        unless a host shows up or runs out of work first: a run over one host reads ahead a window
        only a handful of times (the first in memory), and a host whose requests come first in a
        sorted input holds the others for seconds, not for its whole backlog.
        """
        items = self._items
        spill = self.spill
        handoff = self._handoff
        ledger = self._ledger
        found = 0
        looked = 0
        distance = self.size
        hard_bound = 2 * self.size
        while found < wanted:
            in_memory = ledger.pending - spill.total + len(handoff)
            if looked >= distance:  # the next look goes on from here
                break
            if in_memory >= hard_bound and spill.broken:
                break  # the disk refuses and memory is at its bound: wait for room
            item = next(items, None)
            if item is None:
                self.exhausted = True
                break
            if isinstance(item, NotReady):
                self.starved = True
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
                self.ready.append(host)
        spill.flush()
        if found or self.exhausted:
            self._useless_looks = 0
        else:
            self.look_at = now + min(0.5 * 2 ** self._useless_looks, 60.0)
            self._useless_looks += 1

    def look_again(self) -> None:
        """Something changed (a new host, a host out of work): the next look need not wait."""
        self._useless_looks = 0
        self.look_at = 0.0

    def _to_disk(self, host: Host, job: Job) -> bool:
        """Put ``job`` on disk behind its host's others: those waiting in memory go there first."""
        spill = self.spill
        tail = host.tail
        while tail and spill.put(host.name, (tail[0].request, tail[0].id, tail[0].position)):
            tail.popleft()
        return not tail and spill.put(host.name, (job.request, job.id, job.position))

    def refill(self, host: Host) -> None:
        """``host``'s queue ran dry: its oldest requests on disk come back, then those read since."""
        spill = self.spill
        if spill.counts.get(host.name):
            name = host.name
            host.queue.extend(Job(request, job_id, name, position)
                              for request, job_id, position in spill.take(name, max(4 * host.limit, 64)))
        elif host.tail:
            host.queue, host.tail = host.tail, host.queue

    def freed(self, host: Host, seconds: float) -> None:
        """One of ``host``'s transfers ended after ``seconds``, leaving its connection idle.

        Its next request should take that connection before hosts further on in ``ready``: one
        of them would open a connection (a TLS handshake), and the idle one would be closed before
        its host's turn came round (over 2,000 hosts served strictly in turn, 38,000 of 40,000
        requests opened one). A host keeps its connections for ``TURN`` requests on each, then
        waits its turn in ``ready``: hosts with long backlogs still take turns.

        A host with a pace (``--per-host-rate``, Crawl-delay, Retry-After) goes to ``due``: its
        next request starts when its token comes, not at its place in ``ready`` (for ``TURN`` a
        connection too). While hosts wait in ``fresh``, only a host's first ``PROBE`` run on.

        A host whose queue would outlast the run's other work at its present number of
        connections (a slow host, typically) asks for another (``wanting``): the next connection
        another host frees goes to it, up to its limit.
        """
        self.latency.note(host, seconds)
        self.mark_ready(host)
        if not host.queue:
            return
        turn_left = host.streak < TURN * host.limit
        if host.bucket is not None:
            if turn_left:
                self.due.append(host)  # paced: its next request starts when its token comes
        elif host.first_attempts < PROBE or (turn_left and not self.unstarted()):
            self.warm.append(host)
        connections = host.active + 1
        if connections < host.effective_limit and not host.wanting:
            left = len(host.queue) + len(host.tail) + self.spill.counts.get(host.name, 0)
            run_left = self._ledger.pending * self.latency.typical / self._limits.concurrency
            if left * host.latency / connections > run_left:
                host.wanting = True
                self.wanting.append(host)

    def unstarted(self) -> bool:
        """Whether a host seen has not started a request yet (``fresh``)."""
        fresh = self.fresh
        while fresh and (fresh[0].first_attempts or not fresh[0].queue):
            self.leave_fresh(fresh.popleft())
        return bool(fresh)

    def leave_fresh(self, host: Host) -> None:
        """``host``, out of ``fresh``, takes its turns in ``ready`` while it has work."""
        if host.queue:
            self.ready.append(host)  # ``in_ready`` is set already
        else:
            host.in_ready = False
            self.mark_ready(host)  # back with its requests on disk, if it has some

    def mark_due(self, host: Host) -> None:
        """``host`` waited for a retry, a token or the end of a pause: it goes before the hosts in
        ``ready`` (``due``). At its place there it would wait for every host ahead to be started
        once more while the hosts in service keep their connections (``freed``): behind
        thousands of hosts, a host that takes a request a second got one every twenty seconds."""
        self.mark_ready(host)
        if host.queue:
            self.due.append(host)

    def mark_ready(self, host: Host) -> None:
        """``host`` may start a request again (a slot, a token or its cool-down came back)."""
        if not host.in_ready:
            if not host.queue and (host.tail or self.spill.counts):
                self.refill(host)
            if host.queue:
                host.in_ready = True
                self.ready.append(host)

    # -- requests that will never start -----------------------------------------------------------

    def in_memory(self, host: Host) -> Iterator[Job]:
        """The requests of ``host`` not yet started and held in memory, taken out of its queues."""
        while host.queue:
            yield host.queue.popleft()
        while host.tail:
            yield host.tail.popleft()

    def fail_queued(self, host: Host, kind: str, message: str) -> None:
        """Every request of ``host`` not yet started fails: those in memory now, those on disk
        as the window allows (``drain_backlogs``)."""
        for job in self.in_memory(host):
            job.fail(kind, message)
            self._finish(job)
        if self.spill.counts.get(host.name):
            self.draining.append((host.name, kind, message))

    def drain_backlogs(self) -> None:
        """Records for requests on disk that will never start (a dead host's; all of them after
        the run's deadline), as the window allows: a million of them never sit in memory at once."""
        spill = self.spill
        draining = self.draining
        while draining:
            room = self.room()
            if room <= 0:
                self.full = True  # taken() wakes the loop when the consumer made room
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

    def cancel_input(self) -> bool:
        """Give unread inputs their ``cancelled`` record, as the window allows; True when done."""
        message = CANCELLED_UNSTARTED
        self.starved = False
        self.full = False
        while True:
            if self.room() <= 0:
                self.full = True
                return False
            item = next(self._items, None)
            if item is None:
                self.exhausted = True
                return True
            if isinstance(item, NotReady):
                self.starved = True
                return False
            position = self.position
            self.position += 1
            if isinstance(item, InvalidSpec):
                job = invalid_job(item, position)
            else:
                job_id = item.id if item.id is not None else str(position)
                if self._skip is not None and self._skip(job_id):
                    continue
                job = Job(item, job_id, "", position)
                job.fail("cancelled", message)
            self._ledger.pending += 1
            self._finish(job)
