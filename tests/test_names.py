"""Host names through the system resolver never stall a transfer (issue 15).

Every client runs in a private mount namespace whose /etc/hosts maps the names to 127.0.0.1 (IPv4
only) and whose resolv.conf names the test's own DNS server on a 127.53.x.y address, which answers
AAAA questions late (3 s) or never: the machine's DNS server is never asked anything. A name's
IPv4 address is known at once, so no transfer should wait for its IPv6 answer (RFC 8305: at most
a short resolution delay), and no slow or failing name should hold the others.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from multifetch.testing import PrivateResolver, host_names, namespace_problem
from multifetch.testing._nginx import Nginx

AAAA_DELAY = 3.0
STALL = 1.0  # no record's elapsed above this: far below the AAAA delay, far above a loopback request


@pytest.fixture(scope="module", autouse=True)
def _namespaces() -> None:
    problem = namespace_problem()
    if problem:
        pytest.skip(f"name tests need a private mount namespace: {problem}")


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """nginx on 127.0.0.1 serving /1k (1,024 bytes); yields its port."""
    root = tmp_path_factory.mktemp("nginx-names")
    (root / "www").mkdir()
    (root / "www" / "1k").write_bytes(b"x" * 1024)
    with Nginx(root, worker_connections=4096) as url:
        yield int(url.rsplit(":", 1)[1])


@pytest.fixture(scope="module")
def counted_web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """nginx as ``web``, logging each request's connection; yields its port and its log."""
    root = tmp_path_factory.mktemp("nginx-counted")
    (root / "www").mkdir()
    (root / "www" / "1k").write_bytes(b"x" * 1024)
    with Nginx(root, worker_connections=4096, access_log=True) as url:
        yield int(url.rsplit(":", 1)[1]), root / "access.log"


def url_file(folder: Path, names: list[str], port: int, n: int) -> Path:
    src = folder / "urls.txt"
    src.write_text("".join(f"http://{names[i % len(names)]}:{port}/1k?i={i}\n" for i in range(n)))
    return src


def loopback(names: list[str]) -> dict[str, str]:
    return dict.fromkeys(names, "127.0.0.1")


def cli(env: PrivateResolver, src: Path, *args: str, timeout: float = 90) -> tuple[list[dict[str, Any]], float]:
    """The CLI run in the namespace on ``src``: its records and the wall time."""
    out = env.folder / "out.jsonl"
    started = time.monotonic()
    done = env.run([sys.executable, "-m", "multifetch", "fetch", str(src), "-o", str(out), "-q", *args],
                   capture_output=True, timeout=timeout)
    wall = time.monotonic() - started
    assert out.exists(), done.stderr.decode()[-2000:]
    records = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    return records, wall


def api(env: PrivateResolver, src: Path, timeout: float = 90, **options: Any) -> tuple[list[dict[str, Any]], float]:
    """``multifetch.fetch`` in a child Python in the namespace: (status, error kind, elapsed) of each result."""
    code = (
        "import json, sys, multifetch\n"
        "urls = [line.strip() for line in open(sys.argv[1])]\n"
        "options = json.loads(sys.argv[2])\n"
        "for r in multifetch.fetch(urls, bodies='hash', **options):\n"
        "    print(json.dumps({'status': r.status, 'error': r.error and {'kind': r.error.kind},"
        " 'elapsed': r.elapsed}))\n"
    )
    started = time.monotonic()
    done = env.run([sys.executable, "-c", code, str(src), json.dumps(options)], capture_output=True,
                   timeout=timeout)
    wall = time.monotonic() - started
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return [json.loads(line) for line in done.stdout.splitlines()], wall


