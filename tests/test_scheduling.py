"""The scheduling rules in fake time: limits, rate limits, Retry-After, backoff, the retry budget,
slow-down, dead hosts, the run's deadline, fairness and the frontier.

No sockets and no sleeps: the scheduler runs in this thread against ``FakeTransport``, whose
``poll`` moves a fake clock to the next scripted completion, so every start time is exact and a
run of fake minutes takes milliseconds. The real-server tests (test_politeness.py,
test_frontier.py) stay as the integration layer.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Callable, Sequence
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest

from multifetch import HostHealth, Limits, Request, RetryPolicy
from multifetch.engine import _frontier as frontier_module
from multifetch.engine import _idle_hosts as idle_hosts
from multifetch.engine._frontier import PROBE, TURN
from multifetch.engine._job import Job
from multifetch.engine._scheduler import Scheduler
from multifetch.testing import Answer, FakeClock, FakeTransport, Start

A, B, C = "http://a.test", "http://b.test", "http://c.test"
NO_RETRIES = RetryPolicy(retries=0)


def urls(host: str, count: int) -> list[str]:
    return [f"{host}/{i}" for i in range(count)]


class Run:
    """A whole run, driven to its end in this thread; ``jobs`` in the order they finished."""

    def __init__(self, inputs: Sequence[str | Request], fake: FakeTransport, *, limits: Limits | None = None,
                 retry: RetryPolicy = NO_RETRIES, seed: int = 7, **options: Any) -> None:
        self.fake = fake
        requests = [Request(item) if isinstance(item, str) else item for item in inputs]
        self.scheduler = Scheduler(iter(requests), fake, limits=limits or Limits(), retry=retry,
                                   rng=random.Random(seed), clock=fake.clock, wall=fake.clock.wall, **options)
        self.jobs: list[Job] = []
        self.on_disk = 0  # the most requests the frontier held on disk at once
        self.scheduler.drive(self._publish)
        self._publish()
        assert len(self.jobs) == len({job.id for job in self.jobs}) == len(inputs)  # one record per input

    def _publish(self) -> None:
        handoff = self.scheduler.handoff
        while handoff:
            self.jobs.append(handoff.popleft())
        self.scheduler.taken()
        self.on_disk = max(self.on_disk, self.scheduler.statistics().on_disk)

    @property
    def ended_at(self) -> float:
        return self.fake.clock.now

    def outcomes(self) -> Counter[str]:
        return Counter(job.error_kind or str(job.status) for job in self.jobs)


def latency(by_host: dict[str, float], **answer: Any) -> Callable[[Request, int], Answer]:
    """Every request answers ``answer`` after its host's latency."""
    def script(request: Request, attempt: int) -> Answer:
        return Answer(latency=by_host[request.url.rsplit("/", 1)[0]], **answer)
    return script


def by_position(answer: Callable[[int], Answer]) -> Callable[[Request, int], Answer]:
    """Each request answers what ``answer`` says for its number (``/7``: 7)."""
    return lambda request, attempt: answer(int(request.url.rsplit("/", 1)[1]))


def times(starts: list[Start]) -> list[float]:
    return [round(start.at, 6) for start in starts]


# -- limits ----------------------------------------------------------------------------------------

def test_per_host_and_global_limits_hold_and_are_used_in_full() -> None:
    fake = FakeTransport(latency({A: 1.0, B: 1.0, C: 1.0}))
    run = Run(urls(A, 20) + urls(B, 20) + urls(C, 20), fake, limits=Limits(concurrency=5, per_host=2))
    assert fake.peak == 5
    assert [fake.host_peak(host) for host in (A, B, C)] == [2, 2, 2]
    assert run.ended_at == pytest.approx(60 / 5)  # five at a time, never one less
    assert run.outcomes() == {"200": 60}


def test_a_host_limit_overrides_the_per_host_limit() -> None:
    fake = FakeTransport(latency({A: 1.0, B: 1.0}))
    Run(urls(A, 12) + urls(B, 12), fake, limits=Limits(per_host=4, host_limits={"b.test": 1}))
    assert (fake.host_peak(A), fake.host_peak(B)) == (4, 1)
    assert times(fake.starts_of(B)) == [float(i) for i in range(12)]


