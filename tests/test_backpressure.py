"""A slow consumer or a slow input holds back only the reading of input, never a transfer in flight.

Each test here reported false timeouts (or hung) when the event loop ran in the consumer's thread:
time spent on a result, or waiting for the next input line, counted against the requests in
flight although their server had answered.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

import multifetch
from multifetch import Client
from multifetch.testing import TargetServer

from helpers import jsonl


def outcomes(results: list[multifetch.Result]) -> Counter[object]:
    return Counter(r.status if r.error is None else r.error.kind for r in results)


def test_a_slow_consumer_gets_no_false_timeouts(target: TargetServer) -> None:
    urls = [f"{target.url}/bytes/100?i={i}" for i in range(120)]
    results = []
    for result in multifetch.fetch(urls, concurrency=64, per_host=64, timeout=1, retries=0):
        time.sleep(0.025)  # 3 s for all: three times the timeout
        results.append(result)
    assert outcomes(results) == {200: 120}
    assert max(r.elapsed for r in results) < 0.5  # answered at once, whatever the consumer did


def test_a_paused_input_holds_no_transfer_in_flight(target: TargetServer) -> None:
    def specs() -> Iterator[str]:
        for i in range(3):
            yield f"{target.url}/delay/0.02?i={i}"
        for i in range(2):
            yield f"{target.url}/delay/0.3?i={i}"
        time.sleep(1.5)  # a producer that pauses longer than the timeout, with two in flight
        yield f"{target.url}/item/last"

    with Client(concurrency=8, per_host=8, timeout=1, retries=0) as client:
        results = list(client.start(specs(), window=5).results())
    assert outcomes(results) == {200: 6}
    assert max(r.elapsed for r in results) < 0.9  # the two slow ones were read when they came


def test_the_cli_waits_for_a_late_reader_without_false_timeouts(target: TargetServer, tmp_path: Path) -> None:
    # 2,000 records are far more than a pipe holds: the CLI blocks writing while the reader sleeps
    src = tmp_path / "in.txt"
    src.write_text("".join(f"{target.url}/bytes/100?i={i}\n" for i in range(2000)))
    cli = subprocess.Popen([sys.executable, "-m", "multifetch", "fetch", str(src), "-q", "-c", "64",
                            "--per-host", "64", "--timeout", "1", "--retries", "0"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(3)
    out, err = cli.communicate(timeout=60)
    assert cli.returncode == 0, err.decode()[-2000:]
    records = jsonl(out)
    assert len(records) == 2000
    assert Counter(r["status"] for r in records) == {200: 2000}


def test_leaving_a_stream_early_ends_the_run_at_once(target: TargetServer) -> None:
    urls = [f"{target.url}/item/first", *(f"{target.url}/delay/20?i={i}" for i in range(20))]
    started = time.monotonic()
    with Client(concurrency=32, per_host=32) as client:
        for result in client.stream(urls):
            assert result.status == 200
            break
    assert time.monotonic() - started < 3  # not the 20 s of the transfers left in flight
    assert not [t for t in threading.enumerate() if t.name.startswith("multifetch-engine")]


def test_an_input_that_fails_raises_in_the_consumer_after_the_results_before_it(target: TargetServer) -> None:
    class Broken(Exception):
        pass

    def specs() -> Iterator[str]:
        yield from (f"{target.url}/item/{i}" for i in range(5))
        raise Broken("line 6")

    seen: list[multifetch.Result] = []

    def consume(client: Client) -> None:
        for result in client.stream(specs()):
            seen.append(result)

    with Client(concurrency=1, per_host=1) as client, pytest.raises(Broken, match="line 6"):
        consume(client)
    assert len(seen) <= 5 and all(r.status == 200 for r in seen)


@pytest.mark.parametrize("engine", ["curl", "requests"])
def test_stop_from_another_thread_ends_a_run_that_waits_for_the_network(target: TargetServer, engine: str) -> None:
    with Client(concurrency=4, per_host=4, transport=engine) as client:
        run = client.start([f"{target.url}/delay/20?i={i}" for i in range(4)])
        assert isinstance(run, multifetch.Run)
        threading.Timer(0.3, run.stop, args=(0.0,)).start()
        started = time.monotonic()
        results = list(run.results())
    assert time.monotonic() - started < 3
    assert len(results) + run.unfinished == 4