def shape(records: list[dict[str, Any]], wall: float) -> str:
    """What a run did, for the assertion messages."""
    elapsed = sorted(r["elapsed"] for r in records) or [0.0]
    kinds = Counter((r["error"] or {}).get("kind") for r in records)
    statuses = Counter(r["status"] for r in records)

    def at(q: float) -> float:
        return elapsed[min(len(elapsed) - 1, int(q * len(elapsed)))]

    return (f"{len(records)} records in {wall:.1f} s; statuses {dict(statuses)}; errors {dict(kinds)}; elapsed "
            f"p50 {statistics.median(elapsed):.3f} p90 {at(0.9):.3f} p99 {at(0.99):.3f} max {elapsed[-1]:.3f} s; "
            f"{sum(e > STALL for e in elapsed)} above {STALL} s")


def assert_no_stall(records: list[dict[str, Any]], wall: float, n: int, wall_max: float) -> None:
    what = shape(records, wall)
    assert len(records) == n, what
    assert all(r["status"] == 200 and r["error"] is None for r in records), what
    assert max(r["elapsed"] for r in records) <= STALL, what
    assert wall <= wall_max, what


# ---- many names, slow AAAA answers ------------------------------------------------------------------

@pytest.mark.parametrize(("names", "aaaa_delay", "requests", "conns", "deadline"), [
    (1000, AAAA_DELAY, 20_000, 256, 10),  # the run: AAAA after 3 s, -c 256 --per-host 4
    (100, None, 2000, 64, 12),  # AAAA never answered (glibc would wait 5 s × 2 attempts for it)
], ids=["1000_names_slow_aaaa", "aaaa_never_answered"])
def test_cli_names_with_slow_or_silent_aaaa(web: int, names: int, aaaa_delay: float | None, requests: int,
                                            conns: int, deadline: int) -> None:
    hosts = host_names(names)
    with PrivateResolver(loopback(hosts), aaaa_delay=aaaa_delay) as env:
        src = url_file(env.folder, hosts, web, requests)
        records, wall = cli(env, src, "-c", str(conns), "--per-host", "4", "--deadline", str(deadline))
    assert_no_stall(records, wall, requests, wall_max=deadline)


def test_api_names_slow_aaaa(web: int) -> None:
    names = host_names(300)
    with PrivateResolver(loopback(names), aaaa_delay=AAAA_DELAY) as env:
        src = url_file(env.folder, names, web, 6000)
        records, wall = api(env, src, concurrency=256, per_host=4, deadline=8)
    assert_no_stall(records, wall, 6000, wall_max=8)


@pytest.mark.parametrize("args", [(), ("-P", "2")], ids=["one-process", "processes"])
def test_names_in_etc_hosts_ask_the_dns_server_nothing(web: int, args: tuple[str, ...]) -> None:
    """The system resolver answers a name listed in /etc/hosts from there, for both families (as
    curl and ``getent ahosts`` see it): no question about its missing IPv6 address goes to the DNS
    server, where it would hold a thread for the 3 s the server takes (and load a real resolver)."""
    names = host_names(200)
    with PrivateResolver(loopback(names), aaaa_delay=AAAA_DELAY) as env:
        src = url_file(env.folder, names, web, 2000)
        records, wall = cli(env, src, "-c", "64", "--per-host", "4", "--deadline", "8", *args)
        asked = env.dns.counts()
    assert_no_stall(records, wall, 2000, wall_max=8)
    assert not asked, f"{sum(asked.values())} DNS questions, e.g. {sorted(asked)[:3]}"


