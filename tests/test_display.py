"""What a person sees: the summary's figures, live progress on a terminal, silence when piped."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pexpect

from multifetch.testing import TargetServer

from helpers import mf


def test_summary_figures_match_known_answers(target: TargetServer, tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_text(
        "".join(f"{target.url}/delay/0.1?i={i}\n" for i in range(30))
        + "".join(f"{target.url}/status/500?i={i}\n" for i in range(5))
        + "http://127.0.0.1:1/\n"
    )
    out = tmp_path / "o.jsonl"
    proc = mf("fetch", str(src), "-o", str(out), "--retries", "0", "--per-host", "40",
              "--summary-json", str(tmp_path / "s.json"))
    assert proc.returncode == 1
    s = json.loads((tmp_path / "s.json").read_text())
    # answered: any status; ok: below 400, as Result.ok; errors: no answer
    assert (s["records"], s["answered"], s["ok"], s["errors"]) == (36, 35, 30, 1)
    assert s["statuses"] == {"200": 30, "500": 5}
    assert s["error_kinds"]["connect"]["count"] == 1
    assert s["error_kinds"]["connect"]["example"]["url"] == "http://127.0.0.1:1/"
    assert 0.1 <= s["latency"]["p90"] < 0.5  # the 30 delayed answers dominate the upper quantiles
    assert s["latency"]["max"] >= 0.1
    assert s["retries"] == 0 and s["bytes"] > 0
    assert set(s) >= {"records", "answered", "ok", "errors", "statuses", "error_kinds", "latency", "wall_seconds",
                      "throughput", "bytes", "retries", "slowest_hosts", "most_failing_hosts", "exit_status"}
    assert b"p50" in proc.stderr and b"req/s" in proc.stderr
    assert b"35 (30 ok)" in proc.stderr


def test_progress_shows_on_a_terminal(target: TargetServer, tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_text("".join(f"{target.url}/delay/0.5?i={i}\n" for i in range(12)))
    child = pexpect.spawn(sys.executable, ["-m", "multifetch", "fetch", str(src), "-o", str(tmp_path / "o.jsonl"),
                                           "-c", "2", "--per-host", "2"],
                          timeout=60, dimensions=(30, 160))
    child.expect(r"done")
    screen = child.before.decode(errors="replace") + child.after.decode()
    child.expect(r"in flight")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert "/ 12" in screen or "/ 12" in child.before.decode(errors="replace")


def test_no_progress_when_piped(target: TargetServer, tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_text("".join(f"{target.url}/delay/0.3?i={i}\n" for i in range(6)))
    proc = mf("fetch", str(src), "-o", str(tmp_path / "o.jsonl"), "-c", "2", "--per-host", "2")
    assert b"in flight" not in proc.stderr
    assert b"records" in proc.stderr  # the summary is still there
    quiet = mf("fetch", str(src), "-o", str(tmp_path / "q.jsonl"), "-q")
    assert quiet.stderr == b""


def test_verbose_logs_retry_decisions(target: TargetServer) -> None:
    proc = mf("fetch", f"{target.url}/fail/1?key=verbose", "-v", "-q")
    assert b"retrying 1 (status 503)" in proc.stderr
