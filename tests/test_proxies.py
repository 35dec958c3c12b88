"""Proxy pools: each attempt through one proxy of a list; a proxy that fails is rested (as a dead
host is) and its requests move to another without spending their retries."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

import multifetch
from multifetch import Client
from multifetch.engine._hosts import HostHealth
from multifetch.engine._job import Job
from multifetch.inputs._spec import Request
from multifetch.testing import Socks5Proxy, TargetServer
from multifetch.transports._proxies import ProxyPool, is_proxy_failure

from helpers import jsonl, mf


@pytest.fixture(scope="module")
def dead_proxy() -> str:
    """An http proxy on a loopback port nobody listens on (bound, then let go)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def live_proxy(target: TargetServer) -> str:
    """The target server answers absolute-form requests as a forward proxy (and counts them)."""
    return f"http://carrier:s3cret@127.0.0.1:{target.port}"


def test_a_dead_proxy_is_rested_and_the_live_one_carries_its_requests(
        target: TargetServer, target2: TargetServer, dead_proxy: str) -> None:
    before = target.stats.counters["proxied"]
    urls = [f"{target2.url}/item/p{i}" for i in range(30)]
    results = list(multifetch.fetch(urls, proxies=[dead_proxy, live_proxy(target)], retries=0, concurrency=4))
    assert [r.status for r in results] == [200] * 30, [r.error for r in results if r.error]
    assert {r.attempts for r in results} == {1}  # moving to another proxy is not a retry
    assert {r.proxy for r in results} == {f"http://carrier:***@127.0.0.1:{target.port}"}
    assert target.stats.counters["proxied"] - before == 30


def test_with_every_proxy_dead_the_failure_is_a_proxy_record(target: TargetServer, dead_proxy: str) -> None:
    other_dead = dead_proxy.rsplit(":", 1)[0] + ":1"
    results = list(multifetch.fetch([f"{target.url}/item/x{i}" for i in range(3)],
                                    proxies=[dead_proxy, other_dead], retries=1, timeout=5))
    for result in results:
        assert result.error is not None and result.error.kind == "proxy", result
        assert result.attempts == 2  # both proxies failed the attempt: then it counts as a retry


def test_sticky_rotation_keeps_each_host_on_one_proxy(target: TargetServer, target2: TargetServer) -> None:
    with Socks5Proxy() as socks:
        proxies = [live_proxy(target), socks.url]
        urls = [f"http://127.0.0.1:{port}/item/s{i}" for i in range(8) for port in (target.port, target2.port)]
        by_request = Client(proxies=proxies, retries=0).map(urls)
        assert len({r.proxy for r in by_request}) == 2
        sticky = list(Client(proxies=proxies, proxy_rotation="host", retries=0).map(urls))
    assert all(r.status == 200 for r in sticky)
    for port in (target.port, target2.port):
        assert len({r.proxy for r in sticky if f":{port}/" in r.url}) == 1


def test_cli_proxy_file_records_and_summary(target: TargetServer, target2: TargetServer, dead_proxy: str,
                                            tmp_path: Path) -> None:
    pool = tmp_path / "proxies.txt"
    pool.write_text(f"# two proxies, one down\n{dead_proxy}\n\n{live_proxy(target)}\n")
    urls = tmp_path / "urls.txt"
    urls.write_text("".join(f"{target2.url}/item/c{i}\n" for i in range(12)))
    out, summary = tmp_path / "out.jsonl", tmp_path / "summary.json"
    done = mf("fetch", str(urls), "-o", str(out), "--proxy-file", str(pool), "--summary-json", str(summary),
              "--retries", "0")
    assert done.returncode == 0, done.stderr
    records = jsonl(out)
    masked = f"http://carrier:***@127.0.0.1:{target.port}"
    assert [r["proxy"] for r in records] == [masked] * 12
    assert b"s3cret" not in out.read_bytes() + done.stderr + summary.read_bytes()
    figures = json.loads(summary.read_text())
    assert figures["proxies"] == [{"proxy": masked, "records": 12, "answered": 12, "errors": 0}]
    assert b"proxies" in done.stderr  # the summary's per-proxy table


@pytest.mark.parametrize(("line", "why"), [("ftp://127.0.0.1:21", "scheme"), ("http://", "HOST"),
                                           ("http://127.0.0.1:8080/path", "HOST"), ("not a url", "scheme")])
def test_a_bad_proxy_line_is_named_by_file_and_line(tmp_path: Path, line: str, why: str) -> None:
    pool = tmp_path / "proxies.txt"
    pool.write_text(f"http://127.0.0.1:3128\n{line}\n")
    done = mf("fetch", "http://127.0.0.1:1/", "--proxy-file", str(pool))
    assert done.returncode == 2
    (message,) = done.stderr.decode().strip().splitlines()
    assert message.startswith(f"multifetch: error: {pool}:2: bad proxy") and why in message


def test_proxy_file_mistakes(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n")
    for args, said in (((str(tmp_path / "missing.txt"),), "cannot read the proxy file"),
                       ((str(empty),), "no proxy in the file"),
                       ((str(empty), "--engine", "requests"), "no proxy in the file")):
        done = mf("fetch", "http://127.0.0.1:1/", "--proxy-file", *args)
        assert done.returncode == 2 and said in done.stderr.decode(), done.stderr
    with pytest.raises(multifetch.UsageError):
        Client(proxies=["http://127.0.0.1:1"], proxy="http://127.0.0.1:2")
    with pytest.raises(multifetch.UsageError):
        Client(proxies=["http://127.0.0.1:1"], transport="requests")
    with pytest.raises(multifetch.UsageError):
        Client(proxies=["gopher://127.0.0.1:1"])


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_pool_rests_a_failing_proxy_then_gives_it_up() -> None:
    clock = Clock()
    pool = ProxyPool(["http://a:1", "http://b:1"], health=HostHealth(failures=2, cooldown=10, pauses=1),
                     clock=clock)
    assert [pool.choose("h") for _ in range(4)] == ["http://a:1", "http://b:1"] * 2
    pool.failed("http://a:1")
    pool.answered("http://a:1")  # an answer in between: the failures are not in a row
    pool.failed("http://a:1")
    assert {pool.choose("h") for _ in range(4)} == {"http://a:1", "http://b:1"}
    pool.failed("http://a:1")  # the second in a row: rested
    assert {pool.choose("h") for _ in range(4)} == {"http://b:1"}
    assert pool.choose("h", tried={"http://b:1"}) is None
    clock.now += 10
    assert {pool.choose("h") for _ in range(4)} == {"http://a:1", "http://b:1"}  # back after the rest
    pool.failed("http://a:1")
    pool.failed("http://a:1")  # rested more often than `pauses` allows: given up
    clock.now += 1000
    assert {pool.choose("h") for _ in range(4)} == {"http://b:1"}
    assert not pool.all_given_up()


def test_what_counts_as_the_proxys_failure() -> None:
    job = Job(Request(url="http://x/"), "0", "http://x", 0)
    job.status = 407
    assert is_proxy_failure(job)
    job.status = 403
    assert not is_proxy_failure(job)
    job.fail("proxy", "CONNECT tunnel failed")
    assert is_proxy_failure(job)
    job.fail("timeout", "took too long")
    assert not is_proxy_failure(job)