def test_names_keep_their_addresses_across_new_shares(web: int) -> None:
    """libcurl's DNS cache is replaced every ``SHARE_HOSTS`` hosts (here 50): names told to the
    one before are handed to the new one, so libcurl never looks a name up itself (it would wait
    3 s for the AAAA answer, and ask again what was asked). 50 names, their transfers run; 450
    others (nine new shares); then the first 50 again, their connections closed meanwhile."""
    names = host_names(500)
    code = (
        "import json, sys, time, multifetch\n"
        "import multifetch.transports.curl as curl\n"
        "curl.SHARE_HOSTS = 50\n"
        "lines = [line.strip() for line in open(sys.argv[1])]\n"
        "def urls():\n"
        "    yield from lines[:100]\n"
        "    time.sleep(1)\n"
        "    yield from lines[100:1000]\n"
        "    time.sleep(1)\n"
        "    yield from lines[1000:]\n"
        "for r in multifetch.fetch(urls(), bodies='hash', concurrency=16, per_host=2, deadline=20):\n"
        "    print(json.dumps({'status': r.status, 'error': r.error and {'kind': r.error.kind},"
        " 'elapsed': r.elapsed}))\n"
    )
    order = [*names[:50], *names[:50], *(name for name in names[50:] for _ in range(2)), *names[:50]]
    with PrivateResolver(records={name: ["127.0.0.1"] for name in names}, aaaa_delay=AAAA_DELAY) as env:
        src = env.folder / "urls.txt"
        src.write_text("".join(f"http://{name}:{web}/1k?i={i}\n" for i, name in enumerate(order)))
        started = time.monotonic()
        done = env.run([sys.executable, "-c", code, str(src)], capture_output=True, timeout=60)
        wall = time.monotonic() - started
        asked = env.dns.total("A")
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert_no_stall(records, wall, len(order), wall_max=20)
    # Each name by multifetch's resolver only: once alone when its AAAA is late, and once more with
    # the AAAA for the names whose lookup of both families began (at most 32 at once, 3 s each).
    assert len(names) <= asked <= len(names) + 2 * 32, asked


# ---- connections ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("args", "per_name"), [((), 1.75), (("-P", "2"), 2.5)], ids=["one-process", "processes"])
def test_many_names_reuse_their_connections(counted_web: tuple[int, Path], args: tuple[str, ...],
                                            per_name: float) -> None:
    """300 names, 10 requests each in turn, 64 connections, 4 a host: a host's requests mostly
    share its connections. Idle plain connections stay open for their host's next turn, and a
    host's first answer (which waited for its name and its connection) does not make it look slow
    enough to take more. Before, ~600 connections in one process and ~950 in two."""
    port, log = counted_web
    names = host_names(300)
    seen = log.stat().st_size if log.exists() else 0
    with PrivateResolver(loopback(names), aaaa_delay=AAAA_DELAY) as env:
        src = url_file(env.folder, names, port, 3000)
        records, wall = cli(env, src, "-c", "64", "--per-host", "4", "--deadline", "10", *args)
    assert_no_stall(records, wall, 3000, wall_max=10)
    with log.open("rb") as lines:
        lines.seek(seen)
        connections = {line.split()[0] for line in lines}
    assert len(connections) <= per_name * len(names), f"{len(connections)} connections for {len(names)} hosts"


@pytest.mark.parametrize(("count", "n", "args"), [
    pytest.param(500, 10_000, ("-P", "2", "-c", "256", "--per-host", "4"), id="processes"),
    pytest.param(100, 1000, ("--engine", "requests", "-c", "64", "--per-host", "4"), id="requests-engine"),
])
def test_cli_names_slow_aaaa(web: int, count: int, n: int, args: tuple[str, ...]) -> None:
    names = host_names(count)
    with PrivateResolver(loopback(names), aaaa_delay=AAAA_DELAY) as env:
        src = url_file(env.folder, names, web, n)
        records, wall = cli(env, src, *args, "--deadline", "10")
    assert_no_stall(records, wall, n, wall_max=10)


def test_names_known_only_to_dns(web: int) -> None:
    """Names not in /etc/hosts (the usual case): A answered at once, AAAA after 3 s. Each name is
    looked up about once in the run, not once per transfer."""
    names = host_names(200, "dns.test")
    with PrivateResolver(records={n: ["127.0.0.1"] for n in names}, aaaa_delay=AAAA_DELAY) as env:
        src = url_file(env.folder, names, web, 4000)
        records, wall = cli(env, src, "-c", "256", "--per-host", "4", "--deadline", "8")
        asked = env.dns.total("A")
    assert_no_stall(records, wall, 4000, wall_max=8)
    assert asked <= 2 * len(names), f"{asked} A questions for {len(names)} names; {shape(records, wall)}"


