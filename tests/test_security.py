"""Security promises: schemes, credentials across origins, --deny-private, secrets, TLS, names."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

import multifetch
from multifetch import Client
from multifetch.cli._terminal import safe_text
from multifetch.outputs._redact import Redactor
from multifetch.testing import TargetServer
from multifetch.transports._guard import denied_reason

from helpers import jsonl, mf


def one(url: str, **options: object) -> multifetch.Result:
    options.setdefault("retries", 0)
    (result,) = list(multifetch.fetch([url], **options))
    return result


@pytest.mark.parametrize("scheme_url", ["file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://127.0.0.1/",
                                        "dict://127.0.0.1/", "data:text/plain,hi", "javascript:alert(1)"])
def test_redirects_only_to_http(target: TargetServer, scheme_url: str) -> None:
    result = one(f"{target.url}/redirect-to?url={scheme_url}")
    assert result.error is not None and result.error.kind in ("blocked", "invalid_input", "protocol")
    assert result.content == b""


def test_credentials_never_follow_a_redirect_to_another_origin(target: TargetServer, target2: TargetServer) -> None:
    # same host, other port: another origin
    hop = f"{target.url}/redirect-to?url={target2.url}/headers"
    with Client(retries=0) as client:
        result = client.get(hop, headers={"Authorization": "Bearer s3cret", "Cookie": "sid=s3cret"})
        userinfo = client.get(hop.replace("http://", "http://user:pw@"))
    seen = result.json()["headers"]
    assert "authorization" not in seen and "cookie" not in seen
    assert "authorization" not in userinfo.json()["headers"]


def test_credentials_stay_on_the_same_origin(target: TargetServer) -> None:
    with Client(retries=0) as client:
        result = client.get(f"{target.url}/redirect-to?url=/headers", headers={"Authorization": "Bearer t"})
    assert result.json()["headers"]["authorization"] == "Bearer t"


@pytest.mark.parametrize(
    ("address", "blocked"),
    [("127.0.0.1", True), ("10.1.2.3", True), ("172.16.0.1", True), ("192.168.1.1", True),
     ("169.254.169.254", True), ("224.0.0.1", True), ("0.0.0.0", True), ("100.64.0.1", True),
     ("::1", True), ("::ffff:127.0.0.1", True), ("fe80::1", True), ("fc00::1", True), ("2002:7f00:1::", True),
     ("8.8.8.8", False), ("2606:4700:4700::1111", False)],
)
def test_deny_private_addresses(address: str, blocked: bool) -> None:
    assert (denied_reason(address) is not None) == blocked


@pytest.mark.parametrize("form", ["127.0.0.1", "2130706433", "0x7f.1", "0177.0.0.1", "127.1", "[::ffff:127.0.0.1]"])
def test_deny_private_blocks_numeric_forms(target: TargetServer, form: str) -> None:
    result = one(f"http://{form}:{target.port}/bytes/1", deny_private=True)
    assert result.error is not None and result.error.kind == "blocked", result.error
    assert "deny-private" in result.error.message


def test_deny_private_checks_resolved_names_and_every_hop(target: TargetServer) -> None:
    # a public-looking name that resolves to loopback (DNS rebinding), through curl's resolve override
    result = one(f"http://rebind.example:{target.port}/bytes/1", deny_private=True,
                 resolve=[f"rebind.example:{target.port}:127.0.0.1"])
    assert result.error is not None and result.error.kind == "blocked"
    before = target.stats.total
    redirect = one(f"http://rebind.example:{target.port}/redirect-to?url=http://127.0.0.1:{target.port}/",
                   deny_private=True, resolve=[f"rebind.example:{target.port}:127.0.0.1"])
    assert redirect.error is not None and redirect.error.kind == "blocked"
    assert target.stats.total == before  # nothing reached the server


def test_cli_deny_private(target: TargetServer) -> None:
    proc = mf("fetch", target.url + "/bytes/1", "--deny-private", "-q")
    assert proc.returncode == 1
    (record,) = jsonl(proc.stdout)
    assert record["error"]["kind"] == "blocked"


def test_secrets_are_redacted_from_records(target: TargetServer) -> None:
    url = target.url.replace("http://", "http://alice:hunter2@") + "/set-cookie?token=abc123&x=1"
    proc = mf("fetch", url, "--secret-param", "token", "--include-headers", "-q")
    (record,) = jsonl(proc.stdout)
    text = proc.stdout.decode()
    assert "hunter2" not in text and "abc123" not in text
    assert record["url"].startswith("http://alice:***@")
    assert "token=***" in record["url"]
    assert record["headers"]["Set-Cookie"] == "***"
    bad = mf("fetch", "http://bob:pw123@127.0.0.1:1/?token=zzz", "--secret-param", "token", "-q", "--retries", "0")
    assert b"pw123" not in bad.stdout and b"zzz" not in bad.stdout + bad.stderr


def test_redactor_masks_in_free_text() -> None:
    r = Redactor(["api_key"])
    assert r.text("GET https://u:p@h/x?api_key=1&b=2 failed") == "GET https://u:***@h/x?api_key=***&b=2 failed"


def test_terminal_text_is_escaped() -> None:
    assert safe_text("a\x1b[2Jb\x07c\x9bd") == "a\\x1b[2Jb\\x07c\\x9bd"


def test_invalid_input_is_escaped_in_the_summary(tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_bytes(b"http://x\x1b]52;c;aGk=\x07/\n")
    proc = mf("fetch", str(src), "-o", str(tmp_path / "o.jsonl"))
    assert b"\x1b" not in proc.stderr and b"\x07" not in proc.stderr


@pytest.fixture(scope="module")
def bad_certs(ca: trustme.CA) -> Iterator[dict[str, TargetServer]]:
    import datetime as dt

    other_ca = trustme.CA()
    servers: dict[str, TargetServer] = {}
    certs = {
        "untrusted": other_ca.issue_cert("127.0.0.1"),
        "wrong-host": ca.issue_cert("example.com"),
        "expired": ca.issue_cert("127.0.0.1", not_after=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)),
    }
    for name, cert in certs.items():
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        servers[name] = TargetServer(ssl_context=context)
        servers[name].start()
    yield servers
    for server in servers.values():
        server.stop()


@pytest.mark.parametrize("case", ["untrusted", "wrong-host", "expired"])
def test_bad_certificates_fail_and_are_not_retried(bad_certs: dict[str, TargetServer], ca_file: str,
                                                   case: str) -> None:
    server = bad_certs[case]
    result = one(server.url + "/bytes/1", cafile=ca_file, retries=3)
    assert result.error is not None and result.error.kind == "tls"
    assert result.attempts == 1


def test_plaintext_on_a_tls_port(target: TargetServer) -> None:
    result = one(target.url.replace("http://", "https://") + "/bytes/1", connect_timeout=2)
    assert result.error is not None and result.error.kind in ("tls", "timeout")


def test_insecure_is_reported_in_the_summary(target: TargetServer, tmp_path: Path) -> None:
    proc = mf("fetch", target.url + "/bytes/1", "--insecure", "--summary-json", str(tmp_path / "s.json"))
    assert b"TLS verification was OFF" in proc.stderr


def test_declared_secret_headers_stay_with_their_origin(target: TargetServer, target2: TargetServer) -> None:
    hop = f"{target.url}/redirect-to?url={target2.url}/headers"
    with Client(retries=0, secret_headers=["X-Api-Key"]) as client:
        away = client.get(hop, headers={"X-Api-Key": "k", "X-Plain": "p"})
        home = client.get(f"{target.url}/redirect-to?url=/headers", headers={"X-Api-Key": "k"})
    assert "x-api-key" not in away.json()["headers"] and away.json()["headers"]["x-plain"] == "p"
    assert home.json()["headers"]["x-api-key"] == "k"
    assert away.final_url == f"{target2.url}/headers"


def test_hand_followed_redirects_keep_the_rules(target: TargetServer) -> None:
    with Client(retries=0) as client:
        chain = client.get(f"{target.url}/redirect/3", headers={"Authorization": "Bearer t"})
        loop = client.stream([{"url": f"{target.url}/redirect-loop", "headers": {"Authorization": "x"}}])
        post = client.post(f"{target.url}/redirect-to?status=303&url=/echo", data="body",
                           headers={"Authorization": "Bearer t"})
        (scheme,) = client.stream([{"url": f"{target.url}/redirect-to?url=file:///etc/passwd",
                                    "headers": {"Authorization": "t"}}])
    assert chain.status_code == 200 and chain.final_url == f"{target.url}/redirect/0"
    (looped,) = loop
    assert looped.error is not None and looped.error.kind == "too_many_redirects"
    assert post.json()["method"] == "GET" and post.json()["body"] == ""
    assert scheme.error is not None and scheme.error.kind == "blocked"