# -- rate limits -----------------------------------------------------------------------------------

def test_a_burst_goes_at_once_then_the_rate_paces() -> None:
    fake = FakeTransport(latency({A: 0.001}))
    Run(urls(A, 12), fake, limits=Limits(rate=10, burst=5, per_host=64))
    assert times(fake.starts) == pytest.approx([0.0] * 5 + [0.1 * i for i in range(1, 8)])


def test_the_per_host_rate_paces_each_host_on_its_own() -> None:
    fake = FakeTransport(latency({A: 0.001, B: 0.001}))
    Run(urls(A, 5) + urls(B, 5), fake, limits=Limits(per_host_rate="2/s"))
    for host in (A, B):
        assert times(fake.starts_of(host)) == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0])


def test_the_global_rate_holds_over_all_hosts() -> None:
    fake = FakeTransport(latency({A: 0.001, B: 0.001}))
    Run(urls(A, 6) + urls(B, 6), fake, limits=Limits(rate=4))
    assert times(fake.starts) == pytest.approx([0.25 * i for i in range(12)])
    assert {start.host for start in fake.starts[:2]} == {A, B}


# -- Retry-After, backoff, the retry budget --------------------------------------------------------

@pytest.mark.parametrize("retry_after", ["5", formatdate(FakeClock(6.0).wall(), usegmt=True)])
def test_retry_after_pauses_its_whole_host_and_no_other(retry_after: str) -> None:
    # a.test/0 answers 429 at t=1 asking for 5 s (as seconds, or as a date of the fake wall clock)
    throttled = Answer(status=429, headers={"Retry-After": retry_after}, latency=1.0)
    fake = FakeTransport({f"{A}/0": [throttled, Answer(latency=1.0)]}
                         | {url: Answer(latency=1.0) for url in urls(A, 12)[1:] + urls(B, 12)})
    run = Run(urls(A, 12) + urls(B, 12), fake, limits=Limits(per_host=2), retry=RetryPolicy(retries=1))
    a_starts = times(fake.starts_of(A))
    assert a_starts[:2] == [0.0, 0.0]
    assert all(t <= 1.0 or t >= 6.0 for t in a_starts), a_starts  # paused from 1 to 6
    retried = [s for s in fake.starts_of(A) if s.attempt == 2]
    assert [s.at for s in retried] == [pytest.approx(6.0)] and retried[0].url == f"{A}/0"
    assert [t for t in times(fake.starts_of(B)) if 1.0 < t < 6.0] == [2.0, 2.0, 3.0, 3.0, 4.0, 4.0, 5.0, 5.0]
    assert run.outcomes() == {"200": 24}


class OneASecond:
    """A host that takes a request only a second or more after the last one it took, and answers
    sooner ones 429 with Retry-After: 1 (nginx's limit_req at 1 r/s, no burst)."""

    def __init__(self) -> None:
        self.taken: list[float] = []

    def answer(self, now: float) -> Answer:
        if self.taken and now - self.taken[-1] < 1.0:
            return Answer(status=429, headers={"Retry-After": "1"}, latency=0.1)
        self.taken.append(now)
        return Answer(latency=0.1)


def test_a_host_that_takes_one_request_a_second_is_paced_to_it() -> None:
    """After its first refusals, requests go at the host's pace: nearly all are taken at the
    first try, and the twenty take about twenty seconds."""
    host = OneASecond()
    fake = FakeTransport(lambda request, attempt: host.answer(fake.clock.now))
    run = Run(urls(A, 20), fake, limits=Limits(per_host=4), retry=RetryPolicy(retries=5))
    assert run.outcomes() == {"200": 20}
    refused = len(fake.starts) - 20
    assert refused <= 4, refused  # the first burst (per_host 4 at once); then none
    assert run.ended_at < 24.0


