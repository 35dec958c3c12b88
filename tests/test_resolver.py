"""The engine's name resolution rules, with an injected clock and lookup (no DNS at all).

The lookups still run on the resolver's threads, as in a real run; the tests wait for their
answers on the resolver's wake-up descriptor, as the event loop does.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Callable

import pytest

from multifetch.transports._resolver import RESOLUTION_DELAY, Resolver

V4, V6, BOTH = socket.AF_INET, socket.AF_INET6, socket.AF_UNSPEC


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


Answers = dict[tuple[str, int], tuple[str, ...] | OSError]


class Lookups:
    """Answers by (name, family), the way glibc gives them: the question for both families waits
    for both and returns what either has (an entry for ``(name, BOTH)`` overrides that). A
    question listed in ``held`` answers only when released; the one for both waits for its
    families' holds too."""

    def __init__(self, answers: Answers, work: float = 0.0) -> None:
        self.answers = answers
        self.work = work  # seconds each lookup takes, the GIL released (glibc reading /etc/hosts)
        self.asked: list[tuple[str, int]] = []
        self.held: dict[tuple[str, int], threading.Event] = {}

    def hold(self, name: str, family: int) -> Callable[[], None]:
        event = self.held[(name, family)] = threading.Event()
        return event.set

    def __call__(self, name: str, family: int) -> tuple[str, ...]:
        self.asked.append((name, family))
        if self.work:
            time.sleep(self.work)
        for held in [family] if family != BOTH else [BOTH, V6, V4]:
            event = self.held.get((name, held))
            if event is not None:
                event.wait(5)
        answer = self.answer(name, family)
        if isinstance(answer, OSError):
            raise answer
        return answer

    def answer(self, name: str, family: int) -> tuple[str, ...] | OSError:
        nothing = socket.gaierror(socket.EAI_NODATA, "No address")
        if family != BOTH or (name, BOTH) in self.answers:
            return self.answers.get((name, family), nothing)
        v6, v4 = self.answer(name, V6), self.answer(name, V4)
        found = (*(v6 if isinstance(v6, tuple) else ()), *(v4 if isinstance(v4, tuple) else ()))
        return found or (v4 if isinstance(v4, OSError) else nothing)


def wait_taken(lookups: Lookups, question: tuple[str, int]) -> None:
    """Wait until a resolver thread has taken ``question``."""
    deadline = time.monotonic() + 5
    while question not in lookups.asked:
        assert time.monotonic() < deadline, f"{question} not taken within 5 s"
        time.sleep(0.001)


def wait_answers(resolver: Resolver, count: int) -> list[str]:
    """Collect ``count`` answers the way the loop does: wait on the descriptor, then take them."""
    names: list[str] = []
    poller = select.poll()
    poller.register(resolver.fileno(), select.POLLIN)
    while len(names) < count:
        assert poller.poll(5000), "no answer within 5 s"
        names += resolver.answered()
    return names


def wait_both_families(resolver: Resolver, name: str) -> None:
    """Take answers until both of ``name``'s have arrived (they may come in one batch or two)."""
    poller = select.poll()
    poller.register(resolver.fileno(), select.POLLIN)
    deadline = time.monotonic() + 5
    while True:
        entry = resolver._names.get(name)
        if entry is not None and entry.ipv4 is not None and entry.ipv6 is not None:
            return
        assert time.monotonic() < deadline, f"{name}: no answers within 5 s"
        poller.poll(100)
        resolver.answered()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_a_name_answered_at_once_is_one_question(clock: Clock) -> None:
    """Both families in one lookup, as curl asks: a name in /etc/hosts is answered from there
    alone, with no question to the DNS server for the family it lacks."""
    lookups = Lookups({("b.test", V4): ("10.0.0.2",), ("b.test", V6): ("fd00::2",)})
    resolver = Resolver(timeout=10, clock=clock, lookup=lookups)
    try:
        assert resolver.addresses("b.test") == (0, None)
        wait_answers(resolver, 1)
        assert resolver.addresses("b.test")[1] == ("[fd00::2]", "10.0.0.2")  # IPv6 first
        clock.now += RESOLUTION_DELAY
        resolver.advance()
        assert lookups.asked == [("b.test", BOTH)]
    finally:
        resolver.close()


