"""The libcurl engine against real local servers: answers, every error kind, redirects, decoding."""

from __future__ import annotations

import base64
import hashlib

import pytest

import multifetch
from multifetch import Client, Request
from multifetch.testing import FaultServer, TargetServer, body_for


def one(url: str, **options: object) -> multifetch.Result:
    options.setdefault("retries", 0)
    (result,) = list(multifetch.fetch([url], **options))
    return result


def test_answer_has_requests_like_accessors(target: TargetServer) -> None:
    result = one(target.url + "/bytes/1000?seed=a")
    assert result.status_code == 200
    assert result.ok
    assert result.content == body_for(1000, "a")
    assert result.size == 1000
    assert result.sha256 == hashlib.sha256(body_for(1000, "a")).hexdigest()
    assert result.headers["content-length"] == "1000"
    assert result.headers["Content-Length"] == "1000"
    assert result.url == target.url + "/bytes/1000?seed=a"
    assert result.attempts == 1
    assert result.elapsed > 0
    assert result.timings is not None and result.timings.total >= result.timings.connect
    assert result.error is None
    assert result.raise_for_status() is result


def test_http_error_status_is_an_answer_not_an_error(target: TargetServer) -> None:
    result = one(target.url + "/status/404")
    assert result.status_code == 404
    assert result.error is None
    assert not result.ok
    with pytest.raises(multifetch.HTTPStatusError) as info:
        result.raise_for_status()
    assert info.value.status == 404


def test_json_and_text(target: TargetServer) -> None:
    result = one(target.url + "/echo", )
    assert result.json()["method"] == "GET"
    assert result.encoding == "utf-8"
    assert "headers" in result.text


def test_post_json_body_and_headers(target: TargetServer) -> None:
    with Client(retries=0) as client:
        result = client.post(target.url + "/echo", json={"a": [1, 2]}, headers={"X-Token": "t"})
    echoed = result.json()
    assert echoed["method"] == "POST"
    assert echoed["body"] == '{"a":[1,2]}'
    assert echoed["headers"]["x-token"] == "t"
    assert echoed["headers"]["content-type"] == "application/json"


def test_params_and_other_methods(target: TargetServer) -> None:
    with Client(retries=0) as client:
        put = client.request("PUT", target.url + "/echo", data="raw", params={"q": "a b"})
        head = client.head(target.url + "/bytes/50")
        delete = client.request("DELETE", target.url + "/echo")
    assert put.json()["method"] == "PUT"
    assert put.json()["path"] == "/echo?q=a+b"
    assert put.json()["body"] == "raw"
    assert head.status_code == 200 and head.content == b""
    assert delete.json()["method"] == "DELETE"


def test_redirects_are_followed(target: TargetServer) -> None:
    result = one(target.url + "/redirect/3")
    assert result.status_code == 200
    assert result.final_url == target.url + "/redirect/0"
    assert result.url == target.url + "/redirect/3"


def test_redirect_loop_is_too_many_redirects(target: TargetServer) -> None:
    result = one(target.url + "/redirect-loop")
    assert result.error is not None
    assert result.error.kind == "too_many_redirects"


def test_redirect_to_another_scheme_is_blocked(target: TargetServer) -> None:
    result = one(target.url + "/redirect-to?url=file:///etc/passwd")
    assert result.error is not None and result.error.kind == "blocked"
    assert result.content == b""


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
def test_compressed_bodies_are_decoded(target: TargetServer, encoding: str) -> None:
    result = one(target.url + f"/{encoding}")
    assert result.status_code == 200
    assert result.json()["encoding"] == encoding
    assert result.headers["content-encoding"] == encoding


def test_connect_error() -> None:
    result = one("http://127.0.0.1:1/")
    assert result.error is not None and result.error.kind == "connect"
    assert result.status is None


def test_dns_error_through_a_local_resolver(target: TargetServer) -> None:
    # The resolver is the target server's DoH route: no query leaves the machine.
    result = one("http://no-such-host.example/", doh_url=target.url + "/dns-query")
    assert result.error is not None and result.error.kind == "dns"


def test_timeout(target: TargetServer) -> None:
    result = one(target.url + "/delay/5", timeout=0.3)
    assert result.error is not None and result.error.kind == "timeout"
    assert result.elapsed < 3


def test_tls_verification_on_by_default(tls_target: TargetServer) -> None:
    result = one(tls_target.url + "/bytes/10")
    assert result.error is not None and result.error.kind == "tls"


def test_tls_with_the_right_ca(tls_target: TargetServer, ca_file: str) -> None:
    result = one(tls_target.url + "/bytes/10", cafile=ca_file)
    assert result.status_code == 200


def test_insecure_skips_verification(tls_target: TargetServer) -> None:
    result = one(tls_target.url + "/bytes/10", verify=False)
    assert result.status_code == 200


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/garbage", "protocol"),
        ("/empty", "reset"),
        ("/reset", "reset"),
        ("/truncated", "protocol"),
        ("/bad-chunked", "protocol"),
        ("/bad-gzip", "protocol"),
    ],
)
def test_broken_servers(faults: FaultServer, path: str, kind: str) -> None:
    result = one(faults.url + path)
    assert result.error is not None, result
    assert result.error.kind == kind
    assert result.status is None
    assert result.sha256 is None


