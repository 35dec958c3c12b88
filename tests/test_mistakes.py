"""A user's mistakes get one line and a documented exit status (or a clear exception), never an
internal error, a traceback or a surprise."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
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


def one_error_line(proc: subprocess.CompletedProcess[bytes], status: int = 2) -> str:
    assert proc.returncode == status, proc.stderr.decode()
    lines = proc.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("multifetch: error: "), lines
    return lines[0]


@pytest.mark.parametrize("flags", [[], ["--overwrite"], ["--resume"]])
def test_an_output_that_is_a_folder_is_refused(tmp_path: Path, flags: list[str]) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "keep").write_text("x")
    line = one_error_line(mf("fetch", "http://127.0.0.1:1/", "-o", str(folder), "-q", *flags))
    assert "is a folder" in line
    assert (folder / "keep").read_text() == "x"


def test_a_bodies_folder_that_is_a_file_is_refused(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep")
    out = tmp_path / "out.jsonl"
    line = one_error_line(mf("fetch", "http://127.0.0.1:1/", "-o", str(out), "--save-bodies", str(victim)))
    assert "not a folder" in line
    assert victim.read_text() == "keep" and not out.exists()
    with pytest.raises(multifetch.UsageError, match="not a folder"):
        multifetch.Client(bodies=str(victim))


@pytest.mark.parametrize("name", ["out.xlsx", "out.jsonl.gz", "out.feather"])
def test_an_unknown_output_extension_is_refused_unless_format_says(target: TargetServer, tmp_path: Path,
                                                                   name: str) -> None:
    out = tmp_path / name
    line = one_error_line(mf("fetch", f"{target.url}/bytes/1", "-o", str(out), "-q"))
    assert "--format" in line and not out.exists()
    proc = mf("fetch", f"{target.url}/bytes/1", "-o", str(out), "-q", "--format", "jsonl")
    assert proc.returncode == 0, proc.stderr.decode()
    assert len(jsonl(out)) == 1


@pytest.mark.parametrize("name", ["out.JSONL", "out.ndjson", "out.json", "out.sqlite3", "results"])
def test_known_output_extensions_are_taken(target: TargetServer, tmp_path: Path, name: str) -> None:
    proc = mf("fetch", f"{target.url}/bytes/1", "-o", str(tmp_path / name), "-q")
    assert proc.returncode == 0, proc.stderr.decode()


@pytest.mark.parametrize("args", [["-c", "0"], ["--per-host", "x"], ["--no-such-option"], ["--engine", "wget"]])
def test_bad_option_values_are_one_line(args: list[str]) -> None:
    line = one_error_line(mf("fetch", "http://127.0.0.1:1/", *args))
    assert "Usage:" not in line


def broken(*args: str) -> subprocess.CompletedProcess[bytes]:
    """The CLI with a bug planted in the run."""
    code = ("import sys; import multifetch.cli._fetch as f\n"
            "def run_fetch(job): raise RuntimeError('planted')\n"
            "f.run_fetch = run_fetch\n"
            "from multifetch.cli.main import main; sys.argv[0] = 'multifetch'; main()")
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, timeout=60, check=False)


def test_an_internal_error_says_rerun_with_traceback_and_that_works_anywhere() -> None:
    line = one_error_line(broken("fetch", "http://127.0.0.1:1/"), status=70)
    assert line == "multifetch: error: internal error: RuntimeError: planted (rerun with --traceback)"
    for args in (["--traceback", "fetch", "http://127.0.0.1:1/"], ["fetch", "--traceback", "http://127.0.0.1:1/"],
                 ["fetch", "http://127.0.0.1:1/", "--traceback"]):
        proc = broken(*args)
        assert proc.returncode == 70, proc.stderr.decode()
        err = proc.stderr.decode()
        assert "Traceback (most recent call last)" in err and "RuntimeError: planted" in err
        assert err.splitlines()[-1] == "multifetch: error: internal error: RuntimeError: planted"


def test_one_url_string_is_one_input(target: TargetServer) -> None:
    (result,) = multifetch.fetch(f"{target.url}/bytes/3")  # type: ignore[arg-type]
    assert result.status_code == 200 and len(result.content) == 3
    (result,) = multifetch.fetch({"url": f"{target.url}/bytes/2", "id": "a"})  # type: ignore[arg-type]
    assert result.id == "a" and result.size == 2
    with multifetch.Client() as client:
        assert [r.size for r in client.map(f"{target.url}/bytes/4")] == [4]  # type: ignore[arg-type]


@pytest.mark.parametrize("scheme_url", ["ftp://127.0.0.1/x", "file:///etc/passwd", "gopher://127.0.0.1/"])
def test_other_schemes_are_refused_as_the_readme_says(target: TargetServer, scheme_url: str) -> None:
    """An input naming another scheme is invalid_input (it is never sent); a redirect to one is blocked."""
    (given,) = multifetch.fetch([scheme_url])
    assert given.error is not None and given.error.kind == "invalid_input" and given.attempts == 0
    (redirected,) = multifetch.fetch([f"{target.url}/redirect-to?url={scheme_url}"], retries=0)
    assert redirected.error is not None and redirected.error.kind == "blocked"


_SLOW_IMPORT = """
import os, sys, time

