"""A user's mistakes get one line and a documented exit status (or a clear exception), never an
internal error, a traceback or a surprise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import multifetch
from multifetch.testing import TargetServer

from helpers import jsonl, mf


@pytest.mark.parametrize("agent", ["a\r\nX-Injected: 1", "a\nb", "a\rb"])
def test_a_user_agent_with_a_line_break_is_refused(target: TargetServer, tmp_path: Path, agent: str) -> None:
    out = tmp_path / "out.jsonl"
    proc = mf("fetch", f"{target.url}/headers", "-o", str(out), "--user-agent", agent, "-q")
    assert proc.returncode == 2
    lines = proc.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("multifetch: error: header User-Agent"), lines
    assert not out.exists()  # refused before anything is written


@pytest.mark.parametrize("agent", ["a\r\nX-Injected: 1", "a\nb", "a\rb", "a\0b"])
def test_the_api_refuses_a_user_agent_with_a_line_break(agent: str) -> None:
    with pytest.raises(multifetch.InvalidInput, match="User-Agent"):
        multifetch.Client(user_agent=agent)


def test_client_default_headers_are_checked_as_spec_headers() -> None:
    with pytest.raises(multifetch.InvalidInput, match="line break"):
        multifetch.Client(headers={"X-A": "1\r\nX-Injected: 1"})


def test_a_plain_user_agent_is_sent(target: TargetServer, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    proc = mf("fetch", f"{target.url}/headers", "-o", str(out), "--user-agent", "probe/1.0 (x)", "-q",
              "--save-bodies", str(tmp_path / "b"))
    assert proc.returncode == 0, proc.stderr.decode()
    (record,) = jsonl(out)
    assert "probe/1.0 (x)" in Path(record["body_path"]).read_text()


def without_requests(*args: str) -> subprocess.CompletedProcess[bytes]:
    """The CLI in an interpreter where the requests package cannot be imported."""
    code = ("import sys; sys.modules['requests'] = None; from multifetch.cli.main import main; "
            "sys.argv[0] = 'multifetch'; main()")
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, timeout=60, check=False)


def test_the_requests_engine_without_requests_says_what_to_install(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out.jsonl"
    proc = without_requests("fetch", "http://127.0.0.1:1/", "--engine", "requests", "-o", str(out))
    assert proc.returncode == 2, proc.stderr.decode()
    assert proc.stderr.decode().splitlines() == [
        "multifetch: error: the requests engine needs the requests package: pip install 'multifetch[requests]'"]
    assert not out.exists()
    monkeypatch.setitem(sys.modules, "requests", None)
    with pytest.raises(multifetch.UsageError, match=r"pip install 'multifetch\[requests\]'"):
        multifetch.Client(transport="requests")
    with pytest.raises(multifetch.UsageError, match=r"multifetch\[requests\]"):
        list(multifetch.fetch(["http://127.0.0.1:1/"], transport="requests"))