# ---- names that fail, names never answered ------------------------------------------------------------

def test_nxdomain_fails_fast_and_is_asked_once(web: int) -> None:
    names = host_names(20)
    missing = "missing.names.test"
    with PrivateResolver(loopback(names), aaaa_delay=AAAA_DELAY) as env:
        src = env.folder / "urls.txt"
        lines = [f"http://{missing}:{web}/1k?i={i}\n" for i in range(50)]
        lines += [f"http://{names[i % 20]}:{web}/1k?i={i}\n" for i in range(200)]
        src.write_text("".join(lines))
        records, wall = cli(env, src, "-c", "64", "--per-host", "4", "--deadline", "8")
        asked = {t: env.dns.queries(missing, t) for t in ("A", "AAAA")}
    bad = [r for r in records if missing in r["url"]]
    good = [r for r in records if missing not in r["url"]]
    what = f"missing name: {shape(bad, wall)}; asked {asked}; the others: {shape(good, wall)}"
    assert len(bad) == 50, what
    assert all(r["status"] is None and (r["error"] or {}).get("kind") == "dns" for r in bad), what
    assert max(r["elapsed"] for r in bad) <= STALL, what
    assert sum(asked.values()) <= 2, what
    assert_no_stall(good, wall, 200, wall_max=5)


def test_one_silent_name_holds_no_other(web: int) -> None:
    """A name the DNS server never answers (A or AAAA) fails on its own; the other names go at full speed."""
    names = host_names(100, "dns.test")
    silent = "silent.dns.test"
    with PrivateResolver(records={n: ["127.0.0.1"] for n in [*names, silent]}, aaaa_delay=0.0,
                         delays={silent: None}) as env:
        src = env.folder / "urls.txt"
        lines = [f"http://{silent}:{web}/1k?i={i}\n" for i in range(4)]
        lines += [f"http://{names[i % 100]}:{web}/1k?i={i}\n" for i in range(2000)]
        src.write_text("".join(lines))
        records, wall = cli(env, src, "-c", "64", "--per-host", "4", "--connect-timeout", "2", "--retries", "0",
                            "--deadline", "12")
    bad = [r for r in records if silent in r["url"]]
    good = [r for r in records if silent not in r["url"]]
    assert len(bad) == 4 and all(r["error"] is not None for r in bad), shape(bad, wall)
    # the silent name's records end at the connect timeout (2 s); the run must not outlast them by much
    # (waiting for the system resolver's own 5 s × 2 attempts before exiting is a stall too)
    assert_no_stall(good, wall, 2000, wall_max=6)


def test_the_namespace_never_asks_the_machine_dns() -> None:
    """Inside the namespace resolv.conf names only the test's server; outside nothing changed."""
    before = Path("/etc/resolv.conf").read_text()
    with PrivateResolver({"a.names.test": "127.0.0.1"}, aaaa_delay=0.0) as env:
        inside = env.run(["cat", "/etc/resolv.conf", "/etc/hosts"], capture_output=True, text=True,
                         timeout=30).stdout
        looked_up = env.run(["getent", "ahosts", "b.names.test"], capture_output=True, timeout=30)
        assert env.dns.queries("b.names.test") >= 1
    assert f"nameserver {env.dns.host}" in inside and "a.names.test" in inside
    assert [line for line in inside.splitlines() if line.startswith("nameserver")] == [f"nameserver {env.dns.host}"]
    assert looked_up.returncode != 0  # NXDOMAIN from the test's server
    assert Path("/etc/resolv.conf").read_text() == before
