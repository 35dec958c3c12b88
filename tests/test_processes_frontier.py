"""Engine processes and a slow host: the parent's frontier keeps every other host busy."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Callable

from multifetch import Client, Result
from multifetch.runners._processes import ProcessRun
from multifetch.testing import TargetServer


def origin(server: TargetServer) -> str:
    return server.url.split("://", 1)[1]


def interleaved(slow: TargetServer, fast: TargetServer, n: int, delay: float = 0.05) -> list[str]:
    urls = []
    for i in range(n):
        urls.append(f"{slow.url}/delay/{delay}?i={i}")
        urls.append(f"{fast.url}/bytes/100?i={i}")
    return urls


def run_pinned(urls: list[str], slow: TargetServer, *, at: int,
               then: Callable[[ProcessRun], None]) -> tuple[ProcessRun, list[Result]]:
    """A -P 2 run with ``slow`` held to one connection; ``then(run)`` once ``at`` results came."""
    with Client(processes=2, concurrency=16, per_host=8, host_limits={origin(slow): 1}, retries=0) as client:
        run = client.start(iter(urls), window=64)
        assert isinstance(run, ProcessRun)
        results = []
        for result in run.results():
            results.append(result)
            if len(results) == at:
                then(run)
    return run, results


def fast_starts(client: Client, urls: list[str], fast: TargetServer, count: int) -> list[float]:
    """Seconds from the run's start to each of the first ``count`` fast requests' start."""
    starts = []
    started = time.time()
    run = client.start(urls)
    assert isinstance(run, ProcessRun)
    for result in run.results():
        if result.url.startswith(fast.url):
            assert result.status == 200
            starts.append(result.started_at - started)
            if len(starts) == count:
                break
        if time.time() - started > 5.0:  # bounded even when the fast host is held back
            break
    run.stop(0.0)
    return starts


def test_a_host_pinned_to_one_process_never_paces_the_others(target: TargetServer, target2: TargetServer) -> None:
    """3,000 slow requests (one connection, so pinned to one process; 50 ms each: 150 s)
    interleaved with 3,000 fast ones, which all start within 2 s."""
    urls = interleaved(target, target2, 3000)
    with Client(processes=2, concurrency=64, per_host=8, host_limits={origin(target): 1}, retries=0) as client:
        starts = fast_starts(client, urls, target2, 3000)
    assert len(starts) == 3000
    assert max(starts) < 2.0, f"the last fast request started {max(starts):.1f} s in"


def test_a_host_split_over_the_processes_never_paces_the_others(target: TargetServer,
                                                                target2: TargetServer) -> None:
    """Two connections to the slow host (one a process), eight to the fast one (four a process)."""
    urls = interleaved(target, target2, 3000)
    with Client(processes=2, concurrency=64, per_host=8, host_limits={origin(target): 2}, retries=0) as client:
        starts = fast_starts(client, urls, target2, 3000)
    assert len(starts) == 3000
    assert max(starts) < 2.0, f"the last fast request started {max(starts):.1f} s in"


def test_one_record_per_input_and_order_within_the_pinned_host(target: TargetServer, target2: TargetServer) -> None:
    urls = interleaved(target, target2, 1500, delay=0.002)
    with Client(processes=2, concurrency=16, per_host=8, host_limits={origin(target): 1}, retries=0) as client:
        run = client.start(iter(urls), window=64)
        assert isinstance(run, ProcessRun)
        results = []
        on_disk = 0
        started = time.monotonic()
        for result in run.results():
            results.append(result)
            on_disk = max(on_disk, run.statistics().on_disk)
            if time.monotonic() - started > 15.0:  # bounded even when the fast host is held back
                run.stop(0.0)
        stats = run.statistics()
    assert on_disk > 0  # the slow host's backlog waited in the parent's file
    assert sorted(int(r.id) for r in results) == list(range(3000))
    assert all(r.status == 200 for r in results), Counter(r.status for r in results)
    slow = [r for r in results if r.url.startswith(target.url)]
    # one connection in one process: the slow host's requests ran one after another, in input order
    assert [int(r.id) for r in sorted(slow, key=lambda r: r.started_at)] == sorted(int(r.id) for r in slow)
    assert stats.on_disk == 0 and stats.queued == 0


def test_a_split_host_keeps_its_order_roughly_and_one_record_per_input(target: TargetServer,
                                                                       target2: TargetServer) -> None:
    urls = interleaved(target, target2, 1500, delay=0.002)
    with Client(processes=2, concurrency=16, per_host=8, host_limits={origin(target): 2}, retries=0) as client:
        run = client.start(iter(urls), window=64)
        assert isinstance(run, ProcessRun)
        results = list(run.results())
    assert sorted(int(r.id) for r in results) == list(range(3000))
    assert all(r.status == 200 for r in results)
    slow = sorted((r for r in results if r.url.startswith(target.url)), key=lambda r: r.started_at)
    # each process starts its share in order; the parent hands the host's requests out in order,
    # so a request starts at most a few hundred places from its place in the input
    ranks = {int(r.id): rank for rank, r in enumerate(sorted(slow, key=lambda r: int(r.id)))}
    assert max(abs(rank - ranks[int(r.id)]) for rank, r in enumerate(slow)) < 400


def test_the_deadline_cancels_what_waits_in_the_parent(target: TargetServer, target2: TargetServer) -> None:
    urls = interleaved(target, target2, 2000)  # the slow host needs 100 s at one connection
    with Client(processes=2, concurrency=16, per_host=8, host_limits={origin(target): 1}, retries=0,
                deadline=2.0) as client:
        run = client.start(iter(urls), window=64)
        assert isinstance(run, ProcessRun)
        results = list(run.results())
    assert sorted(int(r.id) for r in results) == list(range(4000))
    fast = Counter(r.status for r in results if r.url.startswith(target2.url))
    slow = Counter(r.error.kind if r.error else r.status for r in results if r.url.startswith(target.url))
    assert fast == {200: 2000}, fast
    assert slow["cancelled"] > 1500 and slow[200] > 0, slow


def test_a_stop_leaves_what_waits_in_the_parent_to_resume(target: TargetServer, target2: TargetServer) -> None:
    """As in one process: a stop ends the run; requests not started get no record (``--resume``
    fetches them) and are counted in ``unfinished``."""
    run, results = run_pinned(interleaved(target, target2, 2000), target, at=2030, then=lambda run: run.stop(0.5))
    unfinished = run.unfinished
    ids = [r.id for r in results]
    assert len(ids) == len(set(ids))
    assert not any(r.error and r.error.kind == "cancelled" and "before" in r.error.message for r in results)
    assert len(results) + unfinished <= 4000, (len(results), unfinished)  # inputs not read are not counted
    assert unfinished > 1000


def test_an_engine_killed_with_requests_waiting_in_the_parent_loses_nothing(target: TargetServer,
                                                                            target2: TargetServer) -> None:
    def kill_engines(run: ProcessRun) -> None:
        for pid in run.pids:
            os.kill(pid, signal.SIGKILL)

    _, results = run_pinned(interleaved(target, target2, 1000, delay=0.002), target, at=600, then=kill_engines)
    assert sorted(int(r.id) for r in results) == list(range(2000))
    assert all(r.status == 200 for r in results), Counter(r.error.kind if r.error else r.status for r in results)
