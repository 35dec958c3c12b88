"""robots.txt (RFC 9309), obeyed before any request to an origin: ``Scheduler(robots_agent=...)``.

Each origin's robots.txt is a request of the engine's own (a ``Job`` whose id is a ``RobotsId``),
put at the head of the origin's queue when its first input is read: it goes through the same
per-host and global limits, rate limits and retries as any request, and the origin's other
requests wait in their queue until it is known (the scheduler asks ``holds()`` before a host's
next request starts).
Then, per RFC 9309 §2.3.1:

- 2xx: the rules are parsed (protego, the parser Scrapy uses) and matched for our User-Agent;
  a disallowed input gets a ``robots_disallowed`` record and no request; ``Crawl-delay`` becomes
  the host's rate limit, never faster than the one the user set;
- 4xx (not 429), and redirects that never end: "unavailable", every URL is allowed;
- 429, 5xx, and no answer at all (DNS, connect, timeout...): "unreachable", every URL of the
  origin is disallowed.

The rules are kept for a day (the RFC's longest), then fetched again while the old ones go on
applying; a fetch again that fails keeps the old rules.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from .._errors import ErrorKind
from ..inputs._spec import make_request
from ._job import Job
from ._ratelimit import TokenBucket

if TYPE_CHECKING:
    from protego import Protego

    from ._hosts import Host

MAX_AGE = 24 * 3600.0  # RFC 9309 §2.4: a cached robots.txt is used for 24 hours at most
_PARSED = 500 * 1024  # RFC 9309 §2.5: at least 500 KiB are parsed; what follows is ignored


class RobotsId(str):
    """The id of a robots.txt request: no input's id, and its body is read, never stored or saved
    (``BodyStore.writer`` keeps the body of an id that says ``engine_own``)."""

    __slots__ = ()
    engine_own = True


def is_robots(job: Job) -> bool:
    """Whether ``job`` is a robots.txt request: made by the engine, never handed out as a result."""
    return type(job.id) is RobotsId


class _Origin:
    """What is known of one origin's robots.txt."""

    __slots__ = ("fetched_at", "parser", "reason", "refreshing")

    def __init__(self) -> None:
        self.parser: Protego | None = None  # the rules, when robots.txt was read
        self.reason: str | None = None  # why every URL is disallowed; None when some are allowed
        self.fetched_at: float | None = None  # None: not known yet (being fetched)
        self.refreshing = False  # fetched again after MAX_AGE; the old rules apply meanwhile


class RobotsGate:
    """The robots.txt of every origin a run meets, and what they allow ``agent`` to fetch."""

    def __init__(
        self,
        agent: str,
        *,
        hosts: Mapping[str, Host],
        finish: Callable[[Job], None],
        refill: Callable[[Host], None],
        mark_ready: Callable[[Host], None],
        clock: Callable[[], float] = time.monotonic,
        max_age: float = MAX_AGE,
    ) -> None:
        from protego import Protego  # checked at settings time: an optional extra

        self._parse = Protego.parse
        self._agent = agent
        self._hosts = hosts  # the frontier's, by origin
        self._finish = finish  # gives a disallowed input its record
        self._refill = refill  # a host's queue ran dry: bring its requests back from disk
        self._mark_ready = mark_ready
        self._clock = clock
        self._max_age = max_age
        self._origins: dict[str, _Origin] = {}

    def forget(self, name: str) -> None:
        """The frontier forgot host ``name`` (``_idle_hosts.forget_idle``): its robots.txt is asked
        again if it comes back."""
        self._origins.pop(name, None)

    def job_for(self, host: Host) -> Job:
        """The robots.txt request of a new host, to put at the head of its queue."""
        self._origins[host.name] = _Origin()
        return self._job(host)

    def _job(self, host: Host) -> Job:
        url = host.name + "/robots.txt"
        return Job(make_request(url), RobotsId(url), host.name, -1)

    def holds(self, host: Host, now: float) -> bool:
        """Whether ``host``'s next request must not start now: its robots.txt is not known yet,
        or every request it had in memory was disallowed (each got its record)."""
        queue = host.queue
        if is_robots(queue[0]):
            return False  # the robots.txt request goes first
        origin = self._origins[host.name]
        if origin.fetched_at is None:
            return True  # its robots.txt is on its way: the host is marked ready when it is known
        if now - origin.fetched_at >= self._max_age and not origin.refreshing:
            origin.refreshing = True
            queue.appendleft(self._job(host))
            return False
        while queue:
            job = queue[0]
            if is_robots(job) or self._allowed(origin, job):
                return False
            queue.popleft()
            self._finish(job)
            if not queue:
                self._refill(host)
        return True

    def _allowed(self, origin: _Origin, job: Job) -> bool:
        """True, or ``job`` failed as ``robots_disallowed``."""
        if origin.reason is None:
            if origin.parser is None or origin.parser.can_fetch(job.request.url, self._agent):
                return True
            reason = f"{job.host}/robots.txt disallows it for {self._agent}"
        else:
            reason = origin.reason
        job.fail(ErrorKind.ROBOTS_DISALLOWED, reason)
        return False

    def learned(self, job: Job) -> None:
        """A robots.txt request is final (answered, failed, or given up): apply what it says."""
        host = self._hosts[job.host]
        origin = self._origins[host.name]
        refresh = origin.refreshing
        origin.refreshing = False
        origin.fetched_at = self._clock()
        status, kind = job.status, job.error_kind
        where = f"{host.name}/robots.txt"
        if kind is None and status is not None and 200 <= status < 300:
            text = (job.content or b"")[:_PARSED].decode("utf-8", errors="replace")
            origin.parser, origin.reason = self._parse(text), None
            self._crawl_delay(host, origin.parser)
        elif (kind is None and status is not None and 400 <= status < 500 and status != 429) or (
                kind == ErrorKind.TOO_MANY_REDIRECTS):
            origin.parser, origin.reason = None, None  # unavailable: nothing is disallowed
        elif refresh:
            pass  # unreachable now: the rules read before go on applying (RFC 9309 §2.4)
        elif kind is None:
            origin.parser = None
            origin.reason = (f"{where} answered {status}: the whole host is disallowed "
                             "until it answers (RFC 9309 §2.3.1.4)")
        else:
            origin.parser = None
            origin.reason = (f"{where} could not be fetched ({kind}: {job.error_message}): "
                             "the whole host is disallowed (RFC 9309 §2.3.1.4)")
        self._mark_ready(host)

    def _crawl_delay(self, host: Host, parser: Protego) -> None:
        """``Crawl-delay: S`` is one request every S seconds to the host, unless slower is set."""
        delay = parser.crawl_delay(self._agent)
        if not delay or delay <= 0:
            return
        rate = 1.0 / delay
        if host.base_rate is not None and host.base_rate <= rate:
            return  # the user's own rate is slower already
        host.base_rate = rate
        # One request every S seconds means no burst, whatever --burst says; the robots.txt request
        # was the host's latest, so the next one waits S seconds from it.
        host.bucket = TokenBucket(rate * host.factor, 1, self._clock)
        host.bucket.try_acquire()
