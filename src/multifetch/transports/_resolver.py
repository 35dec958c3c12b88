"""Host names resolved beside the event loop: one question first, both families apart if it is slow.

The libcurl bundled with pycurl asks for a name's IPv4 and IPv6 addresses separately and holds
the transfer until both have answered. A name listed in /etc/hosts with only an IPv4 address
sends its IPv6 question to the DNS server, and a slow or lost answer there held every new name
for seconds (measured: 100 names, AAAA answered after 3 s: 203 s for 2,000 requests; 0.06 s
without the wait). So the engine resolves names itself, through the system resolver (so
/etc/hosts and nsswitch apply), on small pools of threads:

- first one question for both families (``AF_UNSPEC``), as curl and ``getent ahosts`` ask: a name
  in /etc/hosts is answered from there alone (no DNS question for the family it lacks), and a DNS
  name costs one lookup that sends its A and AAAA questions together;
- if that has not answered within the resolution delay (50 ms, RFC 8305) of a thread taking it, one
  family is slow: the two families are then asked apart too, and each address that comes is used
  at once (the delay has passed), so a slow AAAA answer never holds a name whose A answer has come,
  nor the reverse. The delay counts from when a thread takes the question, not from when it was
  queued: a thousand names found in /etc/hosts wait their turn behind each other's quick lookups
  (asking them apart would only read /etc/hosts twice more), unless every thread is stuck.

The addresses go to libcurl with ``CURLOPT_RESOLVE``, and libcurl's happy eyeballs picks between
them when connecting.

Answers are kept for the whole run and refreshed after ``ttl`` seconds while the old addresses
keep serving (a refresh never holds a transfer); a name that does not resolve is remembered for
``negative_ttl`` seconds, so its other requests fail at once instead of asking again.

Threads only call ``getaddrinfo`` and post answers (noting when they take a question for both
families, and skipping one whose families were asked apart meanwhile); every decision is taken on
the loop's thread, which is woken through an ``eventfd``.
"""

from __future__ import annotations

import _thread
import heapq
import itertools
import os
import queue
import socket
import threading
from collections.abc import Callable
from typing import Final, NamedTuple

RESOLUTION_DELAY: Final = 0.05  # RFC 8305 §3: how long one family's answer waits for the other's
_BOTH: Final = socket.AF_UNSPEC
_FAMILIES: Final = (socket.AF_INET, socket.AF_INET6)
_FIRST_THREADS: Final = 2  # threads a pool starts with
_MAX_THREADS: Final = 32  # lookups in progress at once, per pool, when lookups wait on the network
_SLOW_LOOKUP: Final = 0.01  # a lookup in progress this long waits on the network (or is stuck)
MAX_NAMES = 100_000  # names remembered; past this, settled ones are forgotten (a crawl; tests lower it)

Clock = Callable[[], float]


class Failure(NamedTuple):
    """A family's lookup failed. ``absent``: the name does not exist at all (NXDOMAIN), which
    settles both families at once."""

    message: str
    absent: bool


Answer = tuple[str, ...] | Failure


class _Name:
    """What is known about one name. ``None``: that family has not answered yet."""

    __slots__ = ("apart", "expires", "failure", "generation", "ipv4", "ipv6", "listed", "reason",
                 "refreshing", "started", "taken")

    def __init__(self, started: float) -> None:
        self.started = started
        self.ipv4: tuple[str, ...] | None = None
        self.ipv6: tuple[str, ...] | None = None
        self.apart = False  # the families were asked apart (the question for both was slow)
        self.taken = 0.0  # when a thread took the question for both (written by that thread)
        self.reason = ""  # the first lookup failure's message
        self.failure = ""  # set when the name cannot be used: requests to it fail with this
        self.expires = float("inf")
        self.generation = 0  # renewed whenever the addresses change: libcurl must be told again
        self.refreshing = False  # a refresh's answer is still to come
        # ordered(), kept: every transfer to the name asks for it; empty until the name is usable.
        # Any address is usable as soon as it is known: one that came alone came after the delay.
        self.listed: tuple[str, ...] = ()

    def ordered(self) -> tuple[str, ...]:
        # IPv6 first, as RFC 8305 orders them; libcurl's happy eyeballs tries the other family
        # 200 ms later if the first does not connect.
        return (*(f"[{a}]" for a in self.ipv6 or ()), *(self.ipv4 or ()))


