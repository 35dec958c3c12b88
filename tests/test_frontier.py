"""The frontier: a slow, paused or narrowly limited host never holds back the others."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import multifetch
from multifetch import Client
from multifetch.testing import TargetServer

from helpers import jsonl, mf


def origin(server: TargetServer) -> str:
    return server.url.split("://", 1)[1]


def interleaved(slow: TargetServer, fast: TargetServer, n: int) -> list[str]:
    urls = []
    for i in range(n):
        urls.append(f"{slow.url}/delay/0.05?i={i}")
        urls.append(f"{fast.url}/bytes/100?i={i}")
    return urls


def test_a_host_limited_to_one_connection_never_paces_the_others(target: TargetServer,
                                                                  target2: TargetServer) -> None:
    """3,000 slow requests (one connection, 50 ms each: 150 s) interleaved with 3,000 fast ones."""
    urls = interleaved(target, target2, 3000)
    fast_starts = []
    started = time.time()
    with Client(concurrency=64, per_host=8, host_limits={origin(target): 1}, retries=0) as client:
        run = client.start(urls)
        assert isinstance(run, multifetch.Run)
        for result in run.results():
            if result.url.startswith(target2.url):
                assert result.status == 200
                fast_starts.append(result.started_at - started)
                if len(fast_starts) == 3000:
                    break
    assert len(fast_starts) == 3000
    assert max(fast_starts) < 2.0, f"the last fast request started {max(fast_starts):.1f} s in"


def test_the_frontier_keeps_order_within_a_host_and_one_record_per_input(target: TargetServer,
                                                                         target2: TargetServer) -> None:
    urls = [u for pair in zip(interleaved(target, target2, 400)[::2], interleaved(target, target2, 400)[1::2],
                              strict=True) for u in pair]
    urls = [u.replace("/delay/0.05", "/delay/0.01") for u in urls]
    with Client(concurrency=16, per_host=8, host_limits={origin(target): 1}, retries=0) as client:
        run = client.start(iter(urls), window=64)
        assert isinstance(run, multifetch.Run)
        results = []
        on_disk = 0
        for result in run.results():
            results.append(result)
            on_disk = max(on_disk, run.statistics().on_disk)
        stats = run.statistics()
    assert on_disk > 0  # past twice the window, the slow host's requests waited on disk
    assert sorted(int(r.id) for r in results) == list(range(800))
    assert all(r.status == 200 for r in results)
    slow = [r for r in results if r.url.startswith(target.url)]
    # one connection: the slow host's requests ran one after another, in input order
    assert [r.started_at for r in slow] == sorted(r.started_at for r in slow)
    assert [int(r.id) for r in slow] == sorted(int(r.id) for r in slow)
    assert stats.on_disk == 0 and not stats.waiting


def test_retry_after_pauses_all_of_its_host_and_none_of_another(target: TargetServer, target2: TargetServer) -> None:
    # the first request of the paused host answers 429 with Retry-After: 2 once, then all are served
    key = f"pause-{time.time()}"
    paused = [f"{target.url}/retry-after/2?key={key}&times=1", *(f"{target.url}/item/p{i}" for i in range(20))]
    other = [f"{target2.url}/item/o{i}" for i in range(200)]
    started = time.time()
    with Client(concurrency=8, per_host=4, retries=2) as client:
        results = list(client.stream([*paused, *other]))
    assert all(r.status == 200 for r in results), Counter(r.status for r in results)
    late = [r.started_at - started for r in results if r.url.startswith(target.url) and "/item/" in r.url]
    early = [r.started_at + r.elapsed - started for r in results if r.url.startswith(target2.url)]
    # requests of the paused host that had not started yet waited for the Retry-After (some of the
    # first four were already in flight when the 429 came)
    assert sorted(late)[4] >= 1.8, sorted(late)
    assert max(early) < 1.5, max(early)


def test_the_progress_says_why_requests_wait(target: TargetServer, target2: TargetServer) -> None:
    urls = [f"{target.url}/delay/0.2?i={i}" for i in range(40)] + [f"{target2.url}/item/{i}" for i in range(10)]
    with Client(concurrency=16, per_host=2, retries=0) as client:
        run = client.start(urls)
        assert isinstance(run, multifetch.Run)
        results = run.results()
        next(results)
        time.sleep(0.1)
        stats = run.statistics()
        rest = list(results)
    assert stats.waiting.get("host limit", 0) >= 30
    assert len(rest) == 49


def test_the_cli_spills_beside_its_output_and_leaves_nothing(target: TargetServer, target2: TargetServer,
                                                            tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    urls = interleaved(target, target2, 300)
    src.write_text("".join(u.replace("/delay/0.05", "/delay/0.01") + "\n" for u in urls))
    out = tmp_path / "out.jsonl"
    done = mf("fetch", str(src), "-o", str(out), "-q", "-c", "16", "--per-host", "8",
              "--host-limit", f"{origin(target)}=1", "--summary-json", str(tmp_path / "s.json"))
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    records = jsonl(out)
    assert len(records) == 600 and {r["id"] for r in records} == {str(i) for i in range(1, 601)}
    assert all(r["status"] == 200 for r in records)
    left = {p.name for p in tmp_path.iterdir()} - {"in.txt", "out.jsonl", "s.json"}
    assert all(name.startswith("out.jsonl.") for name in left), left  # its resume fingerprint only
    assert json.loads((tmp_path / "s.json").read_text())["records"] == 600


def test_when_the_disk_refuses_requests_wait_in_memory_and_none_is_lost(target: TargetServer,
                                                                        target2: TargetServer,
                                                                        tmp_path: Path) -> None:
    urls = [u.replace("/delay/0.05", "/delay/0.002") for u in interleaved(target, target2, 1500)]
    with Client(concurrency=16, per_host=8, host_limits={origin(target): 1}, retries=0) as client:
        run = client.start(iter(urls), window=64, spill_folder=str(tmp_path / "no such folder"))
        assert isinstance(run, multifetch.Run)
        results = list(run.results())
    assert sorted(int(r.id) for r in results) == list(range(3000))
    assert all(r.status == 200 for r in results)


def test_the_deadline_gives_requests_waiting_on_disk_their_cancelled_record(target: TargetServer,
                                                                           target2: TargetServer) -> None:
    urls = interleaved(target, target2, 1000)  # the slow host needs 50 s at one connection
    with Client(concurrency=16, per_host=8, host_limits={origin(target): 1}, retries=0, deadline=1.5) as client:
        run = client.start(iter(urls), window=64)
        assert isinstance(run, multifetch.Run)
        results = list(run.results())
    assert sorted(int(r.id) for r in results) == list(range(2000))
    fast = Counter(r.status for r in results if r.url.startswith(target2.url))
    slow = Counter(r.error.kind if r.error else r.status for r in results if r.url.startswith(target.url))
    assert fast == {200: 1000}
    assert slow[200] >= 5 and slow["cancelled"] >= 900
