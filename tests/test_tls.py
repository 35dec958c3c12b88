"""TLS against real servers: no stalled transfer, resumed sessions, HTTP/2 multiplexing, ALPN
fallback, and the certificate options.

The stall checks are correctness checks of the event loop, not speed assertions: an idle nginx on
loopback answers 1 KB on an open connection in a few milliseconds, so an answer that took 100 ms
waited for something that was never delivered (the loop's idle wake-up came after 0.5 s).
Every run is bounded by ``deadline``: a stalled engine ends with ``cancelled`` records, not a hang.
"""

from __future__ import annotations

import gc
import ssl
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

import multifetch
from multifetch import Result
from multifetch.testing import TargetServer

from helpers import AccessLog, LoggedServer, jsonl, mf, tls_nginx

N = 2000
SLOW = 0.1  # longest answer, beyond its own TLS handshake, from an idle server on loopback
STALL = 0.4  # the idle wake-up came after 0.5 s: nothing may wait that long
MAX_TIME = "20"  # a run that stalls ends here with cancelled records


def run(urls: list[Any], **options: Any) -> tuple[list[Result], float]:
    """Every result, and the longest wait between two of them (engine processes take a while to
    start, so the wait for the first one is not counted)."""
    options.setdefault("retries", 0)
    options.setdefault("deadline", float(MAX_TIME))
    results: list[Result] = []
    longest = 0.0
    last = None
    # A full collection of this test process's heap (the suite's earlier tests leave plenty) can
    # pause it for over 100 ms: that would be counted in an answer's elapsed time, and the
    # event loop is what is measured here, not the test process.
    gc.collect()
    gc.disable()
    try:
        for result in multifetch.fetch(urls, **options):
            now = time.monotonic()
            if last is not None:
                longest = max(longest, now - last)
            last = now
            results.append(result)
    finally:
        gc.enable()
    return results, longest


def outcomes(results: list[Result] | list[dict[str, Any]]) -> Counter[object]:
    """Statuses, and error kinds for the requests that have none: for readable failures."""
    counted: Counter[object] = Counter()
    for r in results:
        if isinstance(r, Result):
            counted[r.status if r.error is None else r.error.kind] += 1
        else:
            counted[r["status"] if r["error"] is None else r["error"]["kind"]] += 1
    return counted


def assert_no_stall(results: list[Result], n: int, http_version: str) -> int:
    """Every answer came, over ``http_version``, and none stalled; returns the connections opened.

    The first answer on a connection comes after a full TLS handshake, and while 64 handshakes
    run at once on 2 cores even its wait after its own handshake can near 100 ms: such answers
    (libcurl's ``timings.tls`` is 0 on a reused connection) need only stay short of a stall.
    """
    assert len(results) == n
    assert outcomes(results) == {200: n}
    assert {r.http_version for r in results} == {http_version}
    first = sorted(r.elapsed for r in results if r.timings is not None and r.timings.tls > 0)
    later = sorted(r.elapsed for r in results if r.timings is not None and r.timings.tls == 0)
    assert len(first) + len(later) == n
    slow = [t for t in later if t >= SLOW]
    assert not slow, f"{len(slow)} of {n} answers on open connections took over {SLOW} s: {slow[-5:]}"
    assert not first or first[-1] < STALL, f"stalled first answers on new connections: {first[-5:]}"
    return len(first)


def assert_records_no_stall(records: list[dict[str, Any]], n: int, handshakes: int) -> None:
    """Records have no timings: at most one slow answer per connection (its handshake), none stalled."""
    assert len(records) == n
    assert outcomes(records) == {200: n}
    slow = sorted(r["elapsed"] for r in records if r["elapsed"] >= SLOW)
    assert len(slow) <= handshakes, f"{len(slow)} of {n} answers over {SLOW} s: {slow[-5:]}"
    assert not slow or slow[-1] < STALL, f"stalled answers: {slow[-5:]}"