class _Slow:
    '''Makes the import of click (the command's first import after its entry point) take 30 s.'''
    def find_spec(self, name, path=None, target=None):
        if name == "click":
            open(os.environ["MF_IMPORTING"], "w").close()
            time.sleep(30)
        return None

sys.meta_path.insert(0, _Slow())
"""


def _interrupt_while_importing(tmp_path: Path, entry: str, sig: int, *args: str) -> tuple[int, str, bytes]:
    (tmp_path / "slow").mkdir()
    (tmp_path / "slow" / "sitecustomize.py").write_text(_SLOW_IMPORT)
    mark = tmp_path / "importing"
    env = {**os.environ, "MF_IMPORTING": str(mark),
           "PYTHONPATH": os.pathsep.join([str(tmp_path / "slow"), *sys.path])}
    command = (["-m", "multifetch"] if entry == "-m" else
               ["-c", "import sys; from multifetch.cli.main import main; sys.argv[0] = 'multifetch'; main()"])
    proc = subprocess.Popen([sys.executable, *command, "fetch", "http://127.0.0.1:1/", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not mark.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    assert mark.exists(), proc.communicate()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=10)
    return proc.returncode, err.decode(), out


@pytest.mark.parametrize("entry", ["-m", "main"])
def test_ctrl_c_while_starting_is_one_line_and_130(tmp_path: Path, entry: str) -> None:
    status, err, out = _interrupt_while_importing(tmp_path, entry, signal.SIGINT)
    assert status == 130, err
    assert err.splitlines() == ["multifetch: error: interrupted while starting: nothing was done"]
    assert out == b""


def test_sigterm_while_starting_is_143_and_says_how_to_go_on(tmp_path: Path) -> None:
    # an earlier run's output may be there: going on means --resume, said as a command to copy
    status, err, _ = _interrupt_while_importing(tmp_path, "-m", signal.SIGTERM, "-o", "out.jsonl")
    assert status == 143, err
    assert err.splitlines() == ["multifetch: error: interrupted while starting: nothing was done; to go on: "
                                "multifetch fetch http://127.0.0.1:1/ -o out.jsonl --resume"]


@pytest.mark.parametrize("where", ["missing/s.json", "folder"])
def test_a_summary_json_path_that_cannot_be_written_is_refused_first(tmp_path: Path, where: str) -> None:
    (tmp_path / "folder").mkdir()
    out = tmp_path / "out.jsonl"
    proc = mf("fetch", "http://127.0.0.1:1/", "-o", str(out), "--summary-json", str(tmp_path / where))
    line = one_error_line(proc)
    assert "--summary-json" in line
    assert not out.exists()  # refused before the run


def test_counts_take_any_whole_number_and_refuse_the_rest_by_name(target: TargetServer) -> None:
    import numpy as np

    url = target.url + "/bytes/10"
    # NumPy's integers and floats with nothing after the point are the counts they say
    for given in ({"concurrency": np.int64(8), "per_host": np.int32(2)}, {"concurrency": 8.0, "per_host": 2.0},
                  {"max_body_size": 1e6}):
        assert [r.status for r in multifetch.fetch([url, url], **given)] == [200, 200], given  # type: ignore[arg-type]
    for name, value in (("concurrency", 2.5), ("per_host", "8"), ("burst", True), ("concurrency", 0),
                        ("max_body_size", -1), ("max_body_size", 1.5)):
        with pytest.raises(multifetch.UsageError, match=f"^{name}: must be a whole number"):
            list(multifetch.fetch([url], **{name: value}))  # type: ignore[arg-type]