def test_a_paced_host_keeps_its_pace_behind_hundreds_of_hosts() -> None:
    """The same host among 300 others with work: each time its pause or pace lets it start
    again it goes first, not behind every host waiting in line (there it got a request every
    five seconds, when a batch of hosts ran out of work)."""
    host = OneASecond()
    others = [f"http://h{i}.test" for i in range(300)]

    def answer(request: Request, attempt: int) -> Answer:
        return host.answer(fake.clock.now) if request.url.startswith(A) else Answer(latency=1.0)

    fake = FakeTransport(answer)
    specs = urls(A, 10) + [f"{other}/{k}" for k in range(5) for other in others]
    run = Run(specs, fake, limits=Limits(concurrency=8, per_host=2), retry=RetryPolicy(retries=5))
    assert run.outcomes() == {"200": 1510}
    assert host.taken[-1] < 15.0, host.taken  # ten requests at one a second, from the start
    assert run.ended_at == pytest.approx(1500 / 8, abs=3.0)  # the others kept every connection busy


def test_a_throttling_host_late_in_the_input_is_found_early() -> None:
    """A host that takes a request a second, first seen after 100 others with 20 requests each:
    every host's first requests go before the others' later ones, so its refusals come in the
    first seconds and its twenty seconds run beside the others' work, not after it (there, the
    hosts started one after another in the order they were seen and it ended at 43 s)."""
    host = OneASecond()
    others = [f"http://h{i}.test" for i in range(100)]

    def answer(request: Request, attempt: int) -> Answer:
        return host.answer(fake.clock.now) if request.url.startswith(A) else Answer(latency=0.1)

    fake = FakeTransport(answer)
    specs = [url for k in range(20) for url in [*(f"{other}/{k}" for other in others), f"{A}/{k}"]]
    run = Run(specs, fake, limits=Limits(concurrency=8, per_host=4), retry=RetryPolicy(retries=5))
    assert run.outcomes() == {"200": 2020}
    assert host.taken[0] < 5.0 and host.taken[-1] < 28.0, host.taken
    assert run.ended_at < 28.0  # the others' work alone takes 25 s


def test_hosts_with_nothing_left_are_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    """3,000 hosts, a request each but for one that comes back at the end: the frontier holds a
    few hundred hosts at a time, not every host seen, and the one that comes back is served."""
    monkeypatch.setattr(idle_hosts, "HOSTS_KEPT", 100)
    hosts = [f"http://h{i}.test" for i in range(3000)]
    fake = FakeTransport(latency(dict.fromkeys(hosts, 0.01)))
    held: list[int] = []

    class Watched(Run):
        def _publish(self) -> None:
            held.append(len(self.scheduler._frontier.hosts))
            super()._publish()

    run = Watched([f"{host}/x" for host in hosts] + [f"{hosts[0]}/again"], fake,
                  limits=Limits(concurrency=8, per_host=2), window=64)
    assert run.outcomes() == {"200": 3001}
    assert max(held) <= 300, max(held)


def test_the_window_grows_with_hosts_that_have_more_than_one_request() -> None:
    """The default window grows by ``WINDOW_PER_HOST`` for each host seen twice (so that its
    requests meet in its queue), not for hosts seen once: over a list of distinct hosts it stays
    at its base, and so do the hosts held for it."""
    many = [f"http://h{i}.test" for i in range(5000)]
    once = Run([f"{host}/x" for host in many], FakeTransport(latency(dict.fromkeys(many, 0.01))),
               limits=Limits(concurrency=8, per_host=2))
    assert once.scheduler._frontier.size == 1024
    few = many[:200]
    twice = Run([f"{host}/{k}" for k in range(5) for host in few], FakeTransport(latency(dict.fromkeys(few, 0.01))),
                limits=Limits(concurrency=8, per_host=2))
    assert twice.scheduler._frontier.size == frontier_module.WINDOW_PER_HOST * 200


def test_a_forgotten_host_is_not_one_that_learned_a_pace(monkeypatch: pytest.MonkeyPatch) -> None:
    """A host paced by its Retry-After, then idle while 500 others pass, keeps its pace when its
    requests come back: no second round of refusals."""
    monkeypatch.setattr(idle_hosts, "HOSTS_KEPT", 100)
    host = OneASecond()
    others = [f"http://h{i}.test" for i in range(500)]

    def answer(request: Request, attempt: int) -> Answer:
        return host.answer(fake.clock.now) if request.url.startswith(A) else Answer(latency=0.01)

    fake = FakeTransport(answer)
    specs = urls(A, 5) + [f"{other}/x" for other in others] + [f"{A}/later/{k}" for k in range(5)]
    run = Run(specs, fake, limits=Limits(concurrency=4, per_host=4), retry=RetryPolicy(retries=5), window=32)
    assert run.outcomes() == {"200": 510}
    refused = sum(start.host == A for start in fake.starts) - 10
    assert refused <= 3, refused  # the first burst only (per_host 4 at once)