def test_a_slow_family_leaves_the_other_used_after_the_resolution_delay(clock: Clock) -> None:
    lookups = Lookups({("a.test", V4): ("10.0.0.1",)})
    release = lookups.hold("a.test", V6)  # the lookup for both waits for it too, as glibc's does
    resolver = Resolver(timeout=10, clock=clock, lookup=lookups)
    try:
        assert resolver.addresses("a.test") == (0, None)
        wait_taken(lookups, ("a.test", BOTH))
        assert resolver.due() == pytest.approx(clock.now + RESOLUTION_DELAY)
        assert resolver.advance() == [] and lookups.asked == [("a.test", BOTH)]  # not yet
        clock.now += RESOLUTION_DELAY
        resolver.advance()  # each family asked apart
        wait_answers(resolver, 1)
        generation, addresses = resolver.addresses("a.test")
        assert addresses == ("10.0.0.1",) and generation > 0  # used at once: the delay has passed
        release()
        wait_answers(resolver, 2)  # the late AAAA (none) and the lookup for both
        assert resolver.addresses("a.test") == (generation, addresses)
        assert sorted(lookups.asked) == [("a.test", BOTH), ("a.test", V4), ("a.test", V6)]
    finally:
        resolver.close()


def test_the_resolution_delay_counts_from_when_a_thread_takes_the_question(clock: Clock) -> None:
    """Names queued behind quick lookups (a long /etc/hosts) are not asked apart while they wait
    their turn: that would only read /etc/hosts twice more for each."""
    answers: Answers = {(f"{n}.test", V4): ("10.0.0.6",) for n in ("q0", "q1", "q2")}
    lookups = Lookups(answers)
    releases = {n: lookups.hold(f"{n}.test", BOTH) for n in ("q0", "q1", "q2")}
    resolver = Resolver(timeout=10, clock=clock, lookup=lookups)
    try:
        asked = clock.now
        for n in ("q0", "q1", "q2"):
            resolver.addresses(f"{n}.test")  # two threads take q0 and q1; q2 waits its turn
        wait_taken(lookups, ("q1.test", BOTH))
        clock.now = taken = asked + 0.045
        releases["q0"]()  # q0 answers, its thread takes q2 now
        wait_taken(lookups, ("q2.test", BOTH))
        wait_answers(resolver, 1)
        clock.now = asked + RESOLUTION_DELAY
        resolver.advance()  # 50 ms since the three were asked: q1 apart, q2 in progress 5 ms only
        wait_taken(lookups, ("q1.test", V4))
        assert resolver._names["q1.test"].apart and not resolver._names["q2.test"].apart
        assert resolver.due() == taken + RESOLUTION_DELAY
        clock.now = taken + RESOLUTION_DELAY
        resolver.advance()
        wait_taken(lookups, ("q2.test", V4))
    finally:
        for release in releases.values():
            release()
        resolver.close()


def test_an_answer_posted_before_the_delay_is_taken_before_judging_the_name_slow(clock: Clock) -> None:
    """The loop may be busy past the delay while the answer waits for it (its wake-up unread):
    the name is answered, not slow, and is not asked apart."""
    lookups = Lookups({("f.test", V4): ("10.0.0.7",)})
    resolver = Resolver(timeout=10, clock=clock, lookup=lookups)
    try:
        resolver.addresses("f.test")
        poller = select.poll()
        poller.register(resolver.fileno(), select.POLLIN)
        assert poller.poll(5000), "no answer within 5 s"  # posted, not taken
        clock.now += RESOLUTION_DELAY
        assert resolver.advance() == ["f.test"]
        assert resolver.addresses("f.test")[1] == ("10.0.0.7",)
        time.sleep(0.05)  # (a lookup asked apart would show by now)
        assert lookups.asked == [("f.test", BOTH)]
    finally:
        resolver.close()


def test_ipv6_answer_is_used_at_once(clock: Clock) -> None:
    lookups = Lookups({("c.test", V6): ("fd00::3",), ("c.test", V4): ("10.0.0.3",)})
    release = lookups.hold("c.test", V4)
    resolver = Resolver(timeout=10, clock=clock, lookup=lookups)
    try:
        resolver.addresses("c.test")
        wait_taken(lookups, ("c.test", BOTH))
        clock.now += RESOLUTION_DELAY
        resolver.advance()
        wait_answers(resolver, 1)
        assert resolver.addresses("c.test")[1] == ("[fd00::3]",)
        release()
        wait_answers(resolver, 2)
        assert resolver.addresses("c.test")[1] == ("[fd00::3]", "10.0.0.3")
    finally:
        resolver.close()


