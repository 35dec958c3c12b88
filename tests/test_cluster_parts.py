"""Cluster runs whose workers read the inputs and write the records as part files (``-o FOLDER/``):
exactly one record per input across the parts after a worker or the driver is killed, a folder of
input files, and a host split over two workers with its per-host limits exact at the server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from multifetch import Limits
from multifetch.outputs._parts import PartFolder, read_part_folder
from multifetch.outputs._records import read_records
from multifetch.runners._cluster_input import list_inputs
from multifetch.runners._cluster_parts import PartsRun
from multifetch.runners._cluster_plan import LanePlan
from multifetch.runners._cluster_worker import fetch_part
from multifetch.runners._record_maker import RecordMaker
from multifetch.runners._settings import Settings
from multifetch.testing import TargetServer

from helpers import mf

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def servers() -> Iterator[list[TargetServer]]:
    started = [TargetServer() for _ in range(3)]
    for s in started:
        s.start()
    yield started
    for s in started:
        s.stop()


@pytest.fixture
def server(servers: list[TargetServer]) -> TargetServer:
    return servers[0]


def cluster(workers: int = 2) -> tuple[Any, Any]:
    local = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                     dashboard_address=":0", silence_logs=50)
    return distributed.Client(local), local


def input_folder(tmp_path: Path, hosts: list[str], files: int, per_file: int, path: str) -> Path:
    folder = tmp_path / "in"
    (folder / "more").mkdir(parents=True)
    for f in range(files):
        where = folder / ("more" if f % 2 else "") / f"urls-{f}.txt"
        lines = [hosts[i % len(hosts)] + path.format(f=f, i=i) for i in range(per_file)]
        where.write_text("# a comment\n" + "\n".join(lines) + "\n")
    return folder


def records_of(folder: Path) -> list[dict[str, Any]]:
    """Every record of every complete part (whatever the manifest says)."""
    parts = PartFolder(str(folder))
    return [r for name in parts.parts() for r in read_records(str(folder / name))]


def test_a_killed_worker_leaves_one_record_per_input_in_the_parts(servers: list[TargetServer],
                                                                  tmp_path: Path) -> None:
    hosts = [s.url for s in servers]  # three origins: both lanes have work
    source = input_folder(tmp_path, hosts, 4, 300, "/item/{f}-{i}?delay=0.01")
    out = tmp_path / "out"
    folder = PartFolder(str(out))
    folder.make()
    folder.write_manifest({"complete": False})
    client, local = cluster()
    killed: list[str] = []
    try:
        pids = client.run(os.getpid)
        run = PartsRun(client, list_inputs([str(source)]), folder, Settings(limits=Limits(per_host=4),
                       bodies="hash"), LanePlan(2), RecordMaker(), chunk=40)

        def kill_a_busy_worker() -> None:  # once some parts are in, kill a worker fetching one
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not killed:
                if len(folder.parts()) >= 6:
                    busy = [addr for addr, keys in client.processing().items()
                            if any("part-" in str(k) for k in keys)]
                    if busy:
                        killed.append(busy[0])
                        os.kill(pids[busy[0]], signal.SIGKILL)
                time.sleep(0.01)

        killer = threading.Thread(target=kill_a_busy_worker, daemon=True)
        killer.start()
        assert run.run()
        killer.join(5)
    finally:
        client.close()
        local.close()
    assert killed
    ids = Counter(r["id"] for r in records_of(out))
    assert len(ids) == 1200 and set(ids.values()) == {1}
    assert ids["urls-0.txt:2"] == 1 and ids["more/urls-1.txt:301"] == 1  # NAME:LINE ids (line 1: a comment)
    assert run.summary.records == 1200 and run.summary.statuses == {200: 1200}


def test_the_driver_killed_and_resumed_leaves_one_record_per_input(servers: list[TargetServer],
                                                                   tmp_path: Path) -> None:
    hosts = [s.url for s in servers]
    source = input_folder(tmp_path, hosts, 3, 100, "/item/{f}-{i}?delay=0.03")
    out = tmp_path / "out"
    args = ["fetch", str(source), "-o", f"{out}/", "--cluster", "local:2", "-c", "8", "--per-host", "2",
            "--part-size", "10", "-q"]
    driver = subprocess.Popen([sys.executable, "-m", "multifetch", *args], start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 25
        while time.monotonic() < deadline and not (out.exists() and len(PartFolder(str(out)).parts()) >= 3):
            time.sleep(0.02)
    finally:
        os.killpg(driver.pid, signal.SIGKILL)  # the driver and its LocalCluster, mid-run
        driver.wait(10)
    before = len(PartFolder(str(out)).parts())
    assert 3 <= before < 30  # of 30 parts of 10
    assert not json.loads((out / "_manifest.json").read_text())["complete"]
    again = mf(*args, "--resume", "--summary-json", str(tmp_path / "summary.json"), timeout=60)
    assert again.returncode == 0, again.stderr
    ids = Counter(r["id"] for r in records_of(out))
    assert len(ids) == 300 and set(ids.values()) == {1}
    manifest = json.loads((out / "_manifest.json").read_text())
    assert manifest["complete"] and manifest["records"] == 300
    assert sum(p["records"] for p in manifest["parts"]) == 300
    assert not (out / "_inputs").exists() and not [p for p in os.listdir(out) if p.startswith(".tmp-")]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["records"] + summary["records_before"] == 300
    assert len(list(read_part_folder(str(out)))) == 300  # the reader read_results uses


def test_a_folder_of_input_files_read_by_the_workers(server: TargetServer, tmp_path: Path) -> None:
    source = input_folder(tmp_path, [server.url], 3, 50, "/item/{f}-{i}")
    (source / "specs.jsonl").write_text(json.dumps({"url": server.url + "/item/own", "id": "own"}) + "\n"
                                        + "not a url\n")
    out = tmp_path / "out"
    proc = mf("fetch", str(source), "-o", f"{out}/", "--cluster", "local:2", "-q", timeout=60)
    assert proc.returncode == 1, proc.stderr  # the line that is not a URL
    records = list(read_records(str(out)))  # a part folder reads as one result set
    assert len(records) == 152 and [r["status"] for r in records].count(200) == 151
    assert {"own", "urls-0.txt:2", "more/urls-1.txt:51", "urls-2.txt:51", "specs.jsonl:2"} <= {
        r["id"] for r in records}
    report = mf("report", str(out), "-o", str(tmp_path / "r.html"))
    assert report.returncode == 0 and b"152 records" in report.stderr
    again = mf("fetch", str(source), "-o", f"{out}/", "--cluster", "local:2", "-q")
    assert again.returncode == 2 and b"--resume" in again.stderr  # a run is never written over silently


def test_a_host_split_over_two_workers_keeps_its_limits_exact(server: TargetServer, tmp_path: Path) -> None:
    host = server.url.split("://", 1)[1]
    plan = LanePlan(2, (("127.0.0.1", 2),))  # the host's inputs go to lanes 2 and 3, by id

    def run(client: Any, name: str, path: str, count: int, limits: Limits) -> list[float]:
        source = tmp_path / f"{name}.txt"
        source.write_text("".join(f"{server.url}{path}?i={i}\n" for i in range(count)))
        folder = PartFolder(str(tmp_path / name))
        folder.make()
        server.stats.reset()
        parts = PartsRun(client, list_inputs([str(source)]), folder, Settings(limits=limits, bodies="hash"),
                         plan, RecordMaker(), chunk=30)
        assert parts.run()
        assert len({r["id"] for r in records_of(tmp_path / name)}) == count
        return server.stats.arrivals(host)

    client, local = cluster()
    try:
        with distributed.get_task_stream(client) as tasks:
            run(client, "concurrency", "/delay/0.2", 80, Limits(concurrency=64, per_host=4))
        # each half holds 2 connections, so 4 means both halves at once; never more than the host's 4
        assert server.stats.max_in_flight(host) == 4
        workers = {t["worker"] for t in tasks.data if "-l0002-" in str(t["key"]) or "-l0003-" in str(t["key"])}
        assert len(workers) == 2
        arrivals = run(client, "rate", "/delay/0.01", 120, Limits(concurrency=64, per_host=4, per_host_rate=30))
    finally:
        client.close()
        local.close()
    assert len(arrivals) == 120
    busiest = max(sum(1 for t in arrivals if start <= t < start + 1.0) for start in arrivals)
    assert 25 <= busiest <= 30  # the rate is reached, never passed, in any one-second window


def test_split_lanes_divide_the_per_host_limits() -> None:
    given = Settings(limits=Limits(concurrency=100, per_host=8, per_host_rate=31.5,
                                   host_limits={"api.test": 2000}))
    plan = LanePlan(2, (("api.test", 3),))
    assert plan.lanes == 5
    lanes = {plan.lane_of("https://api.test", str(i)) for i in range(100)}
    assert lanes == {2, 3, 4}
    assert plan.lane_of("https://other.test", "1") in (0, 1)
    shares = [plan.settings(lane, given, busy=5).limits for lane in (2, 3, 4)]
    assert [s.per_host for s in shares] == [667, 667, 666]
    assert [s.per_host_rate for s in shares] == [11.5, 10, 10]  # whole requests a second; lane 0 the rest
    assert plan.settings(0, given, busy=5).limits.per_host == 8  # other hosts keep theirs whole
    assert plan.settings(0, given, busy=5).limits.concurrency == 20
    assert LanePlan.from_json(plan.to_json()) == plan


@pytest.mark.parametrize("option", [("--metrics-port", "0"), ("--since", "previous.jsonl"), ("--dedup",)])
def test_what_a_part_folder_cannot_do_is_refused_before_anything_starts(tmp_path: Path, option: tuple[str, ...]) -> None:
    source = tmp_path / "in.txt"
    source.write_text("http://127.0.0.1:1/a\n")
    (tmp_path / "previous.jsonl").write_text("")
    option = tuple(str(tmp_path / o) if o.endswith(".jsonl") else o for o in option)
    proc = mf("fetch", str(source), "-o", f"{tmp_path / 'out'}/", "--cluster", "local:1", *option, timeout=30)
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert err.startswith("multifetch: error: ") and option[0] in err and "part-folder" in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_parquet_part_folder_reads_as_one_dataset_and_resumes_per_part(server: TargetServer,
                                                                         tmp_path: Path) -> None:
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    from multifetch import read_results
    from multifetch.outputs._arrow import schema_for
    from multifetch.outputs._fields import RECORD_FIELDS

    source = input_folder(tmp_path, [server.url], 2, 150, "/item/{f}-{i}")
    (source / "bad.txt").write_text("not a url\n")
    out = tmp_path / "out.parquet"  # a NAME.parquet/ folder with --cluster: Parquet parts
    args = ["fetch", str(source), "-o", f"{out}/", "--cluster", "local:2", "--part-size", "40", "-q"]
    proc = mf(*args, timeout=60)
    assert proc.returncode == 1, proc.stderr  # the line that is not a URL
    names = sorted(os.listdir(out))
    assert names[0] == "_manifest.json" and "part-f00000-invalid.parquet" in names
    assert all(n.endswith(".parquet") for n in names[1:]) and len(names) > 5
    manifest = json.loads((out / "_manifest.json").read_text())
    assert manifest["complete"] and manifest["format"] == "parquet" and manifest["records"] == 301
    table = ds.dataset(str(out), format="parquet").to_table()  # _manifest.json: skipped as hidden
    assert table.schema == schema_for(RECORD_FIELDS)  # the local Parquet output's schema
    ids = Counter(table.column("id").to_pylist())
    assert len(ids) == 301 and set(ids.values()) == {1}
    assert table.column("status").to_pylist().count(200) == 300
    records = list(read_results(str(out)))
    assert len(records) == 301 and {r["id"] for r in records} == set(ids)
    assert read_results(str(out)).to_arrow().num_rows == 301
    written = {n: (out / n).stat().st_mtime_ns for n in names}
    again = mf(*args[:-1], "--resume", timeout=60)
    assert again.returncode == 0 and b"nothing to do" in again.stderr, again.stderr
    assert {n: (out / n).stat().st_mtime_ns for n in os.listdir(out)} == written
    # a chunk whose part is committed is not fetched again: its records are counted from the part
    part = names[1]
    done = fetch_part(str(out), "f00000-l0000-c00000.pickle", part, Settings(), None, RecordMaker())
    assert done.records == pq.read_metadata(out / part).num_rows > 0 and done.summary.records == done.records