def test_backoff_delays_follow_the_seeded_jitter_and_the_retry_count() -> None:
    fake = FakeTransport(latency({A: 0.0}, status=503))
    run = Run([f"{A}/x"], fake, retry=RetryPolicy(retries=3, backoff=1.0, backoff_max=3.0), seed=42,
              record_retries=True)
    rng = random.Random(42)
    delays = [rng.uniform(0.0, ceiling) for ceiling in (1.0, 2.0, 3.0)]  # 1, 2, then the cap
    starts = [start.at for start in fake.starts]
    assert [b - a for a, b in itertools.pairwise(starts)] == pytest.approx(delays)
    (job,) = run.jobs
    assert (job.attempt, job.status) == (4, 503)
    assert [r["delay"] for r in job.retries or []] == [round(d, 3) for d in delays]


@pytest.mark.parametrize(("answer", "method", "attempts"), [
    (Answer(status=404), "GET", 1),
    (Answer(status=503), "POST", 1),  # not idempotent
    (Answer(error="tls"), "GET", 1),
    (Answer(error="connect"), "GET", 3),
    (Answer(error="timeout"), "DELETE", 3),
])
def test_what_retries(answer: Answer, method: str, attempts: int) -> None:
    fake = FakeTransport(lambda request, attempt: answer)
    run = Run([Request(f"{A}/x", method=method)], fake, retry=RetryPolicy(retries=2))
    assert [job.attempt for job in run.jobs] == [attempts]


def test_the_retry_budget_bounds_the_retries_to_a_failing_host() -> None:
    fake = FakeTransport(latency({A: 0.1, B: 0.1}, status=500))
    run = Run(urls(A, 10) + urls(B, 40), fake, retry=RetryPolicy(retries=5, backoff=0.1, budget=0.2, budget_min=3))
    tries = Counter(start.host for start in fake.starts if start.attempt > 1)
    assert tries[A] == 3  # max(budget_min, 0.2 * 10)
    assert 3 < tries[B] <= 0.2 * 40
    assert run.scheduler.statistics().retries == tries[A] + tries[B]


# -- adaptive slow-down --------------------------------------------------------------------------

def test_429_and_503_slow_a_host_down_and_answers_bring_it_back() -> None:
    fake = FakeTransport(by_position(lambda i: Answer(status=503 if i < 8 else 200, latency=1.0)))
    Run(urls(A, 400), fake, limits=Limits(per_host=8))
    starts = fake.starts
    assert [s.host_in_flight for s in starts[:8]] == list(range(1, 9))
    after = [s for s in starts if s.at >= 1.0]
    # eight 503s: down to one connection; each success gives back 2 % of the limit, so the
    # seventh (0.125 + 7 * 0.02 >= 2/8) opens a second connection
    assert [(s.at, s.host_in_flight) for s in after[:9]] == [(float(t), 1) for t in range(1, 9)] + [(8.0, 2)]
    assert max(s.host_in_flight for s in after) == 8  # answers gave it all back, up to the full limit


def test_without_adaptive_slow_down_the_limit_stays() -> None:
    fake = FakeTransport(latency({A: 1.0}, status=503))
    Run(urls(A, 32), fake, limits=Limits(per_host=8), health=HostHealth(adaptive=False))
    assert [s.host_in_flight for s in fake.starts if s.at >= 1.0][:8] == list(range(1, 9))


def test_a_slow_down_halves_the_host_rate() -> None:
    fake = FakeTransport(by_position(lambda i: Answer(status=429 if i == 0 else 200, latency=0.0)))
    Run(urls(A, 4), fake, limits=Limits(per_host_rate=10))
    # after the 429, 5/s; the answer after it gives back 2 % of the rate (5.2/s)
    assert times(fake.starts) == pytest.approx([0.0, 0.1, 0.3, 0.3 + 1 / 5.2])