def test_stalled_body_times_out(faults: FaultServer) -> None:
    result = one(faults.url + "/stall-body", timeout=0.5)
    assert result.error is not None and result.error.kind == "timeout"
    assert "transferring" in result.error.message


def test_body_too_large(target: TargetServer) -> None:
    result = one(target.url + "/bytes/100000", max_body_size=1000)
    assert result.error is not None and result.error.kind == "body_too_large"


def test_body_too_large_without_content_length(target: TargetServer) -> None:
    result = one(target.url + "/gzip", max_body_size=100)  # decoded size is past the cap
    assert result.error is not None and result.error.kind == "body_too_large"


def test_invalid_input_is_a_record() -> None:
    results = list(multifetch.fetch(["ftp://example.org/", "http://", "http://a b/"]))
    assert [r.error.kind for r in results if r.error] == ["invalid_input"] * 3


def test_cancelled_by_the_deadline(target: TargetServer) -> None:
    urls = [target.url + "/delay/2"] * 3 + [target.url + "/bytes/1"] * 2
    results = list(multifetch.fetch(urls, deadline=0.5, concurrency=2, per_host=2))
    assert len(results) == 5
    kinds = sorted(r.error.kind for r in results if r.error)
    assert kinds.count("cancelled") >= 3


def test_fifty_megabyte_body(target: TargetServer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    n = 50 * 1024 * 1024
    (result,) = list(multifetch.fetch([target.url + f"/large/{n}"], bodies=tmp_path))
    assert result.status_code == 200
    assert result.size == n
    assert result.body_path is not None
    with open(result.body_path, "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == result.sha256


def test_http2_over_tls(nginx_h2: str, ca_file: str) -> None:
    with Client(cafile=ca_file, retries=0) as client:
        results = list(client.stream([nginx_h2 + "/hello.txt"] * 20))
    assert {r.status_code for r in results} == {200}
    assert {r.http_version for r in results} == {"2"}
    assert results[0].text == "hello over h2\n"


def test_get_raises_for_transport_errors() -> None:
    with Client(retries=0) as client, pytest.raises(multifetch.ConnectError) as info:
        client.get("http://127.0.0.1:1/")
    assert info.value.kind == "connect"


def test_request_objects(target: TargetServer) -> None:
    request = Request(url=target.url + "/echo", method="PATCH", body=b"x", id="mine")
    (result,) = list(multifetch.fetch([request], retries=0))
    assert result.id == "mine"
    assert result.json()["method"] == "PATCH"


def test_sockets_closed_between_transfers_are_watched_again(target: TargetServer) -> None:
    """The engine keeps a keep-alive socket registered between transfers. Sockets that close in
    that gap — by the server after a response (``Connection: close``, or an idle close a moment
    later) — hand their descriptor number to new sockets, which must still be watched."""
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
    scripts = {
        "/close-now": [("send", ok + b"Connection: close\r\n\r\nok"), ("close",)],
        "/close-later": [("send", ok + b"\r\nok"), ("sleep", 0.02), ("close",)],
    }
    with FaultServer(scripts) as faults, Client(concurrency=3, per_host=3, retries=0, timeout=5) as client:
        for round_ in range(4):
            urls = [f"{faults.url}/close-{'now' if i % 2 else 'later'}?r={round_}&i={i}" for i in range(30)]
            urls += [f"{target.url}/bytes/10?r={round_}&i={i}" for i in range(30)]
            results = list(client.stream(urls))
            assert len(results) == 60
            assert all(r.status_code == 200 for r in results), [r.error for r in results if r.error]


def test_a_socket_closed_while_idle_does_not_spin_the_loop(target: TargetServer) -> None:
    """An idle keep-alive socket that its server closes wakes epoll until it is dropped; the loop
    must drop it rather than spin on it while other transfers wait (measured as CPU time)."""
    import time

    scripts = {"/close-later": [("send", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), ("sleep", 0.02),
                                ("close",)]}
    with FaultServer(scripts) as faults:
        urls = [f"{faults.url}/close-later?i={i}" for i in range(3)] + [target.url + "/delay/1"]
        wall, cpu = time.monotonic(), time.process_time()
        results = list(multifetch.fetch(urls, concurrency=4, per_host=4, retries=0))
        wall, cpu = time.monotonic() - wall, time.process_time() - cpu
    assert [r.status_code for r in results].count(200) == 4
    assert cpu < 0.5 * wall, f"{cpu:.2f} s of CPU in {wall:.2f} s: the event loop spun"


@pytest.mark.parametrize("transport", ["curl", "requests"])
def test_bodies_with_nul_bytes_are_sent_whole(target: TargetServer, transport: str) -> None:
    """A NUL byte in a request body once stopped the whole run (every later input lost its record)."""
    bodies = [b"a\x00b", b"\x00" * 5, bytes(range(256))]
    specs = [{"url": target.url + "/echo", "method": "POST", "body_b64": base64.b64encode(b).decode(),
              "id": str(i)} for i, b in enumerate(bodies)]
    specs.append({"url": target.url + "/echo", "method": "PUT", "data": "x\u0000y", "id": "text"})
    results = {r.id: r for r in multifetch.fetch(specs, transport=transport, retries=0)}
    assert len(results) == 4
    for i, body in enumerate(bodies):
        assert results[str(i)].json()["body"].encode("latin-1") == body
    assert results["text"].json()["body"] == "x\x00y"