def test_a_failed_lookup_for_both_asks_each_family_at_once(clock: Clock) -> None:
    """A temporary failure (SERVFAIL, a timeout) may be one family's: the other is asked alone."""
    lookups = Lookups({("e.test", BOTH): socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"),
                       ("e.test", V4): ("10.0.0.5",)})
    resolver = Resolver(timeout=10, clock=clock, lookup=lookups)
    try:
        resolver.addresses("e.test")
        wait_answers(resolver, 3)  # the failure, then each family's: no time passes, no delay
        assert resolver.addresses("e.test")[1] == ("10.0.0.5",)
        assert lookups.asked[0] == ("e.test", BOTH) and set(lookups.asked[1:]) == {("e.test", V4), ("e.test", V6)}
    finally:
        resolver.close()


def test_a_name_that_does_not_exist_fails_once_and_is_remembered(clock: Clock) -> None:
    gone = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    lookups = Lookups({("gone.test", V4): gone, ("gone.test", V6): gone})
    resolver = Resolver(timeout=10, negative_ttl=30, clock=clock, lookup=lookups)
    try:
        resolver.addresses("gone.test")
        wait_answers(resolver, 1)
        _, failure = resolver.addresses("gone.test")
        assert isinstance(failure, str) and "Could not resolve host: gone.test" in failure
        clock.now += 29
        resolver.advance()
        assert resolver.addresses("gone.test")[1] == failure  # from the cache: nothing asked
        assert lookups.asked == [("gone.test", BOTH)]
        clock.now += 2  # past the negative TTL: asked again
        assert resolver.addresses("gone.test") == (0, None)
    finally:
        resolver.close()


def test_a_lookup_that_never_answers_times_out(clock: Clock) -> None:
    lookups = Lookups({})
    release_v4 = lookups.hold("slow.test", V4)
    release_v6 = lookups.hold("slow.test", V6)
    resolver = Resolver(timeout=2, clock=clock, lookup=lookups)
    try:
        resolver.addresses("slow.test")
        clock.now += 2
        assert resolver.advance() == ["slow.test"]
        assert resolver.addresses("slow.test")[1] == "Resolving timed out after 2000 ms"
    finally:
        release_v4()
        release_v6()
        resolver.close()


def threads(resolver: Resolver) -> int:
    return sum(pool.threads for pool in resolver._pools.values())


def test_quick_answers_take_few_threads(clock: Clock) -> None:
    """Names answered at once (/etc/hosts, a cache) need no more threads than a family starts with:
    more would only contend with the event loop for the GIL."""
    answers: dict[tuple[str, int], tuple[str, ...] | OSError] = {}
    for i in range(200):
        answers[(f"q{i}.test", V4)] = (f"10.0.2.{i % 250}",)
        answers[(f"q{i}.test", V6)] = (f"fd00::2:{i}",)
    resolver = Resolver(timeout=10, clock=clock, lookup=Lookups(answers, work=0.002))
    try:
        for i in range(200):
            resolver.addresses(f"q{i}.test")
        wait_answers(resolver, 200)
        assert threads(resolver) <= 2
    finally:
        resolver.close()


def test_lookups_stuck_on_the_network_hold_no_other_name(clock: Clock) -> None:
    """Each pool starts with few threads; lookups in progress too long get companions, so a quick
    name queued behind slow ones is answered (the loop's advance() runs the check)."""
    lookups = Lookups({("quick.test", V4): ("10.0.0.9",), ("quick.test", V6): ("fd00::9",)})
    slow = [f"slow{i}.test" for i in range(6)]
    releases = [lookups.hold(name, family) for name in slow for family in (V4, V6)]
    resolver = Resolver(timeout=10, clock=clock, lookup=lookups)
    try:
        for name in [*slow, "quick.test"]:
            resolver.addresses(name)
        poller = select.poll()
        poller.register(resolver.fileno(), select.POLLIN)
        answered: list[str] = []
        for _ in range(20):
            due = resolver.due()
            assert due is not None, "nothing left to check while questions wait"
            clock.now = max(clock.now, due)
            resolver.advance()
            if poller.poll(100):
                answered += resolver.answered()
            if resolver.addresses("quick.test")[1] == ("[fd00::9]", "10.0.0.9"):
                break
        assert resolver.addresses("quick.test")[1] == ("[fd00::9]", "10.0.0.9"), \
            f"{threads(resolver)} threads, answered {answered}"
    finally:
        for release in releases:
            release()
        resolver.close()


