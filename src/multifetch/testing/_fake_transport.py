"""A transport that only pretends, and the clock it moves: the scheduling rules, tested in fake time.

Every attempt's outcome is scripted (status, headers, error kind, latency in fake seconds). Nothing
touches a socket and nothing sleeps: ``poll(timeout)`` moves the clock straight to the next
completion (or by ``timeout`` when none comes sooner) and returns the attempts that ended. Give the
scheduler the same clock (``clock=fake.clock, wall=fake.clock.wall``) and a whole run with pauses
of minutes takes milliseconds, with start times that can be asserted exactly::

    fake = FakeTransport({"http://a.test/1": [Answer(status=503, headers={"Retry-After": "5"}),
                                              Answer(status=200)]})
    ...
    [start.at for start in fake.starts]  # [0.0, 5.01]

Each start is recorded with the fake time and how many attempts were in flight, over all hosts
and to its own, counting itself, so tests can assert on order, pacing and concurrency.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..engine._job import Job
from ..inputs._spec import Request

if TYPE_CHECKING:
    from ..engine._transport import Transport

#: Fake seconds since the epoch at fake time 0, for answers that carry an HTTP date.
EPOCH = 1_700_000_000.0


class Stuck(AssertionError):
    """The scheduler under test spins without moving time, or never ends."""


@dataclass(frozen=True, slots=True)
class Answer:
    """How one attempt ends: an HTTP answer, or (``error``, a kind) no answer at all."""

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None
    latency: float = 0.01  # fake seconds from start to end
    size: int = 0
    body: bytes | None = None  # the body, kept as in memory (``size`` is then its length)


@dataclass(frozen=True, slots=True)
class Start:
    """One attempt as it started: when (fake seconds), what, and the load it joined."""

    at: float
    id: str
    url: str
    host: str
    attempt: int
    position: int
    in_flight: int  # attempts in flight over all hosts, this one included
    host_in_flight: int  # attempts in flight to its host, this one included


#: The answer to attempt ``attempt`` (1 for the first) of a request.
Script = Callable[[Request, int], Answer]


class FakeClock:
    """Time that passes only when moved. Calling it reads it (a ``time.monotonic`` stand-in)."""

    __slots__ = ("now",)

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def wall(self) -> float:
        """Epoch seconds now (a ``time.time`` stand-in)."""
        return EPOCH + self.now


def by_url(answers: Mapping[str, Answer | Sequence[Answer]], default: Answer | None = None) -> Script:
    """A script from a table: a URL's answer, or its answers attempt by attempt (the last one
    repeats); ``default`` (a quick 200) for URLs not in the table."""
    otherwise = default or Answer()

    def script(request: Request, attempt: int) -> Answer:
        scripted = answers.get(request.url, otherwise)
        if isinstance(scripted, Answer):
            return scripted
        return scripted[min(attempt, len(scripted)) - 1]

    return script


class FakeTransport:
    """The scheduler's ``Transport``, with scripted outcomes in fake time."""

    name = "fake"

    def __init__(
        self,
        script: Script | Mapping[str, Answer | Sequence[Answer]] | None = None,
        *,
        clock: FakeClock | None = None,
        give_up_after: float = 100_000.0,
    ) -> None:
        self.clock = clock or FakeClock()
        self._script: Script = script if callable(script) else by_url(script or {})
        self._give_up_at = self.clock.now + give_up_after  # fake seconds: a run that never ends fails
        self._ends: list[tuple[float, int, Job, Answer]] = []  # a heap by end time
        self._seq = itertools.count()
        self._jobs: dict[int, Job] = {}  # in flight, by id(job)
        self._by_host: dict[str, int] = {}
        self._spins = 0  # polls in a row that moved nothing: time, an end or a start
        self._starts_seen = 0
        self.active = 0
        self.starts: list[Start] = []
        self.aborted: list[Job] = []
        self.expected: list[str] = []  # origins announced through expect(), in order
        self.closed = False

    # -- the scheduler's side ----------------------------------------------------------------------

    def start(self, job: Job) -> None:
        now = self.clock.now
        answer = self._script(job.request, job.attempt)
        job.t0 = now
        job.started_at = self.clock.wall()
        self._jobs[id(job)] = job
        self.active += 1
        host_active = self._by_host.get(job.host, 0) + 1
        self._by_host[job.host] = host_active
        self.starts.append(Start(now, job.id, job.request.url, job.host, job.attempt, job.position,
                                 self.active, host_active))
        heapq.heappush(self._ends, (now + answer.latency, next(self._seq), job, answer))

    def poll(self, timeout: float) -> list[Job]:
        """Move the clock to the next completion, or by ``timeout`` if none is due sooner."""
        clock = self.clock
        before = clock.now
        ends = self._ends
        while ends and id(ends[0][2]) not in self._jobs:  # aborted
            heapq.heappop(ends)
        due = before + max(timeout, 0.0)
        if not ends or ends[0][0] > due:
            if timeout > 0.0:
                clock.now = max(due, math.nextafter(before, math.inf))  # a real wait always ends later
            self._check_progress(before, ended=False)
            return []
        clock.now = max(ends[0][0], before)
        ended: list[Job] = []
        while ends and ends[0][0] <= clock.now:
            _, _, job, answer = heapq.heappop(ends)
            if self._forget(job):
                _settle(job, answer)
                ended.append(job)
        self._check_progress(before, ended=bool(ended))
        return ended

    def abort(self, job: Job) -> None:
        if self._forget(job):
            self.aborted.append(job)

    def in_flight(self) -> list[Job]:
        return list(self._jobs.values())

    def expect(self, origin: str) -> None:
        self.expected.append(origin)

    def wake(self) -> None:
        """Nothing waits for real: ``poll`` returns at once."""

    def kick(self) -> None:
        """Nothing to send: an attempt's outcome is known when it starts."""

    def close(self) -> None:
        self.closed = True

    # -- for the tests -----------------------------------------------------------------------------

    def starts_of(self, host: str) -> list[Start]:
        """The starts of one origin (``http://a.test``), in order."""
        return [start for start in self.starts if start.host == host]

    @property
    def peak(self) -> int:
        return max((start.in_flight for start in self.starts), default=0)

    def host_peak(self, host: str) -> int:
        return max((start.host_in_flight for start in self.starts_of(host)), default=0)

    # -- inside --------------------------------------------------------------------------------------

    def _forget(self, job: Job) -> bool:
        if self._jobs.pop(id(job), None) is None:
            return False
        self.active -= 1
        self._by_host[job.host] -= 1
        return True

    def _check_progress(self, before: float, *, ended: bool) -> None:
        if ended or self.clock.now > before or len(self.starts) > self._starts_seen:
            self._spins = 0
            self._starts_seen = len(self.starts)
        else:
            self._spins += 1
            if self._spins > 10_000:
                raise Stuck(f"the scheduler polls without waiting at fake time {before:g}, nothing in flight "
                            "ends and nothing starts")
        if self.clock.now > self._give_up_at:
            raise Stuck(f"the run has not ended after {self.clock.now:g} fake seconds")


def _settle(job: Job, answer: Answer) -> None:
    job.elapsed = answer.latency
    job.final_url = job.request.url
    if answer.error is not None:
        job.fail(answer.error, f"scripted {answer.error}")
        return
    job.status = answer.status
    job.http_version = "1.1"
    job.raw_headers = [f"HTTP/1.1 {answer.status}\r\n".encode()] + [
        f"{name}: {value}\r\n".encode("latin-1") for name, value in answer.headers.items()
    ]
    job.size = answer.size
    if answer.body is not None:
        job.content = answer.body
        job.size = len(answer.body)


if TYPE_CHECKING:
    _checked: Transport = FakeTransport()  # mypy holds the fake to the scheduler's protocol
