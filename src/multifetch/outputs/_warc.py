"""WARC archives (``--warc FILE.warc.gz``): every request and answer as the wire carried them.

Each attempt that got an answer becomes a ``request`` and a ``response`` record (WARC/1.1, with
``WARC-Block-Digest`` and ``WARC-Payload-Digest``, made by warcio); a redirect libcurl followed is
a pair of its own. The response holds the body as it came, before any Content-Encoding was
undone (the record's ``sha256`` is of the decoded body), and without the chunked framing, which
libcurl removes. Every record is a gzip member of its own, so the file can be cut after any one
of them: that is how a torn last record (``kill -9``) is cut away when the archive is opened
again (``repair``). Files are written as the other outputs are (``DurableFile``: large writes,
fsync on an interval and before the record output's own fsync), and rotated by size:
``crawl.warc.gz``, then ``crawl-00001.warc.gz``, ``crawl-00002.warc.gz`` ...
"""

from __future__ import annotations

import os
import re
import tempfile
import zlib
from collections.abc import Iterator
from io import BytesIO
from typing import IO, Any
from urllib.parse import urljoin

from .._errors import UsageError
from .._version import __version__
from ._file import DurableFile

HEADER_IN, HEADER_OUT, DATA_OUT = 1, 2, 4  # libcurl's debug callback kinds kept (curl_infotype)
_SPOOL = 1 << 20  # raw body bytes kept in memory per attempt; beyond, a temporary file
_SERIES = re.compile(r"^(?P<stem>.*?)(?:-(?P<n>\d{5}))?(?P<ext>\.warc(?:\.gz)?)$")


def require_warcio() -> None:
    """Refuse (``UsageError``) an archive when warcio is not installed."""
    from importlib.util import find_spec

    if find_spec("warcio") is None:
        raise UsageError("WARC output needs warcio: pip install 'multifetch[warc]'")


class Exchange:
    """What one attempt sent and received, for the archive: libcurl's header lines and request
    body (``events``), the answer's body as it came (``body``), and where it went."""

    __slots__ = ("body", "complete", "events", "final_url", "ip", "url")

    def __init__(self, url: str) -> None:
        self.url = url
        self.final_url: str | None = None
        self.events: list[tuple[int, bytes]] = []
        self.body: IO[bytes] = tempfile.SpooledTemporaryFile(_SPOOL)  # noqa: SIM115 - closed by close()
        self.ip: str | None = None
        self.complete = False  # the attempt ended with an answer (only those are archived)

    def debug(self, kind: int, data: bytes) -> None:
        """libcurl's debug callback (``CURLOPT_DEBUGFUNCTION``)."""
        if kind in (HEADER_IN, HEADER_OUT, DATA_OUT):
            self.events.append((kind, bytes(data)))

    def pairs(self) -> Iterator[tuple[str, bytes, bytes, bytes, bool]]:
        """``(uri, request head, request body, response head, is last)`` of each request and its
        final (non-1xx) answer; a proxy's CONNECT and its answer are left out."""
        requests: list[list[bytes]] = []  # [head, body]
        heads: list[bytes] = []
        lines: list[bytes] = []
        for kind, data in self.events:
            if kind == HEADER_OUT:
                requests.append([data, b""])
            elif kind == DATA_OUT and requests:
                requests[-1][1] += data
            elif kind == HEADER_IN:
                lines.append(data)
                if data in (b"\r\n", b"\n"):
                    head, lines = b"".join(lines), []
                    if not re.match(rb"HTTP/\S+ 1\d\d", head):  # interim answers are not archived
                        heads.append(head)
        kept = [(r, h) for r, h in zip(requests, heads, strict=False) if not r[0].startswith(b"CONNECT ")]
        uri = self.url
        for index, ((head, body), answer) in enumerate(kept):
            last = index == len(kept) - 1
            yield (self.final_url or uri) if last else uri, head, body, answer, last
            location = re.search(rb"(?im)^location:[ \t]*(\S+)", answer)
            if location:
                uri = urljoin(uri, location.group(1).decode("latin-1"))

    def close(self) -> None:
        self.body.close()


def check_archive(path: str, *, resume: bool, overwrite: bool) -> None:
    """Before a run: an archive that exists is continued with ``resume``, replaced with
    ``overwrite``, and otherwise refused (``UsageError``), as the record output is."""
    require_warcio()
    if os.path.isdir(path):
        raise UsageError(f"--warc {path}: is a folder; give a file")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"--warc {path}: no folder {folder}")
    files = existing(path)
    if not files or resume:
        return
    if not overwrite:
        raise UsageError(f"{path} exists: add --resume to continue it, or --overwrite")
    for name in files:
        os.unlink(name)


