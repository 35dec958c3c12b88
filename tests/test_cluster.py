"""Running on a Dask LocalCluster of 2 worker processes: same records, exact per-host limits,
and exactly one record per input when a worker dies mid-run."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import multifetch
from multifetch import Limits
from multifetch.runners._cluster import ClusterRun, shard_of
from multifetch.runners._settings import Settings
from multifetch.testing import TargetServer

from helpers import jsonl, mf

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def dask_client() -> Iterator[Any]:
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", silence_logs=40)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def three_hosts() -> Iterator[list[TargetServer]]:
    servers = [TargetServer() for _ in range(3)]
    for s in servers:
        s.start()
    yield servers
    for s in servers:
        s.stop()


def specs(servers: list[TargetServer], n: int, path: str = "/item/{i}") -> list[str]:
    return [s.url + path.format(i=i) for i in range(n) for s in servers] + ["not a url"]


def key(r: multifetch.Result) -> tuple[object, ...]:
    return (r.id, r.status, r.sha256, None if r.error is None else r.error.kind)


def test_same_records_as_a_local_run(dask_client: Any, three_hosts: list[TargetServer]) -> None:
    inputs = specs(three_hosts, 200)
    local = sorted(key(r) for r in multifetch.fetch(inputs, bodies="hash"))
    with multifetch.Client(cluster=dask_client, bodies="hash") as client:
        remote = sorted(key(r) for r in client.stream(inputs))
    assert remote == local
    assert len(remote) == 601


def test_hosts_spread_over_the_shards() -> None:
    hosts = [f"http://host{i}.example" for i in range(200)]
    counts = [sum(1 for h in hosts if shard_of(h, 2) == s) for s in range(2)]
    assert min(counts) > 60
    assert all(shard_of(h, 2) == shard_of(h, 2) for h in hosts)


def test_per_host_limits_hold_across_the_cluster(dask_client: Any, three_hosts: list[TargetServer]) -> None:
    for s in three_hosts:
        s.stats.reset()
    inputs = specs(three_hosts, 40, "/delay/0.05?i={i}")
    with multifetch.Client(cluster=dask_client, per_host=2, concurrency=64) as client:
        results = list(client.stream(inputs))
    assert len(results) == 121
    for s in three_hosts:
        assert s.stats.max_in_flight(f"127.0.0.1:{s.port}") <= 2
        assert s.stats.total == 40


def test_a_killed_worker_loses_nothing(three_hosts: list[TargetServer]) -> None:
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", silence_logs=50)
    client = distributed.Client(cluster)
    try:
        pids = client.run(os.getpid)  # worker address -> pid
        for s in three_hosts:
            s.stats.reset()
        urls = specs(three_hosts, 400, "/item/{i}?delay=0.02")[:-1]
        inputs = [multifetch.make_request(u, id=str(i)) for i, u in enumerate(urls)]
        results: list[multifetch.Result] = []
        killed: list[str] = []

        def kill_a_busy_worker() -> None:  # mid-run: once some records are in, kill a worker holding a batch
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not killed:
                if len(results) >= 150:
                    busy = [addr for addr, keys in client.processing().items() if keys]
                    if busy:
                        killed.append(busy[0])
                        os.kill(pids[busy[0]], signal.SIGKILL)
                time.sleep(0.02)

        killer = threading.Thread(target=kill_a_busy_worker, daemon=True)
        killer.start()
        run = ClusterRun(client, inputs, Settings(limits=Limits(per_host=4), bodies="hash"), batch=50)
        for result in run.results():
            results.append(result)
        killer.join(5)
    finally:
        client.close()
        cluster.close()
    ids = [r.id for r in results]
    assert killed  # a worker died while it held a batch
    assert len(ids) == len(set(ids)) == 1200
    assert sum(1 for r in results if r.status == 200) == 1200
    assert sum(s.stats.total for s in three_hosts) >= 1200


def test_cli_cluster(three_hosts: list[TargetServer], tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_text("\n".join(specs(three_hosts, 50)) + "\n")
    out = tmp_path / "out.jsonl"
    proc = mf("fetch", str(src), "-o", str(out), "--cluster", "local:2", "--per-host", "4")
    assert proc.returncode == 1, proc.stderr  # the one invalid line
    records = jsonl(out)
    assert len(records) == 151 and len({r["id"] for r in records}) == 151
    assert b"Dask workers; dashboard:" in proc.stderr


def test_global_limits_are_divided_and_rebalanced() -> None:
    from multifetch.runners._cluster import _divide

    given = Settings(limits=Limits(concurrency=64, rate="100/s", per_host=8))  # type: ignore[arg-type]
    assert _divide(given, 4).limits == Limits(concurrency=16, rate=25.0, per_host=8)
    assert _divide(given, 1).limits.concurrency == 64  # one shard left: it gets it all
