"""What the target server answers with: the bodies of its routes, its encodings, Digest checks."""

from __future__ import annotations

import gzip
import hashlib
import re
import zlib

CHUNK = 64 * 1024  # the target server streams in pieces of this size


def body_for(n: int, seed: str = "") -> bytes:
    """The body of ``/bytes/N?seed=S``: a pattern derived from the seed, whose 64 KiB pieces each
    start with their number, so that a body put together out of order never passes for the real one."""
    unit = hashlib.sha256(f"{seed}:{n}".encode()).hexdigest().encode()
    piece = unit * (CHUNK // len(unit))
    return b"".join(b"%08x" % i + piece[8:] for i in range(n // len(piece) + 1))[:n]


def item_body(key: str) -> bytes:
    """The body of ``/item/KEY``."""
    return f"item {key} {hashlib.sha256(key.encode()).hexdigest()}\n".encode()


NONCE = "6d756c746966657463682d6e6f6e6365"
_DIGEST_PARAM = re.compile(r'(\w+)=(?:"([^"]*)"|([^,\s]*))')


def digest_ok(header: str, method: str, user: str, password: str) -> bool:
    """RFC 7616 Digest (MD5, qop=auth) check of an Authorization header."""
    if not header.startswith("Digest "):
        return False
    p = {k: a or b for k, a, b in _DIGEST_PARAM.findall(header)}

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    ha1 = md5(f"{user}:target:{password}")
    ha2 = md5(f"{method}:{p.get('uri', '')}")
    expected = md5(f"{ha1}:{p.get('nonce')}:{p.get('nc')}:{p.get('cnonce')}:{p.get('qop')}:{ha2}")
    return p.get("username") == user and p.get("response") == expected


def host_name(headers: dict[str, str]) -> str:
    return headers.get("host", "")


def encode(raw: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.compress(raw)
    if encoding == "deflate":
        return zlib.compress(raw)
    if encoding == "zstd":
        try:
            from compression import zstd  # type: ignore[import-not-found,unused-ignore]
        except ImportError:  # before Python 3.14
            from backports import zstd  # type: ignore[import-not-found,no-redef,unused-ignore]
        return bytes(zstd.compress(raw))
    import brotli

    return bytes(brotli.compress(raw))
