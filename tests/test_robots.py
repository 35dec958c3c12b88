"""``--robots`` / ``Client(robots=True)``: robots.txt fetched first, once per origin, and obeyed.

The rules in fake time (exact start times, no sockets), then against real servers on 127.0.0.1:
the target server's ``/robots.txt`` answers what a test sets (``server.robots``) and records
when each request arrived, so Crawl-delay spacing is measured where it matters.
"""

from __future__ import annotations

import itertools
import json
import random
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

import multifetch
from multifetch import Blocked, Limits, Request, RetryPolicy
from multifetch.engine._job import Job
from multifetch.engine._robots import MAX_AGE
from multifetch.engine._scheduler import Scheduler
from multifetch.testing import Answer, FakeTransport, TargetServer

from helpers import jsonl, mf

A, B = "http://a.test", "http://b.test"
AGENT = "multifetch/test"
RULES = b"User-agent: *\nDisallow: /private\n\nUser-agent: other-bot\nDisallow: /\n"


def run(urls: list[str], answers: dict[str, Answer | list[Answer]], *, limits: Limits | None = None,
        retry: RetryPolicy | None = None, give_up_after: float = 100_000.0) -> tuple[list[Job], FakeTransport]:
    fake = FakeTransport(answers, give_up_after=give_up_after)
    scheduler = Scheduler(iter([Request(u) for u in urls]), fake, limits=limits or Limits(),
                          retry=retry or RetryPolicy(retries=0), rng=random.Random(3), clock=fake.clock,
                          wall=fake.clock.wall, robots_agent=AGENT)
    jobs: list[Job] = []

    def publish() -> None:
        while scheduler.handoff:
            jobs.append(scheduler.handoff.popleft())
        scheduler.taken()

    scheduler.drive(publish)
    publish()
    assert sorted(int(job.id) for job in jobs) == list(range(len(urls)))  # one record per input, no other
    return jobs, fake


def by_url(jobs: list[Job]) -> dict[str, Job]:
    return {job.request.url: job for job in jobs}


# -- the rules, in fake time -----------------------------------------------------------------------


def test_robots_txt_goes_first_and_disallowed_urls_are_never_requested() -> None:
    urls = [f"{A}/1", f"{A}/private/2", f"{A}/3", f"{B}/private/4"]
    jobs, fake = run(urls, {f"{A}/robots.txt": Answer(body=RULES), f"{B}/robots.txt": Answer(status=404)})
    started = [start.url for start in fake.starts]
    assert started[0] == f"{A}/robots.txt" and f"{B}/robots.txt" in started
    assert started.index(f"{A}/robots.txt") < started.index(f"{A}/1")
    assert f"{A}/private/2" not in started
    done = by_url(jobs)
    assert done[f"{A}/private/2"].error_kind == "robots_disallowed"
    assert done[f"{A}/private/2"].attempt == 0
    assert "robots.txt disallows it for multifetch/test" in done[f"{A}/private/2"].error_message
    assert done[f"{A}/1"].status == done[f"{A}/3"].status == 200
    assert done[f"{B}/private/4"].status == 200  # 404: no robots.txt, nothing disallowed


def test_crawl_delay_paces_the_host_from_the_robots_txt_request_on() -> None:
    rules = b"User-agent: *\nCrawl-delay: 2\n"
    _jobs, fake = run([f"{A}/{i}" for i in range(4)] + [f"{B}/{i}" for i in range(3)],
                     {f"{A}/robots.txt": Answer(body=rules, latency=0.5)})
    a = [start.at for start in fake.starts_of(A)]
    assert a[0] == 0.0  # robots.txt; it ends at 0.5 and the delay counts from there
    assert a[1:] == pytest.approx([2.5, 4.5, 6.5, 8.5])
    assert [start.at for start in fake.starts_of(B)][-1] < 0.1  # another host is not held back


def test_crawl_delay_never_speeds_up_a_slower_rate_the_user_set() -> None:
    rules = b"User-agent: *\nCrawl-delay: 1\n"
    _, fake = run([f"{A}/{i}" for i in range(3)], {f"{A}/robots.txt": Answer(body=rules)},
                  limits=Limits(per_host_rate="1/5s"))
    a = [start.at for start in fake.starts_of(A)]
    assert a[2] - a[1] == pytest.approx(5.0)
    assert a[3] - a[2] == pytest.approx(5.0)


