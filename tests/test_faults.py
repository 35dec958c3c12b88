"""The fault catalogue (shared/research/reliability.md §2): one test per case, against servers on
127.0.0.1 that misbehave at the byte level. Each input gets one record with a stable error kind,
nothing hangs, and a damaged body is never reported as a success."""

from __future__ import annotations

import gzip
import socket
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

import multifetch
from multifetch import Client, RetryPolicy
from multifetch.testing import FaultServer, TargetServer

from helpers import fetch_one, jsonl

OK5 = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"


def _bomb() -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip framing
    chunk = b"\0" * (1 << 20)
    return b"".join(compressor.compress(chunk) for _ in range(1024)) + compressor.flush()  # 1 GiB of zeros


BOMB = _bomb()
SCRIPTS = {
    "/reset-mid-body": [("send", b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000), ("reset",)],
    "/negative-length": [("send", b"HTTP/1.1 200 OK\r\nContent-Length: -6\r\n\r\nhello"), ("close",)],
    "/two-lengths": [("send", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello"), ("close",)],
    "/length-and-chunked": [("send", b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
                                     b"5\r\nhello\r\n0\r\n\r\n"), ("close",)],
    "/chunk-overflow": [("send", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                 b"FFFFFFFFFFFFFFFFF4\r\nGarbage\r\n"), ("close",)],
    "/no-last-chunk": [("send", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"), ("close",)],
    "/huge-header": [("send", b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 300_000 + b"\r\nContent-Length: 2\r\n\r\nok"),
                     ("close",)],
    "/head-with-body": [("send", OK5 + b"trailing junk"), ("close",)],
    "/no-content-with-body": [("send", b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello"), ("close",)],
    "/binary-lies": [("send", b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nX-Odd: \xff\xfe\x80\r\n"
                              b"Content-Length: 4\r\n\r\n\xff\xfe\x00\x81"), ("close",)],
    "/gzip-bomb": [("send", b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: "
                            + str(len(BOMB)).encode() + b"\r\n\r\n" + BOMB), ("close",)],
    "/stacked-gzip": [("send", b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip, gzip\r\nContent-Length: "
                               + str(len(gzip.compress(gzip.compress(b"z" * 100_000)))).encode() + b"\r\n\r\n"
                               + gzip.compress(gzip.compress(b"z" * 100_000))), ("close",)],
    "/huge-length": [("send", b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000000000\r\n\r\nstart"), ("hang",)],
    "/retry-after-200": [("send", b"HTTP/1.1 503 Busy\r\nRetry-After: 200\r\nContent-Length: 0\r\n\r\n"), ("close",)],
    "/bad-retry-after": [("send", b"HTTP/1.1 503 Busy\r\nRetry-After: \xb2-1\r\nContent-Length: 0\r\n\r\n"),
                         ("close",)],
}


@pytest.fixture(scope="module")
def evil() -> Iterator[FaultServer]:
    with FaultServer(SCRIPTS) as server:
        yield server


def assert_error(result: multifetch.Result, *kinds: str) -> None:
    assert result.error is not None, f"reported as success: {result!r}"
    assert result.error.kind in kinds, result.error
    assert result.status is None and result.sha256 is None


# -- A. connect / DNS -----------------------------------------------------------------------------

def test_01_connection_refused_is_fast() -> None:
    result = fetch_one("http://127.0.0.1:1/")
    assert_error(result, "connect")
    assert result.elapsed < 1


def test_03_dns_that_hangs_is_a_timeout(target: TargetServer) -> None:
    result = fetch_one("http://slow-dns.example/", doh_url=target.url + "/delay/5", connect_timeout=1)
    assert_error(result, "timeout", "dns")


def test_04_blackholed_connect_times_out() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(4):  # fill the accept backlog: later SYNs go unanswered
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            fillers.append(s)
        result = fetch_one(f"http://127.0.0.1:{port}/", connect_timeout=1)
    finally:
        for s in fillers:
            s.close()
        listener.close()
    assert_error(result, "timeout")
    assert result.elapsed < 5


def test_05_accepts_but_never_answers(faults: FaultServer) -> None:
    result = fetch_one(faults.url + "/hang", timeout=1)
    assert_error(result, "timeout")


def test_05b_a_tls_handshake_that_never_ends_says_so(faults: FaultServer) -> None:
    """A server that accepts and then never speaks TLS: the timeout names the handshake, not a
    transfer that never began."""
    port = faults.url.rsplit(":", 1)[1]
    result = fetch_one(f"https://127.0.0.1:{port}/hang", timeout=1)
    assert_error(result, "timeout")
    assert result.error is not None and "(during the TLS handshake)" in result.error.message


def test_06_reset_before_answer_retries_get_not_post(faults: FaultServer) -> None:
    retry = RetryPolicy(retries=2, backoff=0.01)
    with Client(retries=retry) as client:
        (get,) = client.stream([faults.url + "/reset"])
        (post,) = client.stream([{"url": faults.url + "/reset", "method": "POST", "data": "x"}])
    assert_error(get, "reset")
    assert get.attempts == 3
    assert_error(post, "reset")
    assert post.attempts == 1


# -- B. framing and body integrity ----------------------------------------------------------------

def test_07_reset_mid_body(evil: FaultServer) -> None:
    assert_error(fetch_one(evil.url + "/reset-mid-body"), "reset", "protocol")


def test_08_short_body(faults: FaultServer) -> None:
    assert_error(fetch_one(faults.url + "/truncated"), "protocol")


@pytest.mark.parametrize("path", ["/negative-length", "/two-lengths"])
def test_09_length_anomalies(evil: FaultServer, path: str) -> None:
    assert_error(fetch_one(evil.url + path), "protocol")


def test_09_length_and_chunked(evil: FaultServer) -> None:
    result = fetch_one(evil.url + "/length-and-chunked")
    # chunked framing wins (RFC 9112): the body is exactly the chunks, or it is refused
    assert (result.error is None and result.content == b"hello") or result.error is not None


@pytest.mark.parametrize("path", ["/chunk-overflow", "/no-last-chunk", "/bad-chunked"])
def test_10_malformed_chunked(evil: FaultServer, path: str) -> None:
    assert_error(fetch_one(evil.url + path), "protocol")


def test_11_huge_header(evil: FaultServer) -> None:
    assert_error(fetch_one(evil.url + "/huge-header"), "protocol")


def test_12_head_and_204_with_bodies_do_not_hang(evil: FaultServer) -> None:
    head = fetch_one(evil.url + "/head-with-body", timeout=3)
    assert head.status_code == 200 or head.error is not None
    with Client(retries=0, timeout=3) as client:
        h = client.head(evil.url + "/head-with-body")
    assert h.status_code == 200 and h.content == b""
    nc = fetch_one(evil.url + "/no-content-with-body", timeout=3)
    assert nc.status_code == 204 or nc.error is not None


def test_13_binary_body_and_odd_header_bytes(evil: FaultServer, tmp_path: Path) -> None:
    result = fetch_one(evil.url + "/binary-lies")
    assert result.content == b"\xff\xfe\x00\x81"
    assert "\ufffd" in result.text
    assert result.headers["x-odd"] == "\xff\xfe\x80"
    for out in ("o.jsonl", "o.csv", "o.db"):
        proc = subprocess.run([sys.executable, "-m", "multifetch", "fetch", evil.url + "/binary-lies", "-q",
                               "--include-headers", "-o", str(tmp_path / out)], capture_output=True, timeout=60,
                              check=False)
        assert proc.returncode == 0, proc.stderr


# -- C. slow peers and deadlines ------------------------------------------------------------------

def test_14_slow_loris_body_hits_the_total_deadline(faults: FaultServer) -> None:
    result = fetch_one(faults.url + "/slow-body", timeout=1)
    assert_error(result, "timeout")
    assert result.elapsed < 2


def test_15_retry_after_past_the_deadline_is_not_waited_for(evil: FaultServer) -> None:
    with Client(retries=3, deadline=3) as client:
        (result,) = list(client.stream([evil.url + "/retry-after-200"]))
    assert result.status_code == 503 and result.attempts == 1


# -- D. statuses and retries ----------------------------------------------------------------------

def test_18_invalid_retry_after_falls_back_to_backoff(evil: FaultServer) -> None:
    retry = RetryPolicy(retries=1, backoff=0.01)
    with Client(retries=retry) as client:
        (result,) = list(client.stream([evil.url + "/bad-retry-after"]))
    assert result.status_code == 503 and result.attempts == 2


def test_19_persistent_503_stops_after_the_retries(fresh_target: TargetServer) -> None:
    retry = RetryPolicy(retries=3, backoff=0.01)
    with Client(retries=retry) as client:
        (result,) = list(client.stream([fresh_target.url + "/status/503"]))
    assert result.status_code == 503 and result.attempts == 4
    assert fresh_target.stats.total == 4


def test_20_not_found_is_asked_once(fresh_target: TargetServer) -> None:
    with Client(retries=3) as client:
        (result,) = list(client.stream([fresh_target.url + "/status/404"]))
    assert result.status_code == 404 and result.attempts == 1 and fresh_target.stats.total == 1


# -- F. decoding and size limits ------------------------------------------------------------------

def test_26_gzip_bomb_is_capped(evil: FaultServer) -> None:
    result = fetch_one(evil.url + "/gzip-bomb", max_body_size=10 * 1024 * 1024)
    assert_error(result, "body_too_large")


def test_26_stacked_encodings_are_decoded_and_capped(evil: FaultServer) -> None:
    result = fetch_one(evil.url + "/stacked-gzip")
    assert result.content == b"z" * 100_000
    assert_error(fetch_one(evil.url + "/stacked-gzip", max_body_size=50_000), "body_too_large")


def test_27_broken_gzip(faults: FaultServer) -> None:
    assert_error(fetch_one(faults.url + "/bad-gzip"), "protocol")


def test_28_announced_huge_body_is_refused_before_it_starts(evil: FaultServer) -> None:
    result = fetch_one(evil.url + "/huge-length", max_body_size=1_000_000, timeout=5)
    assert_error(result, "body_too_large")
    assert result.elapsed < 2


# -- J. resource limits ---------------------------------------------------------------------------

def test_35_open_files_limit_lowers_concurrency(target: TargetServer, tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_text("".join(f"{target.url}/item/{i}\n" for i in range(300)))

    def cap() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_NOFILE, (128, 128))

    proc = subprocess.run([sys.executable, "-m", "multifetch", "fetch", str(src), "-c", "500", "--per-host", "500",
                           "-o", str(tmp_path / "o.jsonl")], capture_output=True, preexec_fn=cap, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert b"concurrency lowered from 500" in proc.stderr
    assert len(jsonl(tmp_path / "o.jsonl")) == 300


# -- I. input: IPv6 literals -----------------------------------------------------------------------

def test_33_ipv6_literal() -> None:
    with TargetServer("::1") as server:
        result = fetch_one(server.url + "/item/v6")
    assert result.status_code == 200 and result.content.startswith(b"item v6")


# -- J. per-host politeness under load: 20 hosts, one of them slow ----------------------------------

def test_37_twenty_hosts_one_slow() -> None:
    servers = [TargetServer(f"127.0.0.{i}") for i in range(2, 22)]
    for s in servers:
        s.start()
    try:
        slow, fast = servers[0], servers[1:]
        urls = [f"{slow.url}/delay/0.5?i={i}" for i in range(12)]
        urls += [f"{s.url}/item/{i}" for i in range(30) for s in fast]
        started = time.monotonic()
        with Client(concurrency=40, per_host=3) as client:
            finished_at = {}
            for result in client.stream(urls):
                assert result.status_code == 200
                finished_at[result.url] = time.monotonic() - started
        for s in servers:
            assert s.stats.max_in_flight(f"{s.host}:{s.port}") <= 3
        fast_done = max(t for u, t in finished_at.items() if "/item/" in u)
        assert fast_done < 1.5  # the slow host (4 rounds of 0.5 s) did not hold the others up
    finally:
        for s in servers:
            s.stop()


# -- H. proxies ---------------------------------------------------------------------------------------

def test_31_proxy_down_is_a_proxy_error() -> None:
    result = fetch_one("http://origin.invalid/x", proxy="http://127.0.0.1:1")
    assert_error(result, "proxy")


def test_31_tunnel_refused_and_proxy_auth(fresh_target: TargetServer) -> None:
    refused = fetch_one("https://origin.invalid/x", proxy=fresh_target.url)
    assert_error(refused, "proxy")
    assert "403" in refused.error.message  # type: ignore[union-attr]
    needs_auth = fetch_one("https://needs-auth.invalid/x", proxy=fresh_target.url)
    assert_error(needs_auth, "proxy")
    assert "407" in needs_auth.error.message  # type: ignore[union-attr]
    assert fresh_target.stats.counters["connect"] == 2


def test_31_proxy_errors_retry_like_connect_errors(fresh_target: TargetServer) -> None:
    with Client(proxy="http://127.0.0.1:1", retries=RetryPolicy(retries=2, backoff=0.01)) as client:
        (result,) = client.stream(["http://origin.invalid/x"])
    assert_error(result, "proxy")
    assert result.attempts == 3


# -- I. input: international names ---------------------------------------------------------------------

def test_33_international_host_names(target: TargetServer) -> None:
    resolve = [f"xn--bcher-kva.test:{target.port}:127.0.0.1"]
    forms = [f"http://bücher.test:{target.port}/item/a", f"http://BÜCHER.test:{target.port}/item/a",
             f"http://xn--bcher-kva.test:{target.port}/item/a"]
    results = list(multifetch.fetch(forms, resolve=resolve, retries=0))
    assert [r.status_code for r in results] == [200, 200, 200]
    assert {r.url for r in results} == {f"http://xn--bcher-kva.test:{target.port}/item/a"}
    (bad,) = multifetch.fetch(["http://" + "ü" * 70 + ".test/"])
    assert_error(bad, "invalid_input")