def write_urls(path: Path, urls: list[str]) -> str:
    path.write_text("".join(u + "\n" for u in urls))
    return str(path)


# -- no stall ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("concurrency", [1, 4, 64])
@pytest.mark.parametrize("http_version", ["1.1", "2"])
def test_no_stall(nginx_tls: LoggedServer, ca_file: str, http_version: str, concurrency: int) -> None:
    results, longest = run([nginx_tls.url + "/1k"] * N, concurrency=concurrency, per_host=concurrency,
                           cafile=ca_file, http_version=http_version)
    connections = assert_no_stall(results, N, http_version)
    if http_version == "2":
        assert connections == 1  # every transfer multiplexed on the host's first connection
    else:
        assert 1 <= connections <= concurrency
    assert longest < STALL, f"results stopped coming for {longest:.3f} s"


@pytest.mark.parametrize("http_version", ["1.1", "2"])
def test_no_stall_over_plain_http_and_tls_hosts_at_once(target: TargetServer, nginx_tls: LoggedServer,
                                                       ca_file: str, http_version: str) -> None:
    # One plain request in five: the plain host's answers do not keep waking the loop for the TLS host.
    urls = ([target.url + "/bytes/1024"] + [nginx_tls.url + "/1k"] * 4) * (N // 5)
    results, longest = run(urls, concurrency=8, per_host=4, cafile=ca_file, http_version=http_version)
    assert len(results) == N
    assert_no_stall([r for r in results if r.url.startswith("https:")], N // 5 * 4, http_version)
    assert_no_stall([r for r in results if r.url.startswith("http:")], N // 5, "1.1")
    assert longest < STALL


@pytest.mark.parametrize(("flags", "concurrency", "protocol"), [
    (["--http1.1"], 4, "HTTP/1.1"),
    ([], 64, "HTTP/2.0"),  # HTTP/2 is the default over TLS
    (["--http1.1", "-P", "2"], 4, "HTTP/1.1"),
    (["--http2", "-P", "2"], 64, "HTTP/2.0"),
])
def test_no_stall_through_the_cli(nginx_tls: LoggedServer, ca_file: str, tmp_path: Path, flags: list[str],
                                  concurrency: int, protocol: str) -> None:
    urls = write_urls(tmp_path / "urls.txt", [nginx_tls.url + "/1k"] * N)
    out = tmp_path / "out.jsonl"
    mark = nginx_tls.log.mark()
    proc = mf("fetch", urls, "-o", str(out), "--cacert", ca_file, "-c", str(concurrency),
              "--per-host", str(concurrency), "--retries", "0", "--deadline", MAX_TIME, "-q", *flags, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    assert_records_no_stall(jsonl(out), N, concurrency)
    entries = nginx_tls.log.since(mark, N)
    assert len(entries) == N
    assert {p for _, p, _, _ in entries} == {protocol}


def test_no_stall_with_engine_processes(nginx_tls: LoggedServer, ca_file: str) -> None:
    results, longest = run([nginx_tls.url + "/1k"] * N, concurrency=4, per_host=4, processes=2,
                           cafile=ca_file, http_version="1.1")
    assert assert_no_stall(results, N, "1.1") == 4  # two connections in each engine process
    assert longest < STALL


def test_no_stall_with_the_requests_engine(nginx_tls: LoggedServer, ca_file: str, tmp_path: Path) -> None:
    n = 500  # a thread pool of requests sessions does a few hundred a second over TLS
    urls = write_urls(tmp_path / "urls.txt", [nginx_tls.url + "/1k"] * n)
    out = tmp_path / "out.jsonl"
    proc = mf("fetch", urls, "-o", str(out), "--engine", "requests", "--cacert", ca_file, "-c", "4",
              "--per-host", "4", "--retries", "0", "--deadline", MAX_TIME, "-q", timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    assert_records_no_stall(jsonl(out), n, 4)


# -- sessions and connections -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def nginx_tls12(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoggedServer]:
    """nginx over TLS 1.2 with a session cache: sessions resumed by id, the other common setup."""
    root = tmp_path_factory.mktemp("nginx-tls12")
    (root / "www").mkdir()
    (root / "www" / "1k").write_bytes(bytes(range(256)) * 4)
    server = "ssl_protocols TLSv1.2; ssl_session_tickets off; ssl_session_cache shared:tls12:1m;"
    with tls_nginx(ca, root, server=server, access_log=True) as url:
        yield LoggedServer(url, AccessLog(root / "access.log"))


@pytest.mark.parametrize("server", ["nginx_tls", "nginx_tls12"])
def test_new_connections_resume_the_tls_session(request: pytest.FixtureRequest, ca_file: str,
                                                server: str) -> None:
    nginx: LoggedServer = request.getfixturevalue(server)
    mark = nginx.log.mark()
    # Connection: close makes every request open a connection (HTTP/2 has no such header).
    spec = {"url": nginx.url + "/1k", "headers": {"Connection": "close"}}
    results, _ = run([spec] * 10, concurrency=1, per_host=1, cafile=ca_file, http_version="1.1")
    assert outcomes(results) == {200: 10}
    entries = nginx.log.since(mark, 10)
    assert len({connection for connection, _, _, _ in entries}) == 10
    assert sum(reused == "r" for _, _, reused, _ in entries) >= 9, entries


def test_every_multi_handle_shares_the_session_cache(nginx_tls12: LoggedServer, ca_file: str) -> None:
    # 128 transfers run on two multi handles; sessions are kept for every transfer of the run.
    # (Over TLS 1.3 a ticket is used once, and libcurl keeps two a host: connections opened
    # all at once mostly make full handshakes there, so this counts TLS 1.2 sessions.)
    spec = {"url": nginx_tls12.url + "/1k", "headers": {"Connection": "close"}}
    with multifetch.Client(concurrency=128, per_host=128, cafile=ca_file, http_version="1.1", retries=0,
                           deadline=float(MAX_TIME)) as client:
        assert outcomes(list(client.stream([spec]))) == {200: 1}
        mark = nginx_tls12.log.mark()
        assert outcomes(list(client.stream([spec] * 256))) == {200: 256}
    entries = nginx_tls12.log.since(mark, 256)
    assert len({connection for connection, _, _, _ in entries}) == 256
    assert Counter(reused for _, _, reused, _ in entries) == {"r": 256}


@pytest.mark.parametrize(("flags", "protocol"), [([], "HTTP/2.0"), (["--http2"], "HTTP/2.0"),
                                                 (["--http1.1"], "HTTP/1.1")])
def test_connections_a_host_gets_at_per_host_64(nginx_tls: LoggedServer, ca_file: str, tmp_path: Path,
                                               flags: list[str], protocol: str) -> None:
    n = 500
    urls = write_urls(tmp_path / "urls.txt", [nginx_tls.url + "/1k"] * n)
    out = tmp_path / "out.jsonl"
    mark = nginx_tls.log.mark()
    proc = mf("fetch", urls, "-o", str(out), "--cacert", ca_file, "-c", "64", "--per-host", "64",
              "--retries", "0", "--deadline", MAX_TIME, "-q", *flags, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    assert outcomes(jsonl(out)) == {200: n}
    entries = nginx_tls.log.since(mark, n)
    assert len(entries) == n
    assert {p for _, p, _, _ in entries} == {protocol}
    connections = len({c for c, _, _, _ in entries})
    if protocol == "HTTP/2.0":
        assert connections == 1  # 64 streams on one connection, not 64 handshakes
    else:
        assert 1 < connections <= 64


@pytest.mark.parametrize(("http_version", "expected"), [(None, "2"), ("2", "2"), ("1.1", "1.1")])
def test_results_say_which_http_version(nginx_tls: LoggedServer, ca_file: str, http_version: str | None,
                                        expected: str) -> None:
    results, _ = run([nginx_tls.url + "/1k"] * 20, concurrency=4, per_host=4, cafile=ca_file,
                     http_version=http_version)
    assert outcomes(results) == {200: 20}
    assert {r.http_version for r in results} == {expected}


# -- ALPN fallback ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def alpn_h1_target(ca: trustme.CA) -> Iterator[TargetServer]:
    """A TLS server that answers ALPN with http/1.1 (``tls_target`` offers no ALPN at all)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    context.set_alpn_protocols(["http/1.1"])
    with TargetServer(ssl_context=context) as server:
        yield server


@pytest.mark.parametrize("server", ["tls_target", "alpn_h1_target"])
@pytest.mark.parametrize("http_version", [None, "2"])
def test_http2_falls_back_to_http11(request: pytest.FixtureRequest, ca_file: str, server: str,
                                    http_version: str | None) -> None:
    target: TargetServer = request.getfixturevalue(server)
    target.stats.reset()
    # Transfers wait for the host's first connection to learn whether it multiplexes; over
    # HTTP/1.1 they must then open connections of their own: 8 answers at once, not one by one.
    results, _ = run([target.url + "/delay/0.1"] * 32, concurrency=8, per_host=8, cafile=ca_file,
                     http_version=http_version)
    assert outcomes(results) == {200: 32}
    assert {r.http_version for r in results} == {"1.1"}
    assert target.stats.max_in_flight() == 8


@pytest.mark.parametrize("flags", [[], ["--http2"]])
def test_http2_falls_back_to_http11_through_the_cli(tls_target: TargetServer, ca_file: str, tmp_path: Path,
                                                    flags: list[str]) -> None:
    out = tmp_path / "out.jsonl"
    urls = write_urls(tmp_path / "urls.txt", [tls_target.url + "/bytes/1024"] * 50)
    proc = mf("fetch", urls, "-o", str(out), "--cacert", ca_file, "-c", "8", "--per-host", "8",
              "--retries", "0", "--deadline", MAX_TIME, "-q", *flags, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    assert outcomes(jsonl(out)) == {200: 50}


# -- certificates -------------------------------------------------------------------------------------


def test_insecure_through_the_cli(nginx_tls: LoggedServer, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    proc = mf("fetch", nginx_tls.url + "/1k", "-o", str(out), "--insecure", "--retries", "0", timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    assert outcomes(jsonl(out)) == {200: 1}
    assert b"TLS verification was OFF" in proc.stderr


@pytest.fixture(scope="module")
def wrong_ca_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("wrong-ca") / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(path))
    return str(path)


@pytest.mark.parametrize("engine", ["curl", "requests"])
@pytest.mark.parametrize("trust", ["wrong-ca", "system-cas"])
def test_an_untrusted_server_is_a_tls_record(nginx_tls: LoggedServer, wrong_ca_file: str, tmp_path: Path,
                                             engine: str, trust: str) -> None:
    out = tmp_path / "out.jsonl"
    cacert = ["--cacert", wrong_ca_file] if trust == "wrong-ca" else []
    urls = write_urls(tmp_path / "urls.txt", [nginx_tls.url + "/1k"] * 3)
    proc = mf("fetch", urls, "-o", str(out), "--engine", engine, *cacert, "--retries", "2", "-q", timeout=60)
    assert proc.returncode == 1, proc.stderr.decode()  # some records are errors; no crash
    records = jsonl(out)
    assert outcomes(records) == {"tls": 3}
    assert {r["attempts"] for r in records} == {1}  # a certificate does not get better by retrying


@pytest.fixture(scope="module")
def nginx_client_cert(ca: trustme.CA, ca_file: str,
                      tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoggedServer]:
    """nginx over TLS that requires a client certificate of ``ca``; /whoami says what it saw."""
    root = tmp_path_factory.mktemp("nginx-mtls")
    server = (f"ssl_verify_client on; ssl_client_certificate {ca_file}; "
              "location = /whoami { return 200 \"$ssl_client_verify $ssl_client_s_dn\\n\"; }")
    with tls_nginx(ca, root, server=server, access_log=True) as url:
        yield LoggedServer(url, AccessLog(root / "access.log"))


@pytest.fixture(scope="module")
def client_cert(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A client certificate of ``ca``: as separate certificate and key files, and as one file."""
    folder = tmp_path_factory.mktemp("client-cert")
    cert = ca.issue_cert("client.example.org", common_name="client.example.org")
    paths = {"cert": str(folder / "cert.pem"), "key": str(folder / "key.pem"), "both": str(folder / "both.pem")}
    cert.cert_chain_pems[0].write_to_path(paths["cert"])
    cert.private_key_pem.write_to_path(paths["key"])
    cert.private_key_and_cert_chain_pem.write_to_path(paths["both"])
    return paths


@pytest.mark.parametrize("form", ["cert-and-key", "one-file", "none"])
def test_client_certificates_through_the_cli(nginx_client_cert: LoggedServer, ca_file: str,
                                             client_cert: dict[str, str], tmp_path: Path, form: str) -> None:
    flags = {"cert-and-key": ["--cert", client_cert["cert"], "--key", client_cert["key"]],
             "one-file": ["--cert", client_cert["both"]],
             "none": []}[form]
    out = tmp_path / "out.jsonl"
    body = tmp_path / "bodies"
    proc = mf("fetch", nginx_client_cert.url + "/whoami", "-o", str(out), "--cacert", ca_file,
              "--save-bodies", str(body), "--retries", "0", *flags, timeout=60)
    (record,) = jsonl(out)
    if form == "none":  # nginx completes the handshake and answers 400 to a missing certificate
        assert record["status"] == 400 and record["error"] is None
        return
    assert proc.returncode == 0, proc.stderr.decode()
    assert record["status"] == 200
    verified, subject = Path(record["body_path"]).read_text().split(" ", 1)
    assert verified == "SUCCESS" and "CN=client.example.org" in subject


def test_client_certificate_through_the_api(nginx_client_cert: LoggedServer, ca_file: str,
                                            client_cert: dict[str, str]) -> None:
    results, _ = run([nginx_client_cert.url + "/whoami"] * 4, cafile=ca_file,
                     client_cert=(client_cert["cert"], client_cert["key"]))
    assert outcomes(results) == {200: 4}
    assert {r.text.split()[0] for r in results} == {"SUCCESS"}


def test_a_plain_url_redirected_to_https_keeps_few_idle_connections(target: TargetServer, tls_target: TargetServer,
                                                                      ca_file: str, tmp_path: Path) -> None:
    """Idle plain connections are kept by the thousand (~2 KB each), TLS ones by the handful
    (~165 KB each): an http:// input that redirects to HTTPS opens a TLS connection, so the
    transport keeps the TLS budget from then on, as it does for an https:// input."""
    from urllib.parse import quote

    from multifetch.engine._job import Job
    from multifetch.engine._policy import Timeouts
    from multifetch.inputs._spec import Request
    from multifetch.outputs._bodies import BodyStore
    from multifetch.transports.curl import CurlTransport

    transport = CurlTransport(timeouts=Timeouts(), bodies=BodyStore("memory", concurrency=256),
                              concurrency=256, cafile=ca_file)
    try:
        loop = transport._loop
        assert loop._kept > loop._kept_tls  # plain HTTP so far
        url = f"{target.url}/redirect-to?url={quote(tls_target.url + '/bytes/10')}"
        transport.expect(target.url)
        transport.start(Job(Request(url), "0", target.url, 0))
        done: list[Job] = []
        deadline = time.monotonic() + 10
        while not done and time.monotonic() < deadline:
            done = transport.poll(0.1)
        assert done and done[0].status == 200 and done[0].final_url.startswith("https:")
        assert loop._kept == loop._kept_tls
    finally:
        transport.close()