# -- dead hosts ------------------------------------------------------------------------------------

def test_connect_failures_pause_a_host_then_give_it_up() -> None:
    fake = FakeTransport(lambda request, attempt: Answer(error="connect", latency=0.01)
                         if request.url.startswith(A) else Answer(latency=1.0))
    run = Run(urls(A, 40) + urls(B, 30), fake, limits=Limits(per_host=1),
              health=HostHealth(failures=5, cooldown=10.0, pauses=2))
    a_starts = times(fake.starts_of(A))
    assert a_starts == pytest.approx([0.01 * i for i in range(5)] + [10.05 + 0.01 * i for i in range(5)]
                                     + [20.1 + 0.01 * i for i in range(5)])  # two pauses of 10 s
    assert run.outcomes() == {"connect": 15, "host_unavailable": 25, "200": 30}
    assert times(fake.starts_of(B)) == [float(i) for i in range(30)]  # never held up


# -- the run's deadline ----------------------------------------------------------------------------

def test_the_deadline_cancels_what_is_in_flight_queued_and_unread() -> None:
    fake = FakeTransport(latency({A: 2.0}))
    run = Run(urls(A, 40), fake, limits=Limits(concurrency=2, per_host=2), max_time=5.0, window=8)
    assert run.ended_at == pytest.approx(5.0)
    assert max(times(fake.starts)) == 4.0
    assert run.outcomes() == {"200": 4, "cancelled": 36}
    assert len(fake.aborted) == 2 and not fake.in_flight()


def test_a_retry_that_would_end_past_the_deadline_keeps_its_answer() -> None:
    fake = FakeTransport(latency({A: 1.0}, status=503, headers={"Retry-After": "30"}))
    run = Run([f"{A}/x"], fake, retry=RetryPolicy(retries=3), max_time=10.0)
    (job,) = run.jobs
    assert (job.attempt, job.status, run.ended_at) == (1, 503, 1.0)


# -- fairness and the frontier ---------------------------------------------------------------------

def test_hosts_take_turns() -> None:
    """One connection at a time: each host's first requests come first, in turn (``PROBE`` on
    one connection: they tell a slow or throttling host while its queue is ahead); then a host
    keeps the connection for its turn (the connection its last request freed serves the next,
    no new handshake), then the next host has it; turns go round."""
    fake = FakeTransport(latency({A: 1.0, B: 1.0, C: 1.0}))
    Run(urls(A, 20) + urls(B, 20) + urls(C, 20), fake, limits=Limits(concurrency=1, per_host=1))
    turn = TURN + 1  # one from its place in the round, TURN more on the connection it freed
    probes = [A] * PROBE + [B] * PROBE  # C's probe runs on into its turn: no host is left to probe
    assert [s.host for s in fake.starts] == probes + ([C] * turn + [A] * turn + [B] * turn) * 2 + [C] * (20 - 2 * turn)


def test_hosts_with_a_rate_take_turns_too() -> None:
    """A host with a pace goes first when its token comes, but for a turn, like the others: with
    a rate that never binds, one connection, three hosts, they alternate (not 20 of one host,
    then 20 of the next)."""
    fake = FakeTransport(latency({A: 1.0, B: 1.0, C: 1.0}))
    Run(urls(A, 20) + urls(B, 20) + urls(C, 20), fake,
        limits=Limits(concurrency=1, per_host=1, per_host_rate=100))
    turn = TURN + 1
    assert [s.host for s in fake.starts] == ([A] * turn + [B] * turn + [C] * turn) * 2 + [A, A, B, B, C, C]


