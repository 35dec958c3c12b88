"""The soak (``make soak``): 1,000,000 requests with 1 % injected faults of mixed kinds.

Zero lost records, zero duplicates, flat memory, file descriptors back to their baseline. Bounded:
one million requests to servers on 127.0.0.1, stopping by itself.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import multifetch
from multifetch import Client, RetryPolicy

N = 1_000_000
SERVE_FAULTS = (
    "import sys, time\n"
    "from multifetch.testing import FaultServer\n"
    "with FaultServer() as f:\n"
    "    print(f.url, flush=True)\n"
    "    sys.stdin.read()\n"
)


def _rss_kb() -> int:
    with open("/proc/self/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))  # type: ignore[union-attr]


@pytest.fixture
def servers() -> Iterator[tuple[str, str]]:
    target = subprocess.Popen([sys.executable, "-m", "multifetch", "serve", "--port", "0"],
                              stderr=subprocess.PIPE, text=True)
    faults = subprocess.Popen([sys.executable, "-c", SERVE_FAULTS], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        line = target.stderr.readline()  # type: ignore[union-attr]
        target_url = line.split()[2]
        faults_url = faults.stdout.readline().strip()  # type: ignore[union-attr]
        yield target_url, faults_url
    finally:
        target.terminate()
        faults.stdin.close()  # type: ignore[union-attr]
        faults.terminate()
        target.wait(10)
        faults.wait(10)
        target.stderr.close()  # type: ignore[union-attr]
        faults.stdout.close()  # type: ignore[union-attr]


@pytest.mark.slow
def test_soak_a_million_requests_with_faults(servers: tuple[str, str]) -> None:
    target, faults = servers
    fault_paths = ["/reset", "/truncated", "/garbage", "/empty", "/bad-gzip", "/hang"]

    def specs() -> Iterator[str]:
        for i in range(N):
            if i % 100 == 37:  # 1 % faults, of mixed kinds
                yield f"{faults}{fault_paths[(i // 100) % len(fault_paths)]}?i={i}"
            elif i % 1000 == 501:
                yield f"{target}/fail/1?key={i}"  # a 503 first, then fine
            else:
                yield f"{target}/item/{i}"

    fds_before = len(os.listdir("/proc/self/fd"))
    samples: list[int] = []
    seen = bytearray(N)
    duplicates = 0
    retry = RetryPolicy(retries=1, backoff=0.01, budget=0.5)
    started = time.monotonic()
    with Client(concurrency=64, per_host=64, bodies="hash", retries=retry, timeout=2) as client:
        for count, result in enumerate(client.stream(specs()), 1):
            index = int(result.id)
            duplicates += seen[index]
            seen[index] = 1
            if count % 100_000 == 0:
                samples.append(_rss_kb())
    elapsed = time.monotonic() - started
    threading.Event().wait(0.5)
    fds_after = len(os.listdir("/proc/self/fd"))
    print(f"soak: {N:,} requests in {elapsed:.0f} s ({N / elapsed:,.0f} req/s); RSS samples (MB): "
          f"{[round(s / 1024) for s in samples]}; fds {fds_before} -> {fds_after}")
    assert duplicates == 0
    assert sum(seen) == N  # nothing lost
    assert samples[-1] <= samples[1] * 1.2  # flat after warm-up
    assert fds_after <= fds_before
    assert multifetch.__version__


@pytest.mark.slow
def test_a_million_inputs_mostly_for_one_slow_host_keep_memory_bounded(servers: tuple[str, str],
                                                                        tmp_path: Path) -> None:
    """90 % of 1,000,000 inputs go to a host limited to 2 connections of 50 ms answers: the frontier
    keeps them on disk, the other host's 100,000 are all fetched, and the peak RSS stays ≤ 150 MB."""
    slow, _ = servers
    second = subprocess.Popen([sys.executable, "-m", "multifetch", "serve", "--host", "127.0.0.2", "--port", "0"],
                              stderr=subprocess.PIPE, text=True)
    try:
        fast = second.stderr.readline().split()[2]  # type: ignore[union-attr]
        _frontier_run(slow, fast, tmp_path)
    finally:
        second.terminate()
        second.wait(10)
        second.stderr.close()  # type: ignore[union-attr]


def _frontier_run(slow: str, fast: str, tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    with src.open("w") as f:
        for i in range(N):
            f.write(f"{fast}/item/{i}\n" if i % 10 == 3 else f"{slow}/delay/0.05?i={i}\n")
    out = tmp_path / "out.jsonl"
    slow_origin = slow.split("://", 1)[1].rstrip("/")
    done = subprocess.run(
        ["/usr/bin/time", "-f", "%M", sys.executable, "-m", "multifetch", "fetch", str(src), "-o", str(out),
         "-q", "-c", "64", "--per-host", "8", "--host-limit", f"{slow_origin}=2", "--deadline", "60"],
        capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 1, done.stderr[-2000:]  # the slow host's unfinished inputs are cancelled
    peak_mb = int(done.stderr.split()[-1]) / 1024
    seen = bytearray(N + 1)
    fast_ok = 0
    with out.open() as f:
        for line in f:
            record = json.loads(line)
            index = int(record["id"])
            assert not seen[index], f"duplicate {index}"
            seen[index] = 1
            if "/item/" in record["url"]:
                fast_ok += record["status"] == 200
    assert sum(seen) == N
    assert fast_ok == N // 10
    assert peak_mb <= 150, f"peak RSS {peak_mb:.0f} MB"