@pytest.mark.parametrize(("answer", "allowed"), [
    (Answer(status=404), True),
    (Answer(status=403), True),  # RFC 9309 §2.3.1.3: any 4xx means "unavailable": allow all
    (Answer(status=429), False),  # treated as the server being overloaded: unreachable
    (Answer(status=500), False),
    (Answer(status=503), False),
    (Answer(error="connect"), False),
    (Answer(error="timeout"), False),
    (Answer(error="too_many_redirects"), True),  # §2.3.1.2: may be taken as unavailable
])
def test_what_a_robots_txt_answer_allows(answer: Answer, allowed: bool) -> None:
    jobs, fake = run([f"{A}/1", f"{A}/2"], {f"{A}/robots.txt": answer})
    kinds = {job.error_kind for job in jobs}
    if allowed:
        assert kinds == {None} and len(fake.starts) == 3
    else:
        assert kinds == {"robots_disallowed"} and len(fake.starts) == 1
        assert "the whole host is disallowed" in jobs[0].error_message


def test_robots_txt_is_retried_as_any_request_before_it_counts() -> None:
    answers: dict[str, Answer | list[Answer]] = {f"{A}/robots.txt": [Answer(status=503), Answer(body=RULES)]}
    jobs, fake = run([f"{A}/1", f"{A}/private"], answers, retry=RetryPolicy(retries=2))
    assert [start.url for start in fake.starts][:2] == [f"{A}/robots.txt"] * 2
    assert {job.request.url: job.error_kind for job in jobs} == {f"{A}/1": None, f"{A}/private": "robots_disallowed"}


def test_robots_txt_is_fetched_again_after_a_day_while_the_old_rules_apply() -> None:
    rules = b"User-agent: *\nCrawl-delay: 10000\nDisallow: /private\n"
    count = 12  # 120,000 fake seconds: past a day
    answers: dict[str, Answer | list[Answer]] = {f"{A}/robots.txt": [Answer(body=rules), Answer(status=500)]}
    jobs, fake = run([f"{A}/{i}" for i in range(count)] + [f"{A}/private"], answers, give_up_after=200_000)
    fetches = [start.at for start in fake.starts if start.url.endswith("/robots.txt")]
    assert len(fetches) == 2 and fetches[1] >= MAX_AGE
    # the second fetch failed (500): the rules read before still hold, the run goes on
    assert sum(job.status == 200 for job in jobs) == count
    assert by_url(jobs)[f"{A}/private"].error_kind == "robots_disallowed"


def test_without_robots_no_robots_txt_is_asked_for() -> None:
    fake = FakeTransport({})
    scheduler = Scheduler(iter([Request(f"{A}/1")]), fake, limits=Limits(), retry=RetryPolicy(retries=0),
                          clock=fake.clock, wall=fake.clock.wall)
    scheduler.drive(lambda: None)
    assert [start.url for start in fake.starts] == [f"{A}/1"]


# -- real servers ----------------------------------------------------------------------------------


@pytest.fixture
def polite_site() -> Iterator[TargetServer]:
    with TargetServer() as server:
        server.robots = (200, "User-agent: *\nDisallow: /private\nCrawl-delay: 0.25\n")
        yield server


def paths(server: TargetServer) -> list[str]:
    return [p for host in list(server.stats.hosts.values()) for p in host.paths]


def assert_paced(arrivals: list[float], delay: float) -> None:
    """Requests started ``delay`` apart, as the server saw them arrive: a request sent a little late
    (a busy machine) may arrive closer to the next one, which keeps its own time, so each gap is
    only nearly ``delay`` while the k-th request is never early."""
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert min(gaps) >= 0.8 * delay, gaps
    assert all(t - arrivals[0] >= k * delay - 0.02 for k, t in enumerate(arrivals)), gaps