def test_a_freed_connection_serves_its_hosts_next_request() -> None:
    """Hosts' requests interleaved, more hosts than connections: a request that ends hands its
    connection to its host's next one, so a host's requests run back to back on it, in two
    stretches at most (its first ``PROBE``, then the rest), not spread over the run one by one
    (strict turns: five gaps between a host's six requests)."""
    hosts = [f"http://h{i}.test" for i in range(40)]
    fake = FakeTransport(latency(dict.fromkeys(hosts, 1.0)))
    run = Run([f"{host}/{k}" for k in range(6) for host in hosts], fake, limits=Limits(concurrency=8, per_host=2))
    starts: dict[str, list[float]] = {}
    for start in fake.starts:
        starts.setdefault(start.host, []).append(start.at)
    for at in starts.values():
        at.sort()
        assert sum(later - earlier > 1.0 + 1e-6 for earlier, later in itertools.pairwise(at)) <= 1
    assert fake.peak == 8 and run.ended_at == pytest.approx(240 / 8)  # every connection kept busy


def test_first_answers_slowed_by_the_start_make_no_host_look_slow() -> None:
    """A host's first answer also waits for its name's lookup and its connection, more so the
    later it comes at the start of a run (here 0.2 s, 10 ms more for each host before it; 0.1 s
    on an open connection). Judged by such answers against the run's first few, hosts each took
    a second connection they did not need (each a connect, a handshake over TLS): no host has two
    transfers at once before the run's last half, when hosts with work left do use their limit."""
    hosts = [f"http://h{i:03d}.test" for i in range(100)]
    order = {host: index for index, host in enumerate(hosts)}

    def answer(request: Request, attempt: int) -> Answer:
        host, _, number = request.url.rpartition("/")
        return Answer(latency=0.2 + 0.01 * order[host] if int(number) < len(hosts) else 0.1)

    fake = FakeTransport(answer)
    run = Run([f"{host}/{k * len(hosts) + order[host]}" for k in range(10) for host in hosts], fake,
              limits=Limits(concurrency=32, per_host=4))
    assert fake.peak == 32
    assert [s for s in fake.starts if s.at < run.ended_at / 2 and s.host_in_flight > 1] == []


def test_a_host_on_one_connection_never_paces_the_others(tmp_path: Path) -> None:
    """Nine in ten requests for a host on one connection (10 s each), a tiny window: the fast
    host's requests are read past the slow one's backlog, which waits on disk, in order."""
    fake = FakeTransport(latency({A: 10.0, B: 0.01}))
    slow, fast = iter(urls(A, 270)), iter(urls(B, 30))
    inputs = [next(slow) if i % 10 else next(fast) for i in range(300)]
    run = Run(inputs, fake, limits=Limits(concurrency=16, per_host=8, host_limits={"a.test": 1}),
              window=16, spill_folder=str(tmp_path))
    assert run.on_disk > 0
    assert max(s.at for s in fake.starts_of(B)) < 0.1  # every fast request started at once, in fake time
    assert [s.position for s in fake.starts_of(A)] == sorted(s.position for s in fake.starts_of(A))
    assert fake.host_peak(A) == 1 and run.ended_at == pytest.approx(270 * 10.0)
    assert list(tmp_path.iterdir()) == []  # the frontier's file was unlinked at once


def test_a_sorted_input_holds_the_other_hosts_for_seconds_not_for_the_first_hosts_backlog(tmp_path: Path) -> None:
    """3,000 requests of a host on one connection (10 s each) come first, then a fast host's: the
    first looks past the slow backlog find nothing, the later ones look further and find them."""
    fake = FakeTransport(latency({A: 10.0, B: 0.01}), give_up_after=1e9)
    run = Run([*urls(A, 3000), *urls(B, 100)], fake,
              limits=Limits(concurrency=64, per_host=8, host_limits={"a.test": 1}), spill_folder=str(tmp_path))
    assert max(s.at for s in fake.starts_of(B)) < 2.0  # not the 3,000 × 10 s of the slow host
    assert run.on_disk > 0


def test_a_run_over_one_host_reads_ahead_only_a_few_windows(tmp_path: Path) -> None:
    """Looks past one host's backlog find nothing: they become rarer (0.5 s, then twice as long)."""
    fake = FakeTransport(latency({A: 0.05}))
    run = Run(urls(A, 50_000), fake, limits=Limits(concurrency=64, per_host=8), spill_folder=str(tmp_path))
    assert run.on_disk <= 8 * 1024  # 312 s of fake time: ten looks, the first in memory
    assert run.ended_at == pytest.approx(50_000 / 8 * 0.05)
