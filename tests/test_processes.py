"""Several engine processes for one run: one record per input, limits kept, deaths survived."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import multifetch
from multifetch import Client, Limits
from multifetch.outputs._records import read_records
from multifetch.runners._processes import ProcessRun
from multifetch.runners._settings import Settings
from multifetch.testing import TargetServer, body_for

from helpers import jsonl, mf


def host_of(server: TargetServer) -> str:
    return f"127.0.0.1:{server.port}"


def test_every_input_gets_one_result(target: TargetServer) -> None:
    urls = [f"{target.url}/bytes/100?seed={i}" for i in range(3000)] + ["not a url", target.url + "/status/404"]
    results = list(multifetch.fetch(urls, processes=2, concurrency=32, per_host=32))
    assert len(results) == len(urls)
    assert sorted(r.id for r in results) == sorted(str(i) for i in range(len(urls)))
    by_id = {r.id: r for r in results}
    assert by_id["3000"].error is not None and by_id["3000"].error.kind == "invalid_input"
    assert by_id["3001"].status_code == 404
    assert by_id["7"].content == body_for(100, "7")  # bodies in memory come across whole
    assert by_id["7"].headers["content-length"] == "100"
    assert by_id["7"].timings is not None


def test_map_keeps_input_order(target: TargetServer) -> None:
    urls = [f"{target.url}/delay/{(i % 5) / 100}?i={i}" for i in range(300)]
    with Client(processes=2, per_host=16) as client:
        assert [r.url for r in client.map(urls)] == urls
        assert client.get(target.url + "/bytes/3").content == body_for(3, "")


def test_work_is_spread_over_the_processes(target: TargetServer) -> None:
    urls = [f"{target.url}/bytes/10?i={i}" for i in range(2000)]
    with Client(processes=2, concurrency=16, per_host=16) as client:
        run = client.start(urls)
        assert isinstance(run, ProcessRun)
        pids = set(run.pids)
        assert len(pids) == 2 and os.getpid() not in pids
        results = list(run.results())
    assert len(results) == 2000 and all(r.status_code == 200 for r in results)


def test_per_host_limit_is_shared_out(fresh_target: TargetServer) -> None:
    urls = [f"{fresh_target.url}/delay/0.03?i={i}" for i in range(120)]
    results = list(multifetch.fetch(urls, processes=2, concurrency=50, per_host=4))
    assert all(r.status_code == 200 for r in results)
    assert fresh_target.stats.max_in_flight(host_of(fresh_target)) == 4  # 2 + 2


def test_a_limit_too_small_to_split_pins_the_host_to_one_process(fresh_target: TargetServer) -> None:
    urls = [f"{fresh_target.url}/delay/0.02?i={i}" for i in range(40)]
    results = list(multifetch.fetch(urls, processes=2, per_host=1))
    assert all(r.status_code == 200 for r in results)
    assert fresh_target.stats.max_in_flight(host_of(fresh_target)) == 1


def test_dividing_the_limits() -> None:
    limits = Limits(concurrency=64, per_host=9, rate="100/s", host_limits={"a:1": 5})  # type: ignore[arg-type]
    assert limits.splits_hosts(2)
    shares = [Settings(limits=limits).share(i, 2, hosts_whole=False).limits for i in range(2)]
    assert [(s.concurrency, s.per_host, s.rate, s.host_limits["a:1"]) for s in shares] == [
        (32, 5, 50.0, 3), (32, 4, 50.0, 2)]
    limits = Limits(concurrency=7, per_host=2, per_host_rate=10)
    assert not limits.splits_hosts(4)
    shares = [Settings(limits=limits).share(i, 4, hosts_whole=True).limits for i in range(4)]
    assert [s.concurrency for s in shares] == [2, 2, 2, 1]  # adds up to the whole
    assert all(s.per_host == 2 and s.per_host_rate == 10 for s in shares)


def test_global_concurrency_holds_across_processes(fresh_target: TargetServer) -> None:
    urls = [f"{fresh_target.url}/delay/0.03?i={i}" for i in range(60)]
    results = list(multifetch.fetch(urls, processes=4, concurrency=3, per_host=50))
    assert all(r.status_code == 200 for r in results)
    assert fresh_target.stats.max_in_flight(host_of(fresh_target)) == 3  # 3 engines of 1, not 4


def test_a_killed_engine_process_loses_nothing(target: TargetServer) -> None:
    urls = [f"{target.url}/item/{i}?delay=0.01" for i in range(1500)]
    with Client(processes=2, concurrency=32, per_host=32) as client:
        run = client.start(urls)
        assert isinstance(run, ProcessRun)
        results = []
        for result in run.results():
            results.append(result)
            if len(results) == 200:
                os.kill(run.pids[0], signal.SIGKILL)
    ids = [r.id for r in results]
    assert len(ids) == len(set(ids)) == 1500
    assert all(r.status_code == 200 for r in results), {r.error for r in results if r.error}


def test_the_deadline_cancels_the_rest(target: TargetServer) -> None:
    urls = [f"{target.url}/delay/0.05?i={i}" for i in range(2000)]
    # engine processes take 0.2–0.5 s to start on a busy 2-core machine: the deadline leaves room to work
    results = list(multifetch.fetch(urls, processes=2, concurrency=8, per_host=8, deadline=1.5))
    assert sorted(int(r.id) for r in results) == list(range(2000))
    kinds = {r.error.kind if r.error else r.status_code for r in results}
    assert kinds <= {200, "cancelled"} and "cancelled" in kinds and 200 in kinds


def test_results_cross_processes_whole(target: TargetServer) -> None:
    (result,) = list(multifetch.fetch([target.url + "/bytes/50?seed=x"], retries=0))
    copy = pickle.loads(pickle.dumps(result))
    # every attribute: compiled, the class lists them in __mypyc_attrs__; as Python, in __slots__
    names = getattr(multifetch.Result, "__mypyc_attrs__", None) or multifetch.Result.__slots__
    assert len(names) >= 20
    for name in names:
        assert getattr(copy, name) == getattr(result, name), name


def test_cli_processes(target: TargetServer, tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_text("".join(f"{target.url}/bytes/20?seed={i}\n" for i in range(2000)) + "nonsense\n")
    out = tmp_path / "out.jsonl"
    done = mf("fetch", str(src), "-o", str(out), "-P", "2", "-c", "16", "--per-host", "16", "-q")
    assert done.returncode == 1, done.stderr  # the bad line
    records = jsonl(out)
    assert sorted(r["id"] for r in records) == sorted(str(i) for i in range(1, 2002))
    assert sum(r["status"] == 200 for r in records) == 2000


def test_cli_interrupted_with_processes_resumes_to_one_record_each(target: TargetServer, tmp_path: Path) -> None:
    n = 6000
    src = tmp_path / "in.txt"
    src.write_text("".join(f"{target.url}/item/{i}?delay=0.004\n" for i in range(n)))
    out = tmp_path / "out.jsonl"
    command = [sys.executable, "-m", "multifetch", "fetch", str(src), "-o", str(out), "-P", "2", "-c", "16",
               "--per-host", "16", "-q", "--resume"]
    proc = subprocess.Popen(command, stderr=subprocess.PIPE)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in (0, 130), err
    if proc.returncode == 130:
        assert b"--resume" in err and b"Traceback" not in err
    finished = subprocess.run(command, capture_output=True, timeout=120, check=False)
    assert finished.returncode == 0, finished.stderr
    ids = [r["id"] for r in read_records(str(out))]
    assert len(ids) == len(set(ids)) == n


@pytest.mark.parametrize("bad", [0, -1, "2"])
def test_bad_process_counts_are_refused(bad: object) -> None:
    with pytest.raises(multifetch.UsageError):
        Client(processes=bad)  # type: ignore[arg-type]


def test_cli_to_stdout_with_an_engine_killed_writes_each_record_once(target: TargetServer, tmp_path: Path) -> None:
    """A replacement engine is forked while stdout holds unwritten records: they must not be
    written twice (by the copy in the new process)."""
    n = 8000
    src = tmp_path / "in.txt"
    src.write_text("".join(f"{target.url}/item/{i}?delay=0.002\n" for i in range(n)))
    proc = subprocess.Popen([sys.executable, "-m", "multifetch", "fetch", str(src), "-P", "2", "-c", "8",
                             "--per-host", "8", "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    children: list[int] = []
    deadline = time.monotonic() + 10
    while len(children) < 2 and time.monotonic() < deadline:
        try:
            children = [int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]
        except FileNotFoundError:
            break
        time.sleep(0.05)
    time.sleep(0.5)
    assert children, "no engine processes seen"
    os.kill(children[0], signal.SIGKILL)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    ids = [r["id"] for r in jsonl(out)]
    assert len(ids) == len(set(ids)) == n


def test_asyncio_front_with_processes(target: TargetServer) -> None:
    """AsyncClient drives the run from its own thread: engines then start as fresh interpreters."""
    import asyncio

    async def run() -> list[multifetch.Result]:
        async with multifetch.AsyncClient(processes=2, concurrency=16, per_host=16) as client:
            return [r async for r in client.stream(f"{target.url}/item/{i}" for i in range(500))]

    results = asyncio.run(run())
    assert sorted(int(r.id) for r in results) == list(range(500))
    assert all(r.status_code == 200 for r in results)


def test_long_runs_of_invalid_lines_are_handed_out_as_they_come(target: TargetServer) -> None:
    """Invalid inputs become records here, a bounded batch at a time, between valid ones."""
    urls = ["not a url"] * 2500 + [f"{target.url}/bytes/5?i={i}" for i in range(50)] + ["nor this"] * 1500
    results = list(multifetch.fetch(urls, processes=2, per_host=8))
    assert sorted(int(r.id) for r in results) == list(range(len(urls)))
    assert sum(r.status_code == 200 for r in results) == 50


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_engine_processes_end_with_a_killed_parent(target: TargetServer, tmp_path: Path) -> None:
    """After kill -9 of the parent, its engines once lived on forever (each held the other's pipe
    end), keeping connections, memory and any pipe a caller reads from."""
    src = tmp_path / "urls.txt"
    src.write_text("".join(f"{target.url}/delay/0.2?i={i}\n" for i in range(2000)))
    proc = subprocess.Popen([sys.executable, "-m", "multifetch", "fetch", str(src), "-o", str(tmp_path / "o.jsonl"),
                             "-P", "2", "-c", "8", "-q"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    engines: list[int] = []
    while len(engines) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
        engines = _children(proc.pid)
    assert len(engines) == 2, "the engine processes did not start"
    time.sleep(0.5)
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in engines) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in engines), "engine processes outlived their parent"
