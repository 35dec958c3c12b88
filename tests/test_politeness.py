"""Limits, rate limits, Retry-After, parking, adaptive slow-down, retry budget, dead hosts."""

from __future__ import annotations

import multifetch
from multifetch import Client, HostHealth
from multifetch.testing import TargetServer


def host_of(server: TargetServer) -> str:
    return f"127.0.0.1:{server.port}"


def max_in_window(times: list[float], width: float = 1.0) -> int:
    times = sorted(times)
    best = 0
    j = 0
    for i, t in enumerate(times):
        while times[j] <= t - width:
            j += 1
        best = max(best, i - j + 1)
    return best


def test_per_host_concurrency_holds(fresh_target: TargetServer, target2: TargetServer) -> None:
    target2.stats.reset()
    urls = [f"{s.url}/delay/0.03?i={i}" for i in range(60) for s in (fresh_target, target2)]
    results = list(multifetch.fetch(urls, concurrency=50, per_host=3))
    assert len(results) == 120 and all(r.status_code == 200 for r in results)
    assert fresh_target.stats.max_in_flight(host_of(fresh_target)) == 3
    assert target2.stats.max_in_flight(host_of(target2)) == 3


def test_host_limit_override(fresh_target: TargetServer) -> None:
    urls = [f"{fresh_target.url}/delay/0.05?i={i}" for i in range(40)]
    list(multifetch.fetch(urls, per_host=2, host_limits={host_of(fresh_target): 10}))
    assert fresh_target.stats.max_in_flight(host_of(fresh_target)) == 10


def test_global_concurrency_holds(fresh_target: TargetServer) -> None:
    urls = [f"{fresh_target.url}/delay/0.03?i={i}" for i in range(60)]
    list(multifetch.fetch(urls, concurrency=5, per_host=50))
    assert fresh_target.stats.max_in_flight(host_of(fresh_target)) == 5


def test_per_host_rate_holds_from_the_first_second(fresh_target: TargetServer) -> None:
    urls = [f"{fresh_target.url}/bytes/1?i={i}" for i in range(50)]
    results = list(multifetch.fetch(urls, per_host=16, per_host_rate="20/s"))
    assert all(r.status_code == 200 for r in results)
    arrivals = fresh_target.stats.arrivals(host_of(fresh_target))
    assert len(arrivals) == 50
    assert max_in_window(arrivals) <= 22  # the limit, +10 % for the server's clock


def test_global_rate_over_two_hosts(fresh_target: TargetServer, target2: TargetServer) -> None:
    target2.stats.reset()
    urls = [f"{s.url}/bytes/1?i={i}" for i in range(25) for s in (fresh_target, target2)]
    list(multifetch.fetch(urls, rate="20/s", per_host=16))
    arrivals = fresh_target.stats.arrivals(host_of(fresh_target)) + target2.stats.arrivals(host_of(target2))
    assert len(arrivals) == 50
    assert max_in_window(arrivals) <= 22


def test_retry_after_parks_without_blocking_other_hosts(
    fresh_target: TargetServer, target2: TargetServer
) -> None:
    target2.stats.reset()
    limited = f"{fresh_target.url}/retry-after/2?times=1&key=ra"
    others = [f"{target2.url}/delay/0.1?i={i}" for i in range(10)]
    with Client(concurrency=1, per_host=1, record_retries=True) as client:
        results = {r.url: r for r in client.stream([limited, *others])}
    first, second = fresh_target.stats.arrivals(host_of(fresh_target))
    assert second - first >= 2.0
    assert results[limited].status_code == 200
    assert results[limited].attempts == 2
    assert results[limited].retries == [{"status": 429, "error": None, "delay": 2.0}]
    # with one connection in all, the other host was served while the 429 waited
    served_meanwhile = [t for t in target2.stats.arrivals(host_of(target2)) if first < t < second]
    assert len(served_meanwhile) >= 5


def test_post_is_not_retried_by_default(fresh_target: TargetServer) -> None:
    with Client(retries=3) as client:
        post = client.post(fresh_target.url + "/fail/1?key=post", data="x")
        post_keyed = client.post(
            fresh_target.url + "/fail/1?key=keyed", data="x", headers={"Idempotency-Key": "k1"}
        )
    assert post.status_code == 503 and post.attempts == 1
    assert post_keyed.status_code == 200 and post_keyed.attempts == 2


def test_failing_host_is_slowed_down_and_budget_holds(fresh_target: TargetServer) -> None:
    urls = [f"{fresh_target.url}/status/503?i={i}" for i in range(100)]
    retry = multifetch.RetryPolicy(retries=5, backoff=0.01, backoff_max=0.05)
    with Client(per_host=8, retries=retry) as client:
        run = client.start(urls)
        results = list(run.results())
        stats = run.statistics()
    assert len(results) == 100 and all(r.status_code == 503 for r in results)
    # 100 requests may bring at most 20 % retries (and at least the minimum of 10)
    assert fresh_target.stats.total <= 120
    assert stats.retries <= 20
    assert fresh_target.stats.max_in_flight(host_of(fresh_target)) <= 8
    slowed = {h.name: h for h in stats.slowed_hosts}
    assert slowed[fresh_target.url].effective_limit < 8


def test_dead_host_fails_fast() -> None:
    health = HostHealth(failures=3, cooldown=0.2, pauses=1)
    urls = [f"http://127.0.0.1:1/?i={i}" for i in range(200)]
    results = list(multifetch.fetch(urls, health=health, retries=0, per_host=2))
    kinds = [r.error.kind for r in results if r.error]
    assert len(kinds) == 200
    assert kinds.count("host_unavailable") > 150