class Resolver:
    """Resolves names for one transport; only the worker threads' hand-off is thread-safe."""

    def __init__(
        self,
        *,
        timeout: float,
        clock: Clock,
        ttl: float = 60.0,
        negative_ttl: float = 30.0,
        lookup: Callable[[str, int], tuple[str, ...]] | None = None,
    ) -> None:
        self._timeout = timeout
        self._ttl = ttl
        self._negative_ttl = negative_ttl
        self._clock = clock
        self._lookup = lookup or _getaddrinfo
        self._names: dict[str, _Name] = {}
        self._forget_at = MAX_NAMES
        # Generations are unique across names and forgotten names: a name asked again after it
        # was forgotten never shows a generation the transport has already told libcurl about.
        self._generations = itertools.count(1)
        self._events: list[tuple[float, int, str]] = []  # (when, seq, name): delays and timeouts
        self._seq = itertools.count()
        self._answers: list[tuple[str, int, Answer]] = []
        self._lock = threading.Lock()
        self._closed = False
        self._wakeup = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._pools: dict[int, _Pool] = {family: _Pool(self._ask, clock) for family in (_BOTH, *_FAMILIES)}
        self._check_at: float | None = None  # when the pools are next checked for stuck lookups

    def fileno(self) -> int:
        """Readable when answers have arrived: watch it and call ``answered()``."""
        return self._wakeup

    # -- the loop's side ----------------------------------------------------------------------------

    def addresses(self, name: str) -> tuple[int, tuple[str, ...] | str | None]:
        """``(generation, addresses)`` when ``name`` can be used, ``(0, message)`` when it cannot,
        ``(0, None)`` while its answers are awaited (``answered()`` and ``advance()`` say when)."""
        entry = self._names.get(name)
        now = self._clock()
        if entry is None or (entry.failure and now >= entry.expires):
            if len(self._names) >= self._forget_at:
                self._forget()
            entry = self._names[name] = _Name(now)
            self._put(name, _BOTH)
            self._add_event(now + RESOLUTION_DELAY, name)
            self._add_event(now + self._timeout, name)
            return 0, None
        if entry.listed:
            if now >= entry.expires and not entry.refreshing:
                entry.refreshing = True  # the old addresses keep serving meanwhile
                entry.expires = now + self._ttl
                self._put(name, _BOTH)
            return entry.generation, entry.listed
        if entry.failure:
            return 0, entry.failure
        return 0, None

    def answered(self) -> list[str]:
        """Take the answers the threads posted; the names whose state may have changed."""
        try:
            os.eventfd_read(self._wakeup)
        except BlockingIOError:
            pass
        with self._lock:
            answers, self._answers = self._answers, []
        now = self._clock()
        changed = []
        for name, family, answer in answers:
            entry = self._names.get(name)
            if entry is None:
                continue
            failed = isinstance(answer, Failure)
            if family == _BOTH and entry.refreshing:
                entry.refreshing = False
                if failed:
                    continue  # a failed refresh keeps the addresses that worked
            if isinstance(answer, Failure):
                entry.reason = entry.reason or answer.message
                if answer.absent:  # NXDOMAIN: neither family has anything
                    entry.ipv4 = () if entry.ipv4 is None else entry.ipv4
                    entry.ipv6 = () if entry.ipv6 is None else entry.ipv6
                elif family == _BOTH:
                    self._ask_apart(name, entry)  # (a failure may be one family's: ask each)
                elif family == socket.AF_INET:
                    entry.ipv4 = entry.ipv4 or ()  # a family's failure never hides its known addresses
                else:
                    entry.ipv6 = entry.ipv6 or ()
            elif family == _BOTH:  # this answer speaks for both families
                entry.ipv4 = tuple(a for a in answer if ":" not in a)
                entry.ipv6 = tuple(a for a in answer if ":" in a)
            elif family == socket.AF_INET:
                entry.ipv4 = answer
            else:
                entry.ipv6 = answer
            listed = entry.ordered()
            if listed != entry.listed:
                entry.listed = listed
                entry.generation = next(self._generations)
            if listed:
                entry.failure = ""
                if not failed:
                    entry.expires = now + self._ttl
            elif entry.ipv4 is not None and entry.ipv6 is not None:
                entry.failure = entry.reason or f"Could not resolve host: {name}"
                entry.expires = now + self._negative_ttl
            changed.append(name)
        return changed

    def _forget(self) -> None:
        """Drop the names whose answers are in (lookups in progress are kept: jobs wait on them)."""
        self._names = {n: e for n, e in self._names.items() if not (e.failure or e.listed)}
        self._forget_at = max(MAX_NAMES, 2 * len(self._names))

    def due(self) -> float | None:
        """When ``advance()`` next has something to do."""
        due = self._events[0][0] if self._events else None
        check_at = self._check_at
        if check_at is not None:
            if not self._backlog():
                self._check_at = None  # nothing waits for a thread; the next question sets it again
            elif due is None or check_at < due:
                return check_at
        return due

    def _backlog(self) -> bool:
        return any(pool.backlog() for pool in self._pools.values())

    def advance(self) -> list[str]:
        """Resolution delays and lookup timeouts that have passed: the names they concern (and
        those of answers already posted: a busy loop may reach this before their wake-up, and a
        name answered must not be judged slow)."""
        names = self.answered() if self._answers else []
        events = self._events
        now = self._clock()
        if self._check_at is not None and now >= self._check_at:
            # Lookups stuck on the network get companion threads while questions wait.
            for pool in self._pools.values():
                pool.grow(now)
            self._check_at = now + _SLOW_LOOKUP if self._backlog() else None
        while events and events[0][0] <= now:
            _, _, name = heapq.heappop(events)
            entry = self._names.get(name)
            if entry is None or entry.listed or entry.failure:
                continue
            if not entry.apart:
                apart_at = self._apart_at(entry, now)
                if now >= apart_at:
                    self._ask_apart(name, entry)  # the question for both is slow: one family is
                else:
                    self._add_event(apart_at, name)
            # (the sum as the event's time was computed: a difference may round below it)
            if now >= entry.started + self._timeout:
                entry.failure = f"Resolving timed out after {round(self._timeout * 1000)} ms"
                entry.expires = now + self._negative_ttl
                names.append(name)
        return names

    def close(self) -> None:
        with self._lock:  # a lookup that finishes later must not write to a reused descriptor
            self._closed = True
            os.close(self._wakeup)
        for pool in self._pools.values():
            pool.close()

    # -- asking ---------------------------------------------------------------------------------

    def _apart_at(self, entry: _Name, now: float) -> float:
        """When the families of a name still unanswered are to be asked apart."""
        taken = entry.taken
        if taken:
            return taken + RESOLUTION_DELAY
        if self._pools[_BOTH].stuck(now, RESOLUTION_DELAY):
            return now  # queued behind lookups stuck on the network: it would wait for seconds
        return now + RESOLUTION_DELAY  # queued behind quick lookups: look again later

    def _ask_apart(self, name: str, entry: _Name) -> None:
        if not entry.apart:
            entry.apart = True
            for family in _FAMILIES:
                self._put(name, family)

    def _put(self, name: str, family: int) -> None:
        self._pools[family].put(name, family)
        if self._check_at is None:
            self._check_at = self._clock() + _SLOW_LOOKUP

    def _add_event(self, when: float, name: str) -> None:
        heapq.heappush(self._events, (when, next(self._seq), name))

    def _ask(self, name: str, family: int) -> None:
        """Runs on a pool thread."""
        if family == _BOTH:
            entry = self._names.get(name)  # (the loop's state: a stale read only asks twice)
            if entry is not None:
                if entry.apart and not entry.refreshing:
                    return  # it waited for a thread so long that each family was asked apart meanwhile
                entry.taken = self._clock()
        answer: Answer
        try:
            answer = self._lookup(name, family)
        except socket.gaierror as refused:  # names of their own: compiled, one name holds one type
            absent = refused.errno == socket.EAI_NONAME
            answer = Failure(f"Could not resolve host: {name} ({refused.strerror})", absent)
        except OSError as failed:
            answer = Failure(f"Could not resolve host: {name} ({failed})", False)
        with self._lock:
            if self._closed:
                return
            self._answers.append((name, family, answer))
            os.eventfd_write(self._wakeup, 1)


