"""Property tests of whole runs: whatever the input, exactly one record per input, and no crash.

Hypothesis writes input files of hostile lines (see ``strategies``: URLs with any characters, wrong
schemes, no host, ports out of range, IPv6 and numeric literals, huge paths; JSON specs with any
method, header names and values with any characters, bodies of any bytes, any ids, timeouts and
meta; broken JSON, bytes that are not UTF-8, comments, blanks) and runs them, many to a run,
against the target server: through the CLI with each engine (curl, ``--engine requests``,
``-P 2``), interrupted (``--deadline``, ``kill -9``) and finished with ``--resume``, and through the
API (``fetch``, ``Client(processes=2).map``). Each run must end with a documented exit status and no
traceback, and hold one record for every input line, under the id the README gives it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import multifetch
from multifetch import InvalidInput, Request, make_request
from multifetch.testing import TargetServer
from strategies import Line, World, expected_ids, json_values, lines, sendable_lines, spec_dicts, urls

from helpers import jsonl

ERROR_KINDS = {"invalid_input", "dns", "connect", "timeout", "tls", "protocol", "reset", "too_many_redirects",
               "body_too_large", "blocked", "host_unavailable", "proxy", "write", "cancelled", "other"}
#: Options of every run: short timeouts (some inputs hang the server until then), one retry.
RUN_OPTIONS = ("-q", "--timeout", "2", "--connect-timeout", "1", "--retries", "1", "-c", "32")
ENGINES = {"curl": (), "requests": ("--engine", "requests"), "processes": ("-P", "2")}
#: Few runs of many inputs each: every run starts a Python (and -P 2 two more).
RUNS = settings(max_examples=4, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.large_base_example])


@pytest.fixture(scope="module")
def closed_port() -> int:
    """A loopback port nobody listens on (bound, then let go)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def draw_world(data: st.DataObject, target: TargetServer, closed_port: int) -> World:
    return World(port=target.port, closed_port=closed_port, proxied=data.draw(st.booleans(), label="proxied"))


