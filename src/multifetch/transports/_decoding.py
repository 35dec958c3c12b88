"""Content-Encoding, decoded here rather than by libcurl: gzip, deflate, br and zstd.

The libcurl in the pycurl wheel decodes gzip, deflate and br but not zstd, and it refuses an
answer in an encoding it does not know (``Unrecognized content encoding``) without handing its
body over. So libcurl is told not to decode (``HTTP_CONTENT_DECODING`` 0, see ``_curl_options``),
every encoding multifetch reads is advertised, and each body is decoded on its way to its
``BodyWriter``: the decoded body is what is hashed, kept and saved, and what ``max_body_size``
bounds (a small compressed answer can decode to gigabytes). The raw body stays available to
whoever wants it (a WARC archive keeps it as it came).

An answer without Content-Encoding (most of them) costs one look at its headers when its first
byte arrives, and one call more per chunk.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

from .._errors import ErrorKind
from ..outputs._bodies import BodyWriter

try:  # the standard library's from Python 3.14; the same module, backported, before
    from compression import zstd  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # pragma: no cover - depends on the Python version
    from backports import zstd  # type: ignore[import-not-found,no-redef,unused-ignore]

import brotli

#: What every request says it reads (libcurl sends this as Accept-Encoding).
ACCEPTED = "gzip, deflate, br, zstd"
_PIECE = 256 * 1024  # decoded bytes produced at a time: a bomb never sits in memory whole


class Undecodable(Exception):
    """A body that its Content-Encoding does not describe, or an encoding nobody reads."""


class TooLarge(Exception):
    """The decoded body grew past ``max_body_size``."""


class DecodingFailed(Exception):
    """``Decoding.finish`` found the body's last bytes undecodable or too large (``failure`` says)."""


Sink = Callable[[bytes], Any]


class _Zlib:
    """gzip (and x-gzip) or deflate, which servers send zlib-wrapped or raw: both are read."""

    __slots__ = ("_d", "_name", "_out", "_started", "_wbits")

    def __init__(self, name: str, out: Sink) -> None:
        self._name = name
        self._wbits = 31 if name != "deflate" else 15
        self._d = zlib.decompressobj(self._wbits)
        self._out = out
        self._started = False

    def write(self, data: bytes) -> None:
        d = self._d
        while data:
            if d.eof:  # another gzip member follows (concatenated), or trailing bytes after deflate
                data = d.unused_data
                if self._wbits != 31 or not data:
                    return
                d = self._d = zlib.decompressobj(31)
            try:
                piece = d.decompress(data, _PIECE)
            except zlib.error as exc:
                if self._name == "deflate" and not self._started and self._wbits == 15:
                    self._wbits = -15  # raw deflate, without the zlib wrapper
                    d = self._d = zlib.decompressobj(-15)
                    continue
                raise Undecodable(f"cannot decode the {self._name} body: {exc}") from None
            self._started = True
            if piece:
                self._out(piece)
            data = d.unconsumed_tail

    def close(self) -> None:
        rest = self._d.flush()
        if rest:
            self._out(rest)


class _Brotli:
    __slots__ = ("_d", "_out")

    def __init__(self, out: Sink) -> None:
        self._d = brotli.Decompressor()
        self._out = out

    def write(self, data: bytes) -> None:
        d = self._d
        try:
            piece = d.process(data, output_buffer_limit=_PIECE)
            while True:
                if piece:
                    self._out(piece)
                if d.can_accept_more_data() or d.is_finished():
                    return
                piece = d.process(b"", output_buffer_limit=_PIECE)
        except brotli.error as exc:
            raise Undecodable(f"cannot decode the br body: {exc}") from None

    def close(self) -> None:
        pass


class _Zstd:
    __slots__ = ("_d", "_out")

    def __init__(self, out: Sink) -> None:
        self._d = zstd.ZstdDecompressor()
        self._out = out

    def write(self, data: bytes) -> None:
        d = self._d
        try:
            while True:
                if d.eof:  # frames may follow one another
                    data = d.unused_data + data
                    if not data:
                        return
                    d = self._d = zstd.ZstdDecompressor()
                piece = d.decompress(data, _PIECE)
                data = b""
                if piece:
                    self._out(piece)
                if d.needs_input and not d.eof:
                    return
        except zstd.ZstdError as exc:
            raise Undecodable(f"cannot decode the zstd body: {exc}") from None

    def close(self) -> None:
        pass


_Stage = _Zlib | _Brotli | _Zstd