def _getaddrinfo(name: str, family: int) -> tuple[str, ...]:
    infos = socket.getaddrinfo(name, None, family, socket.SOCK_STREAM)
    return tuple(dict.fromkeys(str(info[4][0]) for info in infos))


class _Pool:
    """Daemon threads asking one kind of question (both families, IPv4, IPv6): a lookup stuck in a
    slow DNS server must not hold the process at exit, and the other kinds never queue behind it.

    A pool starts with few threads and gets more only for lookups that wait on the network. A name
    in /etc/hosts (or in a local cache) is answered in about 0.1 ms of CPU, so more threads do not
    answer sooner: they contend with the event loop for the GIL (and they took a lock the loop took
    for each question). Measured, 1,000 names in /etc/hosts: with up to 32 threads a family started
    at once, the loop spent 60-190 ms queueing their questions before its first transfer; with 2,
    30-40 ms.
    """

    def __init__(self, ask: Callable[[str, int], None], clock: Clock) -> None:
        self._ask = ask
        self._clock = clock
        self._queue: queue.SimpleQueue[tuple[str, int] | None] = queue.SimpleQueue()
        self.threads = 0
        # When each thread's lookup began, 0.0 while it waits for work. Each thread writes only its
        # own slot (a float store, atomic under the GIL); the loop's thread reads them in grow().
        self._busy_since: list[float] = []

    def put(self, name: str, family: int) -> None:
        self._queue.put((name, family))
        if self.threads < _FIRST_THREADS:
            self._spawn()

    def backlog(self) -> bool:
        """Questions wait and the pool may still grow: grow() has something to check."""
        return not self._queue.empty() and self.threads < _MAX_THREADS

    def stuck(self, now: float, after: float) -> bool:
        """Every thread has been on its lookup for ``after`` seconds at least (not only quick ones
        slowed by the loop holding the GIL): a question queued now may wait for seconds."""
        return bool(self.threads) and all(since and now - since >= after for since in self._busy_since)

    def grow(self, now: float) -> None:
        """While questions wait: keep ``_FIRST_THREADS`` threads for quick lookups beside the ones
        stuck on slow ones; when every thread is stuck, the network is slow: a thread for each
        question waiting, up to the most."""
        if self._queue.empty():
            return
        stuck = sum(1 for since in self._busy_since if since and now - since >= _SLOW_LOOKUP)
        if not stuck:
            return  # quick lookups: more threads would not answer them sooner
        wanted = _MAX_THREADS if stuck == self.threads else min(_MAX_THREADS, stuck + _FIRST_THREADS)
        for _ in range(min(wanted - self.threads, self._queue.qsize())):
            self._spawn()

    def _spawn(self) -> None:
        # Not threading.Thread: its start() waits until the new thread runs, which the loop's
        # thread paid with about 1 ms a thread while others held the GIL (the pool grows by up
        # to 30 threads when a DNS server answers slowly). Like a daemon thread, it is not
        # joined at exit.
        self._busy_since.append(0.0)
        _thread.start_new_thread(self._work, (self.threads,))
        self.threads += 1

    def _work(self, slot: int) -> None:
        busy_since = self._busy_since
        while True:
            item = self._queue.get()
            if item is None:
                return
            busy_since[slot] = self._clock()
            try:
                self._ask(*item)
            finally:
                busy_since[slot] = 0.0

    def close(self) -> None:
        for _ in range(self.threads):
            self._queue.put(None)
