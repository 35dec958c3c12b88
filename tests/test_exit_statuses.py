"""Every exit status of the README's table, reached by the situation the table gives for it.

The statuses are read from the README itself, so a status added there without a way to reach it
here fails this file.
"""

from __future__ import annotations

import re
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from multifetch.testing import TargetServer

from helpers import mf

README = Path(__file__).resolve().parent.parent / "README.md"


def documented_statuses() -> list[int]:
    text = README.read_text()
    table = text[text.index("## Exit statuses"):]
    table = table[:table.index("\n\n", table.index("| status |"))]
    statuses: list[int] = []
    for cell in re.findall(r"^\| ([\d /]+) \|", table, re.MULTILINE):
        statuses += [int(n) for n in cell.split("/")]
    return statuses


def _ok(target: TargetServer, tmp_path: Path) -> subprocess.CompletedProcess[bytes]:
    return mf("fetch", f"{target.url}/bytes/10", "-q")


def _some_failed(target: TargetServer, tmp_path: Path) -> subprocess.CompletedProcess[bytes]:
    return mf("fetch", f"{target.url}/bytes/10", "http://127.0.0.1:1/", "-q", "--retries", "0")


def _usage(target: TargetServer, tmp_path: Path) -> subprocess.CompletedProcess[bytes]:
    return mf("fetch", f"{target.url}/bytes/10", "-c", "0")


def _input(target: TargetServer, tmp_path: Path) -> subprocess.CompletedProcess[bytes]:
    return mf("fetch", str(tmp_path / "missing.txt"))


def _output(target: TargetServer, tmp_path: Path) -> subprocess.CompletedProcess[bytes]:
    src = tmp_path / "in.txt"
    src.write_text("".join(f"{target.url}/item/{i}\n" for i in range(50)))

    def cap() -> None:  # writes past 2 KB fail as on a full disk (the fingerprint fits)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (2048, 2048))

    return subprocess.run([sys.executable, "-m", "multifetch", "fetch", str(src), "-o", str(tmp_path / "o.jsonl"),
                           "-q"], capture_output=True, preexec_fn=cap, timeout=60, check=False)


def _resume_mismatch(target: TargetServer, tmp_path: Path) -> subprocess.CompletedProcess[bytes]:
    out = str(tmp_path / "o.jsonl")
    assert mf("fetch", f"{target.url}/bytes/10", "-o", out, "-q").returncode == 0
    return mf("fetch", f"{target.url}/bytes/10", "-o", out, "-q", "--resume", "-X", "HEAD")


def _internal(target: TargetServer, tmp_path: Path) -> subprocess.CompletedProcess[bytes]:
    code = ("import sys; import multifetch.cli._fetch as f\n"
            "def run_fetch(job): raise RuntimeError('planted')\n"
            "f.run_fetch = run_fetch\n"
            "from multifetch.cli.main import main; sys.argv[0] = 'multifetch'; main()")
    return subprocess.run([sys.executable, "-c", code, "fetch", f"{target.url}/bytes/10"],
                          capture_output=True, timeout=60, check=False)


def _stopped_by(sig: int) -> Callable[[TargetServer, Path], subprocess.CompletedProcess[bytes]]:
    def scenario(target: TargetServer, tmp_path: Path) -> subprocess.CompletedProcess[bytes]:
        target.stats.reset()
        proc = subprocess.Popen([sys.executable, "-m", "multifetch", "fetch", f"{target.url}/delay/30", "-q",
                                 "-o", str(tmp_path / "o.jsonl"), "--grace", "0"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while not target.stats.arrivals() and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    return scenario


SCENARIOS = {
    0: _ok,
    1: _some_failed,
    2: _usage,
    3: _input,
    4: _output,
    5: _resume_mismatch,
    70: _internal,
    130: _stopped_by(signal.SIGINT),
    143: _stopped_by(signal.SIGTERM),
}


def test_the_readme_table_and_these_scenarios_agree() -> None:
    assert sorted(documented_statuses()) == sorted(SCENARIOS)


@pytest.mark.parametrize("status", sorted(SCENARIOS))
def test_each_exit_status_is_reached(fresh_target: TargetServer, tmp_path: Path, status: int) -> None:
    proc = SCENARIOS[status](fresh_target, tmp_path)
    assert proc.returncode == status, proc.stderr.decode()
    err = proc.stderr.decode()
    assert "Traceback" not in err
    if status not in (0, 1):
        assert "multifetch: " in err
