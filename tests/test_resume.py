"""Nothing lost: kills at random moments, Ctrl-C, SIGTERM, retry-failed, torn lines, fingerprints."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from multifetch.outputs._records import read_records
from multifetch.testing import TargetServer, item_body

from helpers import jsonl, mf

N = 20_000


def make_input(tmp_path: Path, server: TargetServer, n: int = N) -> Path:
    src = tmp_path / "in.txt"
    src.write_text("".join(f"{server.url}/item/{i}?delay=0.004\n" for i in range(n)))
    return src


def start(src: Path, out: Path, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "multifetch", "fetch", str(src), "-o", str(out), "-c", "16",
         "--per-host", "16", "-q", "--resume", *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def check_complete(out: Path, n: int = N) -> None:
    records = list(read_records(str(out)))
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)), "duplicate records"
    assert set(ids) == {str(i) for i in range(1, n + 1)}
    for r in records:
        assert r["error"] is None, r
        key = r["url"].split("/item/")[1].split("?")[0]
        assert r["sha256"] == hashlib.sha256(item_body(key)).hexdigest()


@pytest.mark.parametrize("suffix", [".jsonl", ".db"])
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM])
def test_interrupted_runs_resume_to_exactly_one_record_each(
    target: TargetServer, tmp_path: Path, suffix: str, sig: int
) -> None:
    src = make_input(tmp_path, target)
    out = tmp_path / f"out{suffix}"
    rng = random.Random(f"{suffix}{sig}")
    kills = 0
    for _ in range(5):
        proc = start(src, out)
        time.sleep(rng.uniform(0.6, 1.6))
        if proc.poll() is None:
            proc.send_signal(sig)
            kills += 1
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        if sig != signal.SIGKILL and proc.returncode != 0:
            assert proc.returncode == 128 + sig, err
            assert b"--resume" in err and b"Traceback" not in err
    assert kills >= 3
    proc = start(src, out)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    check_complete(out)


def test_torn_last_line_is_dropped_and_refetched(target: TargetServer, tmp_path: Path) -> None:
    src = make_input(tmp_path, target, 100)
    out = tmp_path / "out.jsonl"
    assert mf("fetch", str(src), "-o", str(out), "-q").returncode == 0
    lines = out.read_bytes().splitlines(keepends=True)
    out.write_bytes(b"".join(lines[:60]) + lines[60][:25])  # a crash mid-line
    assert mf("fetch", str(src), "-o", str(out), "-q", "--resume").returncode == 0
    check_complete(out, 100)


def test_retry_failed_replaces_error_records(fresh_target: TargetServer, tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_text("".join(f"{fresh_target.url}/fail/1?key={i}\n" for i in range(50)))
    out = tmp_path / "out.jsonl"
    assert mf("fetch", str(src), "-o", str(out), "-q", "--retries", "0").returncode == 0
    assert {r["status"] for r in jsonl(out)} == {503}
    assert mf("fetch", str(src), "-o", str(out), "-q", "--resume", "--retries", "0").returncode == 0
    assert len(jsonl(out)) == 50  # a 503 is an answer: done unless asked
    # error records (not statuses) are what --retry-failed redoes: make some
    src.write_text(src.read_text() + "http://127.0.0.1:1/\n")
    proc = mf("fetch", str(src), "-o", str(out), "-q", "--resume", "--retries", "0")
    assert proc.returncode == 5 and b"--force" in proc.stderr  # the input changed
    assert mf("fetch", str(src), "-o", str(out), "-q", "--resume", "--force", "--retries", "0").returncode == 1
    assert mf("fetch", str(src), "-o", str(out), "-q", "--resume", "--retry-failed",
              "--retries", "0").returncode == 1
    records = jsonl(out)
    assert len(records) == 51 and len({r["id"] for r in records}) == 51
    assert not Path(str(out) + ".resume-part").exists()


def test_cancelled_records_are_redone_on_resume(target: TargetServer, tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_text("".join(f"{target.url}/item/{i}?delay=0.2\n" for i in range(40)))
    for name in ("out.jsonl", "out.db"):
        out = tmp_path / name
        proc = mf("fetch", str(src), "-o", str(out), "-q", "-c", "4", "--deadline", "0.5")
        assert proc.returncode == 1
        records = list(read_records(str(out)))
        assert len(records) == 40
        assert sum(1 for r in records if r["error"] and r["error"]["kind"] == "cancelled") > 20
        assert mf("fetch", str(src), "-o", str(out), "-q", "--resume", "-c", "40", "--per-host", "40").returncode == 0
        records = list(read_records(str(out)))
        assert len(records) == 40 and all(r["error"] is None for r in records)
        assert len({r["id"] for r in records}) == 40


def test_disk_full_is_one_line_and_resumable(target: TargetServer, tmp_path: Path) -> None:
    src = make_input(tmp_path, target, 3000)
    out = tmp_path / "out.jsonl"
    limit = 200_000  # bytes: RLIMIT_FSIZE makes writes past it fail like a full disk

    def cap() -> None:
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = subprocess.run(
        [sys.executable, "-m", "multifetch", "fetch", str(src), "-o", str(out), "-q", "--per-host", "32"],
        capture_output=True, preexec_fn=cap, timeout=120, check=False,
    )
    assert proc.returncode == 4, proc.stderr
    err = proc.stderr.decode()
    assert "error: cannot write" in err and "Traceback" not in err
    assert os.path.getsize(out) <= limit
    assert mf("fetch", str(src), "-o", str(out), "-q", "--resume", "--per-host", "32").returncode == 0
    check_complete(out, 3000)


def test_sqlite_resume_updates_rows(fresh_target: TargetServer, tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_text(f"{fresh_target.url}/bytes/1\nhttp://127.0.0.1:1/\n")
    out = tmp_path / "out.db"
    assert mf("fetch", str(src), "-o", str(out), "-q", "--retries", "0").returncode == 1
    assert mf("fetch", str(src), "-o", str(out), "-q", "--resume", "--retry-failed", "--retries", "0").returncode == 1
    db = sqlite3.connect(out)
    assert db.execute("SELECT count(*), count(DISTINCT id) FROM results").fetchone() == (2, 2)
    assert fresh_target.stats.total == 1  # the successful one was not fetched again


def _large_body(n: int) -> bytes:
    from multifetch.testing import body_for

    block = body_for(64 * 1024, "large")
    return (block * (n // len(block) + 1))[:n]


@pytest.mark.parametrize("ranges", ["yes", "no"])
def test_interrupted_download_continues_with_range(fresh_target: TargetServer, tmp_path: Path, ranges: str) -> None:
    n = 8 * 1024 * 1024
    url = f"{fresh_target.url}/large/{n}?rate={4 * 1024 * 1024}&ranges={ranges}"
    src = tmp_path / "in.txt"
    src.write_text(url + "\n")
    out, bodies = tmp_path / "out.jsonl", tmp_path / "bodies"
    proc = start(src, out, "--save-bodies", str(bodies))
    part = bodies / "1.part"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (not part.exists() or part.stat().st_size < n // 4):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert 0 < part.stat().st_size < n
    assert (bodies / "1.part.meta").read_text() == f'"large-{n}"'
    proc = start(src, out, "--save-bodies", str(bodies))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    (record,) = jsonl(out)
    expected = _large_body(n)
    assert (bodies / "1").read_bytes() == expected
    assert record["sha256"] == hashlib.sha256(expected).hexdigest() and record["size"] == n
    assert sorted(p.name for p in bodies.iterdir()) == ["1"]
    if ranges == "yes":
        assert record["status"] == 206 and fresh_target.stats.counters["range"] == 1
    else:  # the server ignores Range: the download starts over, cleanly
        assert record["status"] == 200 and fresh_target.stats.counters["full"] == 2


def test_resume_knows_the_same_input_by_another_path(fresh_target: TargetServer, tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_text("".join(f"{fresh_target.url}/item/{i}\n" for i in range(20)))
    (tmp_path / "link.txt").symlink_to(src)

    def run(source: str, *extra: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([sys.executable, "-m", "multifetch", "fetch", source, "-o", "out.jsonl", "-q",
                               *extra], capture_output=True, cwd=tmp_path, timeout=60, check=False)

    assert run("in.txt").returncode == 0
    for spelling in (str(src), "link.txt", "./in.txt"):
        proc = run(spelling, "--resume")
        assert proc.returncode == 0, proc.stderr
    assert fresh_target.stats.total == 20  # nothing fetched again
    src.write_text(src.read_text() + f"{fresh_target.url}/item/20\n")  # other content: refused
    proc = run(str(src), "--resume")
    assert proc.returncode == 5 and b"other inputs" in proc.stderr


def test_a_merge_that_cannot_be_written_is_exit_4_and_the_next_resume_finishes_it(
        fresh_target: TargetServer, tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_text("".join(f"{fresh_target.url}/item/{i}\n" for i in range(60)) + "http://127.0.0.1:1/\n")
    out = tmp_path / "out.jsonl"
    assert mf("fetch", str(src), "-o", str(out), "-q", "--retries", "0").returncode == 1
    limit = os.path.getsize(out) // 2  # the merged copy of the output cannot be written

    def cap() -> None:
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = subprocess.run([sys.executable, "-m", "multifetch", "fetch", str(src), "-o", str(out), "-q", "--resume",
                           "--retry-failed", "--retries", "0"], capture_output=True, preexec_fn=cap, timeout=60,
                          check=False)
    assert proc.returncode == 4, proc.stderr
    assert b"File too large" in proc.stderr and b"Traceback" not in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "in.txt", "out.jsonl", "out.jsonl.multifetch.json", "out.jsonl.resume-part"]
    assert mf("fetch", str(src), "-o", str(out), "-q", "--resume", "--retries", "0").returncode == 0  # merges first
    records = jsonl(out)
    assert len(records) == 61 and len({r["id"] for r in records}) == 61
    assert not Path(str(out) + ".resume-part").exists()