def test_cli_robots_allow_disallow_and_crawl_delay_measured_at_the_server(
        polite_site: TargetServer, tmp_path: Path) -> None:
    src = tmp_path / "urls.txt"
    src.write_text("".join(f"{polite_site.url}/item/{i}\n" for i in range(5)) + f"{polite_site.url}/private/a\n")
    out, summary = tmp_path / "out.jsonl", tmp_path / "summary.json"
    proc = mf("fetch", str(src), "-o", str(out), "--robots", "--summary-json", str(summary), "-q")
    assert proc.returncode == 1, proc.stderr  # a disallowed input is a record with an error
    records = {r["url"].rsplit("/", 2)[-2] + "/" + r["url"].rsplit("/", 1)[-1]: r for r in jsonl(out)}
    assert records["private/a"]["error"]["kind"] == "robots_disallowed"
    assert records["private/a"]["attempts"] == 0
    assert all(records[f"item/{i}"]["status"] == 200 for i in range(5))
    assert paths(polite_site).count("/robots.txt") == 1
    assert "/private/a" not in paths(polite_site)
    arrivals = polite_site.stats.arrivals()
    assert len(arrivals) == 6  # robots.txt, then one request every 0.25 s
    assert_paced(arrivals, 0.25)
    figures = json.loads(summary.read_text())
    assert figures["robots_disallowed"] == 1


def test_robots_txt_that_fails_with_5xx_disallows_the_host_and_4xx_allows_it(tmp_path: Path) -> None:
    with TargetServer() as failing, TargetServer() as missing:
        failing.robots = (503, "down for maintenance\n")
        missing.robots = None  # 404
        src = tmp_path / "urls.txt"
        src.write_text(f"{failing.url}/item/1\n{failing.url}/item/2\n{missing.url}/item/3\n")
        out = tmp_path / "out.jsonl"
        proc = mf("fetch", str(src), "-o", str(out), "--robots", "--retries", "0", "-q")
        assert proc.returncode == 1, proc.stderr
        kinds = {r["url"].rsplit("/", 1)[-1]: (r["error"] or {}).get("kind") for r in jsonl(out)}
        assert kinds == {"1": "robots_disallowed", "2": "robots_disallowed", "3": None}
        assert paths(failing) == ["/robots.txt"]
        assert paths(missing) == ["/robots.txt", "/item/3"]


def test_an_unreachable_host_is_disallowed_without_a_request(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    results = list(multifetch.fetch([f"http://127.0.0.1:{port}/a"], robots=True, retries=0))
    assert results[0].error is not None and results[0].error.kind == "robots_disallowed"
    assert "could not be fetched (connect" in results[0].error.message


def test_api_robots_and_a_single_request_raises_blocked(polite_site: TargetServer, tmp_path: Path) -> None:
    with multifetch.Client(robots=True, bodies=str(tmp_path)) as client:
        assert client.get(f"{polite_site.url}/item/1").status_code == 200
        with pytest.raises(Blocked) as caught:
            client.get(f"{polite_site.url}/private/x")
    assert caught.value.kind == "robots_disallowed"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0"]  # robots.txt is read, never saved


def test_robots_with_two_engine_processes_fetches_each_robots_txt_once(tmp_path: Path) -> None:
    with TargetServer() as one, TargetServer() as two:
        for server in (one, two):
            server.robots = (200, "User-agent: *\nDisallow: /private\nCrawl-delay: 0.2\n")
        # a host's URLs one after the other: shared out by load, they would go to both processes
        urls = [f"{s.url}/item/{i}" for s in (one, two) for i in range(4)] + [f"{one.url}/private/z"]
        results = list(multifetch.fetch(urls, robots=True, processes=2, bodies="hash"))
        assert sum(r.status == 200 for r in results) == 8
        assert [r.error.kind for r in results if r.error] == ["robots_disallowed"]
        for server in (one, two):
            assert paths(server).count("/robots.txt") == 1
            assert_paced(server.stats.arrivals(), 0.2)


def test_robots_with_the_requests_engine(polite_site: TargetServer) -> None:
    results = list(multifetch.fetch([f"{polite_site.url}/item/1", f"{polite_site.url}/private/2"],
                                    robots=True, transport="requests"))
    assert sorted(str(r.error.kind if r.error else r.status) for r in results) == ["200", "robots_disallowed"]


def test_robots_is_refused_on_a_cluster() -> None:
    with pytest.raises(multifetch.UsageError, match="robots, cluster"):
        multifetch.Client(robots=True, cluster="local:1")