def test_a_slow_network_gets_a_thread_for_each_waiting_question(clock: Clock) -> None:
    """When every thread is stuck (a slow DNS server), one check starts a thread for each question
    waiting: names are not answered a few at a time while the pool grows."""
    lookups = Lookups({})
    slow = [f"late{i}.test" for i in range(10)]
    releases = [lookups.hold(name, family) for name in slow for family in (V4, V6)]
    resolver = Resolver(timeout=10, clock=clock, lookup=lookups)
    try:
        for name in slow:
            resolver.addresses(name)
        for name in slow[:2]:
            wait_taken(lookups, (name, BOTH))
        both = resolver._pools[BOTH]
        assert both.threads == 2
        clock.now += 0.5
        resolver.advance()
        assert both.threads == 10
    finally:
        for release in releases:
            release()
        resolver.close()


def test_expired_answers_keep_serving_while_refreshed(clock: Clock) -> None:
    lookups = Lookups({("d.test", V4): ("10.0.0.4",), ("d.test", V6): ("fd00::4",)})
    resolver = Resolver(timeout=10, ttl=60, clock=clock, lookup=lookups)
    try:
        resolver.addresses("d.test")
        wait_answers(resolver, 1)
        generation, addresses = resolver.addresses("d.test")
        assert addresses == ("[fd00::4]", "10.0.0.4")
        lookups.answers[("d.test", V4)] = ("10.0.0.5",)
        clock.now += 61
        assert resolver.addresses("d.test") == (generation, addresses)  # stale, not waiting
        wait_answers(resolver, 1)
        new_generation, addresses = resolver.addresses("d.test")
        assert addresses == ("[fd00::4]", "10.0.0.5") and new_generation > generation
        assert lookups.asked == [("d.test", BOTH)] * 2
    finally:
        resolver.close()


def test_closing_with_a_lookup_in_progress_returns_at_once(clock: Clock) -> None:
    lookups = Lookups({})
    release = lookups.hold("stuck.test", V6)
    resolver = Resolver(timeout=10, clock=clock, lookup=lookups)
    resolver.addresses("stuck.test")
    resolver.close()  # the stuck thread must not write to a closed (or reused) descriptor
    release()


def test_past_its_bound_it_forgets_settled_names_not_pending_ones(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    """A crawl over very many names keeps the cache bounded; a name whose answers are awaited is
    kept (jobs wait on it), and a name asked again never reuses a generation already handed out."""
    monkeypatch.setattr("multifetch.transports._resolver.MAX_NAMES", 3)
    answers: dict[tuple[str, int], tuple[str, ...] | OSError] = {}
    for i in range(5):
        answers[(f"n{i}.test", V4)] = (f"10.0.1.{i}",)
        answers[(f"n{i}.test", V6)] = (f"fd00::{i}",)
    lookups = Lookups(answers)
    release = lookups.hold("pending.test", V4)
    release_v6 = lookups.hold("pending.test", V6)
    resolver = Resolver(timeout=10, clock=clock, lookup=lookups)
    try:
        resolver.addresses("pending.test")
        generations = set()
        for i in range(2):
            resolver.addresses(f"n{i}.test")
            wait_both_families(resolver, f"n{i}.test")
            generations.add(resolver.addresses(f"n{i}.test")[0])
        resolver.addresses("n2.test")  # the fourth name: the settled ones are forgotten
        assert set(resolver._names) == {"pending.test", "n2.test"}
        wait_both_families(resolver, "n2.test")
        resolver.addresses("n0.test")  # asked again
        wait_both_families(resolver, "n0.test")
        generation, addresses = resolver.addresses("n0.test")
        assert addresses == ("[fd00::0]", "10.0.1.0") and generation not in generations
    finally:
        release()
        release_v6()
        resolver.close()