def draw_sources(data: st.DataObject, world: World, most: int = 70) -> list[list[Line]]:
    """One or two input files: hostile lines of every kind, among lines that are mostly sent."""
    one = st.builds(lambda hostile, sendable, seed: _interleave(hostile, sendable, seed),
                    st.lists(lines(world), min_size=most // 4, max_size=most // 2),
                    st.lists(sendable_lines(world), min_size=most // 4, max_size=most // 2), st.integers(0, 2**32))
    return data.draw(st.lists(one, min_size=1, max_size=2), label="sources")


def _interleave(a: list[Line], b: list[Line], seed: int) -> list[Line]:
    import random

    merged = a + b
    random.Random(seed).shuffle(merged)
    return merged


def environment(world: World) -> dict[str, str]:
    """The environment of a run: no proxy, or the target server as the proxy for every URL."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    if world.proxied:
        for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
            env[name] = world.target
        env["no_proxy"] = env["NO_PROXY"] = ""
    return env


@contextmanager
def proxied_here(world: World) -> Iterator[None]:
    """The environment of ``environment(world)`` in this process, for API runs."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(environment(world))
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def write_sources(folder: Path, sources: list[list[Line]]) -> list[str]:
    paths = []
    for number, source in enumerate(sources, 1):
        path = folder / f"in{number}.txt"
        path.write_bytes(b"\n".join(line.raw for line in source) + b"\n")
        paths.append(str(path))
    return paths


def cli(args: list[str], env: dict[str, str], stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "multifetch", *args], input=stdin, capture_output=True,
                          env=env, timeout=120, check=False)


def check_stderr(stderr: bytes) -> None:
    """Nothing but multifetch's own one-line messages (and the resume command under one)."""
    text = stderr.decode("utf-8", "replace")
    assert "Traceback" not in text, text[-3000:]
    for line in text.splitlines():
        assert line.startswith(("multifetch: ", "  multifetch ")), text[-3000:]


def check_records(records: list[dict[str, Any]], sources: list[list[Line]]) -> None:
    """One record per input line, under its id; error kinds from the README's list."""
    ids = [r["id"] for r in records]
    want = expected_ids(sources)
    assert len(ids) == len(want), (len(ids), len(want))
    assert Counter(ids) == Counter(want), (Counter(ids) - Counter(want), Counter(want) - Counter(ids))
    for record in records:
        error = record["error"]
        assert error is None or error["kind"] in ERROR_KINDS, record
        assert error is None or "Traceback" not in error["message"], record


def exit_status_of(records: list[dict[str, Any]]) -> int:
    return 1 if any(r["error"] is not None for r in records) else 0


@pytest.mark.parametrize("engine", list(ENGINES))
@RUNS
@given(data=st.data())
def test_cli_gives_one_record_per_input(target: TargetServer, closed_port: int, engine: str,
                                        data: st.DataObject) -> None:
    world = draw_world(data, target, closed_port)
    sources = draw_sources(data, world)
    from_stdin = len(sources) == 1 and data.draw(st.booleans(), label="stdin")
    with tempfile.TemporaryDirectory(prefix="mf-fuzz-") as folder:
        paths = write_sources(Path(folder), sources)
        out = Path(folder) / "out.jsonl"
        inputs = ["-"] if from_stdin else paths
        stdin = Path(paths[0]).read_bytes() if from_stdin else None
        # --deadline: a bound on the run, should a spec's own long timeout meet a hanging server
        proc = cli(["fetch", *inputs, "-o", str(out), *RUN_OPTIONS, "--deadline", "30", *ENGINES[engine]],
                   environment(world), stdin)
        check_stderr(proc.stderr)
        records = jsonl(out)
        check_records(records, sources)
        assert proc.returncode == exit_status_of(records), (proc.returncode, proc.stderr[-2000:])


@RUNS
@given(data=st.data())
def test_an_interrupted_run_is_finished_by_resume(target: TargetServer, closed_port: int,
                                                  data: st.DataObject) -> None:
    world = draw_world(data, target, closed_port)
    sources = draw_sources(data, world, most=50)
    slow = [Line(f"{target.url}/item/slow-{i}?delay=0.1".encode()) for i in range(30)]
    sources[0] = sources[0] + slow  # something is still in flight when the run is cut short
    engine = data.draw(st.sampled_from(list(ENGINES)), label="engine")
    cut = data.draw(st.sampled_from(["deadline", "kill"]), label="cut")
    after = data.draw(st.floats(0.05, 0.8), label="after")
    env = environment(world)
    with tempfile.TemporaryDirectory(prefix="mf-fuzz-") as folder:
        paths = write_sources(Path(folder), sources)
        out = Path(folder) / "out.jsonl"
        args = ["fetch", *paths, "-o", str(out), *RUN_OPTIONS, "-c", "4", *ENGINES[engine]]
        if cut == "deadline":
            proc = cli([*args, "--deadline", f"{after:.3f}"], env)
            check_stderr(proc.stderr)
            assert proc.returncode in (0, 1), proc.stderr[-2000:]
        else:
            started = subprocess.Popen([sys.executable, "-m", "multifetch", *args], env=env,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            time.sleep(0.3 + after)  # the imports, then part of the run
            started.send_signal(signal.SIGKILL)
            started.communicate(timeout=30)
        for _ in range(2):  # one resume should do; a second one must be harmless
            proc = cli([*args, "--resume"], env)
            check_stderr(proc.stderr)
            assert proc.returncode in (0, 1), proc.stderr[-2000:]
        records = jsonl(out)
        check_records(records, sources)
        assert not any(r["error"] and r["error"]["kind"] == "cancelled" for r in records)


def _api_inputs(world: World) -> st.SearchStrategy[list[Any]]:
    """What a program hands to ``fetch``: URL strings, spec dicts, and ``Request`` objects made
    with ``make_request`` from bodies of any bytes (None where it refused them, as documented)."""

    def request(url: str, method: str, body: bytes, own_id: str | None, meta: Any) -> Request | None:
        try:
            return make_request(url, method=method, data=body, id=own_id, meta=meta)
        except InvalidInput:
            return None

    requests_ = st.builds(request, urls(world), st.sampled_from(["POST", "PUT", "GET", "É", "G T"]),
                          st.binary(max_size=200) | st.just(b"\x00" * 100),
                          st.none() | st.text(min_size=1, max_size=8).map("api-{}".format), json_values)
    return st.lists(urls(world) | spec_dicts(world) | requests_, min_size=1, max_size=60)


def _api_expected_ids(specs: list[Any]) -> list[str]:
    ids = []
    for position, spec in enumerate(specs):
        own = spec.get("id") if isinstance(spec, dict) else getattr(spec, "id", None)
        ids.append(str(own) if own is not None else str(position))
    return ids


@settings(max_examples=4, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(data=st.data())
def test_the_api_gives_one_result_per_input(target: TargetServer, closed_port: int, data: st.DataObject) -> None:
    world = draw_world(data, target, closed_port)
    specs = [s for s in data.draw(_api_inputs(world), label="specs") if s is not None]
    want = Counter(_api_expected_ids(specs))
    options = {"timeout": 2, "connect_timeout": 1, "retries": 1, "deadline": 30}
    with proxied_here(world):
        for transport in ("curl", "requests"):
            results = list(multifetch.fetch(specs, transport=transport, **options))
            assert Counter(r.id for r in results) == want, transport
        with multifetch.Client(processes=2, **options) as client:
            results = list(client.map(specs))
    assert Counter(r.id for r in results) == want, "processes=2"
    for result in results:
        assert result.error is None or result.error.kind in ERROR_KINDS, result.error
