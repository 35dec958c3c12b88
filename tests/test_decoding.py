"""Content-Encoding read in Python (libcurl here lacks zstd): every encoding a server may send is
decoded, and the decoded body is what is hashed, kept and saved; bombs stay bounded."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import brotli
import pytest

from multifetch.testing import FaultServer, TargetServer

from helpers import fetch_one, jsonl, mf

try:
    from compression import zstd  # type: ignore[import-not-found,unused-ignore]
except ImportError:
    from backports import zstd  # type: ignore[import-not-found,no-redef,unused-ignore]

PLAIN = b"zstd body " * 5000
ZSTD = zstd.compress(PLAIN)
TWO_FRAMES = zstd.compress(b"first frame ") + zstd.compress(b"second frame")
ZSTD_BOMB = zstd.compress(b"\0" * (256 << 20))  # 256 MiB of zeros in a few kilobytes


def _answer(encoding: str, body: bytes) -> list[tuple[str, bytes]]:
    head = f"HTTP/1.1 200 OK\r\nContent-Encoding: {encoding}\r\nContent-Length: {len(body)}\r\n\r\n"
    return [("send", head.encode() + body), ("close",)]


SCRIPTS = {
    "/zstd": _answer("zstd", ZSTD),
    "/zstd-frames": _answer("zstd", TWO_FRAMES),
    "/zstd-bomb": _answer("zstd", ZSTD_BOMB),
    "/bad-zstd": _answer("zstd", b"not zstd at all"),
    "/br-then-gzip": _answer("br, gzip", gzip.compress(brotli.compress(PLAIN))),
    "/zstd-unasked-upper": _answer("ZSTD", ZSTD),
    "/compress": _answer("compress", b"\x1f\x9d\x90hello"),
}


@pytest.fixture(scope="module")
def encoded() -> Iterator[FaultServer]:
    with FaultServer(SCRIPTS) as server:
        yield server


@pytest.mark.parametrize("engine", ["curl", "requests"])
@pytest.mark.parametrize("encoding", ["zstd", "gzip", "deflate", "br"])
def test_every_encoding_is_decoded_and_hashed_decoded(target: TargetServer, engine: str, encoding: str) -> None:
    result = fetch_one(f"{target.url}/{encoding}", transport=engine)
    assert result.status_code == 200, result.error
    assert result.headers["content-encoding"] == encoding
    assert result.json()["encoding"] == encoding
    assert result.size == len(result.content)
    assert result.sha256 == hashlib.sha256(result.content).hexdigest()


@pytest.mark.parametrize("engine", ["curl", "requests"])
def test_zstd_is_asked_for(target: TargetServer, engine: str) -> None:
    asked = fetch_one(f"{target.url}/headers", transport=engine).json()["headers"]["accept-encoding"]
    assert "zstd" in asked and "gzip" in asked and "br" in asked


def test_zstd_sent_unasked_and_in_capitals_is_read(encoded: FaultServer) -> None:
    result = fetch_one(encoded.url + "/zstd-unasked-upper")
    assert result.content == PLAIN


def test_zstd_frames_one_after_another(encoded: FaultServer) -> None:
    assert fetch_one(encoded.url + "/zstd-frames").content == b"first frame second frame"


def test_stacked_encodings_are_undone_in_reverse(encoded: FaultServer) -> None:
    result = fetch_one(encoded.url + "/br-then-gzip")
    assert result.content == PLAIN and result.size == len(PLAIN)


def test_a_zstd_bomb_is_capped(encoded: FaultServer) -> None:
    result = fetch_one(encoded.url + "/zstd-bomb", max_body_size=1 << 20)
    assert result.error is not None and result.error.kind == "body_too_large", result
    assert result.sha256 is None


@pytest.mark.parametrize(("path", "words"), [("/bad-zstd", "zstd"), ("/compress", "compress")])
def test_undecodable_or_unknown_encodings_are_protocol_errors(encoded: FaultServer, path: str, words: str) -> None:
    result = fetch_one(encoded.url + path)
    assert result.error is not None and result.error.kind == "protocol", result
    assert words in result.error.message


def test_cli_hashes_and_saves_the_decoded_body(encoded: FaultServer, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    done = mf("fetch", "-q", "-o", str(out), "--save-bodies", str(tmp_path / "bodies"), encoded.url + "/zstd")
    assert done.returncode == 0, done.stderr
    (record,) = jsonl(out)
    assert record["sha256"] == hashlib.sha256(PLAIN).hexdigest() and record["size"] == len(PLAIN)
    assert Path(record["body_path"]).read_bytes() == PLAIN
    plain = mf("fetch", "-q", encoded.url + "/zstd")
    assert json.loads(plain.stdout)["sha256"] == record["sha256"]
