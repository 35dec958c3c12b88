"""Progress where no terminal is: plain status lines on a piped stderr, and a resumed run's
progress and summary counting the whole job."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from multifetch.engine._stats import Statistics
from multifetch.observe._figures import JobProgress
from multifetch.observe._status_lines import status_line
from multifetch.testing import TargetServer

from helpers import jsonl, mf

# the total may be missing from a first line: it is counted while the run starts
LINE = re.compile(r"^multifetch: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (\d+)(?: / (\d+) \([\d.]+%\))? done; "
                  r"\d+ req/s \(avg \d+\); \d+ in flight; .*(ETA \d+s)?$")


def slow_input(tmp_path: Path, target: TargetServer, n: int = 12) -> Path:
    src = tmp_path / "in.txt"
    src.write_text("".join(f"{target.url}/delay/0.25?i={i}\n" for i in range(n)))
    return src


def status_lines(stderr: bytes) -> list[re.Match[str]]:
    lines = [line for line in stderr.decode().splitlines() if re.match(r"multifetch: \d{4}-", line)]
    matches = [LINE.match(line) for line in lines]
    assert all(matches), lines
    return [m for m in matches if m]


def test_a_piped_stderr_gets_plain_status_lines(target: TargetServer, tmp_path: Path) -> None:
    src = slow_input(tmp_path, target)
    proc = mf("fetch", str(src), "-o", str(tmp_path / "o.jsonl"), "-c", "2", "--per-host", "2",
              "--log-every", "0.3s")
    assert proc.returncode == 0, proc.stderr
    lines = status_lines(proc.stderr)
    assert len(lines) >= 3, proc.stderr
    done = [int(m.group(1)) for m in lines]
    assert done == sorted(done) and done[0] < 12 and {m.group(2) for m in lines} - {None} == {"12"}
    assert b"\x1b" not in proc.stderr and b"\r" not in proc.stderr  # no escape codes, no redraws
    assert b"records" in proc.stderr  # the summary follows


def test_status_lines_are_off_when_asked(target: TargetServer, tmp_path: Path) -> None:
    src = slow_input(tmp_path, target, 6)
    for flag in ("--no-progress", "-q"):
        proc = mf("fetch", str(src), "-o", str(tmp_path / f"o{flag}.jsonl"), "-c", "2", "--log-every", "0.2s", flag)
        assert proc.returncode == 0 and not status_lines(proc.stderr), proc.stderr
    bad = mf("fetch", str(src), "-o", str(tmp_path / "bad.jsonl"), "--log-every", "0s")
    assert bad.returncode == 2
    assert bad.stderr == b"multifetch: error: bad --log-every '0s': use a duration like 30s, 500ms, 5m\n"


def test_a_status_line_says_why_requests_wait_and_what_failed() -> None:
    stats = Statistics(elapsed=10.0, inputs_read=500, done=400, in_flight=8, queued=92, waiting_retry=3,
                       attempts=420, retries=20, errors={"timeout": 5, "connect": 2}, bytes=3 * 1024 * 1024,
                       waiting={"host limit": 80, "rate limit": 12})
    progress = JobProgress(earlier=600, total=2000)
    progress.figures(Statistics(elapsed=5.0, inputs_read=300, done=200, in_flight=8, queued=0, waiting_retry=0,
                                attempts=200, retries=0), now=100.0)
    line = status_line(progress.figures(stats, now=105.0), now=0)
    assert line == ("multifetch: 1970-01-01T00:00:00Z 1,000 / 2,000 (50.0%) done; 40 req/s (avg 40); "
                    "8 in flight; 92 queued (host limit 80, rate limit 12); 3 waiting to retry; "
                    "errors 7 (connect 2, timeout 5); 3.0 MB; ETA 25s")


@pytest.mark.parametrize("suffix", [".jsonl", ".db"])
def test_a_resumed_run_counts_the_whole_job(target: TargetServer, tmp_path: Path, suffix: str) -> None:
    src = slow_input(tmp_path, target, 20)
    out = tmp_path / f"out{suffix}"
    first = mf("fetch", str(src), "-o", str(out), "-c", "8", "--per-host", "8", "-q")
    assert first.returncode == 0, first.stderr
    # as if the first run had stopped after 12 records: the resumed run fetches the other 8
    if suffix == ".jsonl":
        out.write_text("".join(json.dumps(r) + "\n" for r in jsonl(out)[:12]))
    else:
        with sqlite3.connect(out) as db:
            db.execute("DELETE FROM results WHERE rowid > 12")
    proc = mf("fetch", str(src), "-o", str(out), "--resume", "-c", "1", "--per-host", "1", "--log-every", "0.4s",
              "--summary-json", str(tmp_path / "s.json"))
    assert proc.returncode == 0, proc.stderr
    lines = status_lines(proc.stderr)
    assert lines and all(12 <= int(m.group(1)) <= 20 for m in lines), proc.stderr
    assert any(12 < int(m.group(1)) < 20 and m.group(2) == "20" for m in lines), proc.stderr
    summary = json.loads((tmp_path / "s.json").read_text())
    assert (summary["records"], summary["earlier_records"], summary["statuses"]) == (20, 12, {"200": 20})
    # the throughput is this run's: 8 records one at a time, a quarter of a second each
    assert summary["throughput"] <= 8 / (8 * 0.25) + 0.5