def series(path: str, number: int) -> str:
    """The ``number``-th file of the archive ``path`` (0: ``path`` itself)."""
    if number == 0:
        return path
    match = _SERIES.match(path)
    stem, ext = (match.group("stem"), match.group("ext")) if match else (path, "")
    return f"{stem}-{number:05d}{ext}"


def existing(path: str) -> list[str]:
    """The files of the archive ``path`` that exist, in order."""
    found = []
    number = 0
    while os.path.exists(series(path, number)):
        found.append(series(path, number))
        number += 1
    return found


def repair(path: str) -> int:
    """Cut ``path`` after its last whole gzip member (a record torn by a crash); bytes cut."""
    end = 0
    offset = 0
    d = zlib.decompressobj(31)
    with open(path, "rb") as f:
        while True:
            block = f.read(1 << 20)
            if not block:
                break
            while block:
                try:
                    d.decompress(block)
                except zlib.error:
                    block = b""
                    offset = -1
                    break
                if not d.eof:
                    offset += len(block)
                    break
                used = len(block) - len(d.unused_data)
                offset += used
                end = offset
                block = d.unused_data
                d = zlib.decompressobj(31)
            if offset < 0:
                break
    size = os.path.getsize(path)
    if end < size:
        with open(path, "r+b") as f:
            f.truncate(end)
            f.flush()
            os.fsync(f.fileno())
    return size - end


class WarcArchive:
    """Writes the archive of a run; ``write(job)`` for each finished job, on the consumer's thread.

    An archive that exists is continued: its last file is repaired (``repair``) and written on.
    """

    def __init__(self, path: str, *, max_size: int | None = None, sync_interval: float = 1.0) -> None:
        require_warcio()
        from warcio.statusandheaders import StatusAndHeadersParser
        from warcio.warcwriter import WARCWriter

        self._parser = StatusAndHeadersParser([], verify=False)
        self._writer_class = WARCWriter
        self.path = path
        self._max_size = max_size
        self._sync_interval = sync_interval
        self.records = 0
        files = existing(path)
        self._number = max(0, len(files) - 1)
        if files:
            repair(files[-1])
        self._file: DurableFile | None = None
        self._size = 0
        self._open()

    def _open(self) -> None:
        name = series(self.path, self._number)
        self._file = DurableFile(name, append=True, sync_interval=self._sync_interval)
        self._size = os.path.getsize(name)
        if self._size == 0:
            buffer = BytesIO()
            writer = self._writer_class(buffer, gzip=True, warc_version="1.1")
            info = {"software": f"multifetch/{__version__}", "format": "WARC File Format 1.1",
                    "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/"}
            writer.write_record(writer.create_warcinfo_record(os.path.basename(name), info))
            self._put(buffer.getvalue())

    def _put(self, data: bytes) -> None:
        assert self._file is not None
        if self._max_size is not None and self._size and self._size + len(data) > self._max_size:
            self._file.close()
            self._number += 1
            self._open()
        self._file.write(data)
        self._size += len(data)

    def write(self, job: Any) -> None:
        """The records of every answered attempt of ``job`` (its ``archive``); then forgets them."""
        exchanges: list[Exchange] | None = job.archive
        if not exchanges:
            return
        job.archive = None
        try:
            for exchange in exchanges:
                if exchange.complete:
                    self._write_exchange(exchange)
        finally:
            for exchange in exchanges:
                exchange.close()

    def _write_exchange(self, exchange: Exchange) -> None:
        date = None
        for uri, head, body, answer, last in exchange.pairs():
            buffer = BytesIO()
            writer = self._writer_class(buffer, gzip=True, warc_version="1.1")
            date = date or writer.curr_warc_date()
            fields: dict[str, str] = {"WARC-Date": date}
            if exchange.ip:
                fields["WARC-IP-Address"] = exchange.ip
            payload: IO[bytes]
            if last:
                payload = exchange.body
                length = payload.tell()
                payload.seek(0)
            else:
                payload, length = BytesIO(), 0
                if re.search(rb"(?im)^(content-length:[ \t]*[1-9]|transfer-encoding:)", answer):
                    fields["WARC-Truncated"] = "unspecified"  # libcurl skips the bodies of redirects
            response = writer.create_warc_record(
                uri, "response", payload=payload, length=length, warc_headers_dict=dict(fields),
                http_headers=self._parser.parse(BytesIO(answer)))
            request = writer.create_warc_record(
                uri, "request", payload=BytesIO(body), length=len(body), warc_headers_dict=dict(fields),
                http_headers=self._parser.parse(BytesIO(head)))
            writer.write_request_response_pair(request, response)
            self._put(buffer.getvalue())
            self.records += 2

    def flush(self) -> None:
        """Make every record written so far durable (before the record output's fsync)."""
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
