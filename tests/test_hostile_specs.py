"""Specs and inputs the property tests of whole runs found to crash a run: each is now a record."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pytest

import multifetch
from multifetch import InvalidInput, make_request
from multifetch.inputs._sources import read_inputs
from multifetch.inputs._spec import InvalidSpec
from multifetch.inputs._urls import check_url
from multifetch.testing import TargetServer

from helpers import jsonl, mf


def one_item(spec: dict[str, object]) -> object:
    (item,) = read_inputs(["-"], stdin=io.BytesIO(json.dumps(spec).encode()))
    return item


@pytest.mark.parametrize("spec", [
    {"url": "http://a.test/", "data": "a\ud800b"},  # JSON text may hold a lone surrogate; UTF-8 cannot
    {"url": "http://a.test/\ud800"},
    {"url": "http://a.test/", "headers": {"X": "\udfff"}},
    {"url": "http://a.test/", "params": {"q": "\ud800"}},
    {"url": "http://a.test/", "headers": {"Ünïcode": "1"}},  # a header name is an ASCII token
    {"url": "http://a.test/", "method": "É"},  # so is a method ('É'.isalpha() is true)
    {"url": "http://a.test/", "timeout": math.nan},  # json.dumps writes NaN, json.loads reads it
    {"url": "http://a.test/", "timeout": math.inf},
    {"url": "http://a.test/", "timeout": 1e308},  # its milliseconds do not fit libcurl's long
])
def test_specs_no_engine_can_send_are_invalid_input(spec: dict[str, object]) -> None:
    item = one_item(spec)
    assert isinstance(item, InvalidSpec), item
    with pytest.raises(InvalidInput):
        make_request(**spec)  # type: ignore[arg-type]


@pytest.mark.parametrize("host", ["a;b", "a!b", "a(b)", "a,b", "a=b", "a&b", "a'b", "a+b", "a*b", "a$b", "a{b}",
                                  "a^b", "a`b", "a\\b", 'a"b', "a<b>"])
def test_hosts_libcurl_refuses_are_refused_here(host: str) -> None:
    """libcurl rejects these ("URL rejected: Bad hostname") after the transfer has started."""
    assert check_url(f"http://{host}/x") is not None
    assert check_url(f"http://u:{host}@a.test/x") is None  # the userinfo may hold them


@pytest.mark.parametrize("transport", ["curl", "requests"])
def test_header_values_past_ascii_are_sent_as_utf8(target: TargetServer, transport: str) -> None:
    """Both engines send the same bytes (libcurl took text only as ASCII: the run stopped)."""
    spec = {"url": f"{target.url}/echo", "headers": {"X-Name": "Müller 😀"}}
    (result,) = multifetch.fetch([spec], transport=transport)
    assert result.error is None, result.error
    assert result.json()["headers"]["x-name"] == "Müller 😀".encode().decode("latin-1")


def test_a_url_libcurl_rejects_is_a_record(target: TargetServer) -> None:
    """An IPv6 literal that only looks like one: libcurl refuses the URL, and asking it for the
    transfer's effective URL then raised, which stopped the run."""
    specs = [f"http://[1:2:3]:{target.port}/", f"{target.url}/echo"]
    results = sorted(multifetch.fetch(specs), key=lambda r: r.id)
    assert [r.id for r in results] == ["0", "1"]
    assert results[0].error is not None and results[0].error.kind == "invalid_input"
    assert results[1].error is None


def test_a_redirect_to_a_host_of_bytes_past_ascii_is_followed(target: TargetServer,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The target server writes the Location as Latin-1: a host 'é' is the byte 0xE9, which libcurl
    leaves as it is. A request with credentials has its redirects followed here, which read that
    Location as UTF-8 and stopped the run. (Through the target as a proxy: no name is resolved.)"""
    monkeypatch.setenv("http_proxy", target.url)
    url = f"http://u:p@127.0.0.1:{target.port}/redirect-to?url=http%3A%2F%2F%C3%A9.test%2F"
    (result,) = multifetch.fetch([url], retries=0)
    assert result.error is None and result.final_url == "http://%E9.test/", (result.error, result.final_url)


@pytest.mark.parametrize("content", [b"\x1f\x8b", b"\x1f\x8bnot gzip at all, only its first two bytes"])
def test_a_corrupt_gzip_header_is_an_unreadable_input(tmp_path: Path, content: bytes) -> None:
    """Exit 3 with one line naming the input, for a file and for stdin (it was exit 70)."""
    src = tmp_path / "in.txt"
    src.write_bytes(content)
    for args, stdin in (([str(src)], None), (["-"], content)):
        proc = mf("fetch", *args, "-q", stdin=stdin)
        assert proc.returncode == 3, proc.stderr
        assert b"Traceback" not in proc.stderr
        assert b"cannot read" in proc.stderr.splitlines()[0]
        assert jsonl(proc.stdout) == []