def _stage(name: str, out: Sink) -> _Stage:
    if name in ("gzip", "x-gzip", "deflate"):
        return _Zlib(name, out)
    if name == "br":
        return _Brotli(out)
    if name == "zstd":
        return _Zstd(out)
    raise Undecodable(f"unsupported content encoding {name!r}: multifetch reads {ACCEPTED}")


def content_encodings(raw_headers: list[bytes]) -> list[str]:
    """The Content-Encoding of the last answer among libcurl's header lines (those of redirects,
    interim 1xx answers and a proxy's CONNECT answer come first), in the order applied."""
    head = b"".join(raw_headers)
    # bytes.find, not `in`: `in` first tries the operand as an integer, and that failed attempt
    # formats a TypeError on every call
    if head.find(b"ncoding:") < 0 and head.find(b"NCODING:") < 0:
        return []  # nearly always: one join and two scans in C, no line split in Python
    start = head.rfind(b"\nHTTP/")
    names: list[str] = []
    for line in head[start + 1:].split(b"\n"):
        key, sep, value = line.partition(b":")
        if sep and key.strip().lower() == b"content-encoding":
            names += [n for n in (part.strip().lower() for part in value.decode("latin-1").split(",")) if n]
    return [n for n in names if n != "identity"]


class Decoding:
    """libcurl's write callback for one attempt: raw chunks in, decoded ones to ``body``.

    ``raw_headers`` is the list libcurl's header callback fills: complete when the first chunk
    arrives. A decoding failure aborts the transfer (the callback returns 0); ``failure`` then
    holds its error kind and message.
    """

    __slots__ = ("_first", "_limit", "_size", "_stages", "body", "failure", "raw_headers", "size")

    def __init__(self, body: BodyWriter, raw_headers: list[bytes], limit: int | None) -> None:
        self.body = body
        self.raw_headers = raw_headers
        self._limit = limit
        self._stages: list[_Stage] | None = None  # None: not decoding (yet, or at all)
        self._first = True
        self._size = 0
        self.size = 0
        self.failure: tuple[str, str] | None = None

    @property
    def error(self) -> OSError | None:
        """The body writer's own error (a file that could not be written), if any."""
        return getattr(self.body, "error", None)

    def write(self, chunk: bytes) -> int | None:
        stages = self._stages
        if stages is None:
            if not self._first:
                return self.body.write(chunk)
            self._first = False
            names = content_encodings(self.raw_headers)
            if not names:
                return self.body.write(chunk)
            try:
                stages = self._stages = self._chain(names)
            except Undecodable as exc:
                self.failure = (ErrorKind.PROTOCOL, str(exc))
                return 0
        try:
            stages[0].write(chunk)
        except Undecodable as exc:
            self.failure = (ErrorKind.PROTOCOL, str(exc))
            return 0
        except TooLarge as too_large:  # a name of its own: compiled, one name holds one exception type
            self.failure = (ErrorKind.BODY_TOO_LARGE, str(too_large))
            return 0
        except OSError:  # the body's file refused the write: its error says why
            return 0
        return None

    def _chain(self, names: list[str]) -> list[_Stage]:
        """Decoders from the last encoding applied to the first, the last one feeding the body."""
        stages: list[_Stage] = []
        out: Sink = self._deliver
        for name in names:  # built from the body outwards: the first applied is decoded last
            stage = _stage(name, out)
            stages.insert(0, stage)
            out = stage.write
        return stages

    def _deliver(self, piece: bytes) -> None:
        self._size += len(piece)
        if self._limit is not None and self._size > self._limit:
            raise TooLarge(f"decoded body larger than max_body_size ({self._limit} bytes)")
        if self.body.write(piece) == 0:
            raise OSError("the body could not be written")

    def finish(self) -> tuple[bytes | None, str | None, str | None]:
        """Flush the decoders and finish the body: ``BodyWriter.finish``'s answer. Raises
        ``DecodingFailed`` (``failure`` set) when the last bytes cannot be decoded or are too many."""
        stages = self._stages
        if stages is not None:
            try:
                for stage in stages:
                    stage.close()
            except Undecodable as exc:
                self.failure = (ErrorKind.PROTOCOL, str(exc))
                raise DecodingFailed(str(exc)) from None
            except TooLarge as too_large:
                self.failure = (ErrorKind.BODY_TOO_LARGE, str(too_large))
                raise DecodingFailed(str(too_large)) from None
        answer = self.body.finish()
        self.size = self.body.size
        return answer

    def abort(self) -> None:
        self.body.abort()
