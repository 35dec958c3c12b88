"""The target server: an asyncio HTTP/1.1 server with a route per behaviour, that counts what it sees.

Routes (all answer GET; ``/echo`` any method)::

    /bytes/N[?seed=S]        N bytes (deterministic: see ``body_for``)
    /item/KEY[?delay=S]      a small body that depends on KEY
    /delay/SECONDS           waits, then answers 200
    /status/CODE             answers CODE
    /redirect/N              N redirects, then 200;  /redirect-loop: forever
    /redirect-to?url=U       one redirect to U
    /gzip /deflate /br /zstd a compressed JSON body with Content-Encoding
    /retry-after/S?times=K&key=X   K answers 429 with Retry-After: S, then 200
    /fail/K?key=X&status=503       K failing answers, then 200
    /headers /echo           the request's headers (and method and body) as JSON
    /large/N[?rate=B]        N bytes streamed in 64 KiB writes; Range and If-Range honoured
    /download?name=F         a body with Content-Disposition naming F (a hostile path)
    /dns-query               a DNS-over-HTTPS resolver answering NXDOMAIN to every name
    /set-cookie?name=&value= sets a cookie;  /basic-auth?user=&pw=: 401 unless those credentials
    /digest-auth?user=&pw=   the same with Digest (MD5, qop=auth)
    /robots.txt              ``server.robots``: (status, text); 404 when None (the default)
    /cached/KEY[?validators=etag|date]   ``server.versions[KEY]``, with ETag, Last-Modified; or 304
    (absolute-form targets)  served as a forward proxy would, counted in stats.counters['proxied']

It runs in a background thread (``with TargetServer() as server: server.url``) or in the
foreground (``multifetch serve``). ``server.stats`` says, per Host header, how many requests
were in flight at most and when each arrived.
"""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import time
from collections import defaultdict
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ._answers import CHUNK, NONCE, body_for, digest_ok, encode, host_name, item_body
from ._background import BackgroundServer

_REASONS = {200: "OK", 301: "Moved", 302: "Found", 304: "Not Modified", 401: "Unauthorized", 403: "Forbidden",
            404: "Not Found",
            407: "Proxy Authentication Required",
            429: "Too Many Requests",
            500: "Internal Server Error", 503: "Service Unavailable"}


@dataclass
class HostStats:
    in_flight: int = 0
    max_in_flight: int = 0
    arrivals: list[float] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)


class ServerStats:
    """What the server saw, per Host header. Thread-safe enough: written by one loop thread."""

    def __init__(self) -> None:
        self.hosts: dict[str, HostStats] = defaultdict(HostStats)
        self.counters: dict[str, int] = defaultdict(int)
        self.total = 0

    def reset(self) -> None:
        self.hosts.clear()
        self.counters.clear()
        self.total = 0

    def max_in_flight(self, host: str | None = None) -> int:
        if host is not None:
            return self.hosts[host].max_in_flight
        return max((h.max_in_flight for h in self.hosts.values()), default=0)

    def arrivals(self, host: str | None = None) -> list[float]:
        if host is not None:
            return list(self.hosts[host].arrivals)
        return sorted(t for h in list(self.hosts.values()) for t in h.arrivals)


class TargetServer(BackgroundServer):
    """``with TargetServer() as s: ...`` serves on ``s.url`` (127.0.0.1, a free port) in a thread."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        ssl_context: ssl.SSLContext | None = None,
        record: bool = True,
    ) -> None:
        super().__init__(host, port, ssl_context=ssl_context)
        self.record = record
        self.robots: tuple[int, str] | None = None
        self.versions: dict[str, int] = defaultdict(lambda: 1)
        self.stats = ServerStats()
        self._state: dict[str, int] = defaultdict(int)

    # -- one connection ---------------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                try:
                    method, target, _version = lines[0].split(" ", 2)
                except ValueError:
                    return
                headers: dict[str, str] = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, _, v = line.partition(":")
                        headers[k.strip().lower()] = v.strip()
                body = b""
                length = int(headers.get("content-length", "0") or 0)
                if length:
                    if headers.get("expect", "").lower() == "100-continue":
                        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                    body = await reader.readexactly(length)
                host_name = headers.get("host", "")
                stats = self.stats.hosts[host_name] if self.record else None
                if stats is not None:
                    stats.in_flight += 1
                    stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
                    stats.arrivals.append(time.time())
                    stats.paths.append(target)
                self.stats.total += 1
                try:
                    keep = await self._respond(writer, method, target, headers, body)
                except (ValueError, ImportError) as exc:  # a bad route argument: say so, go on
                    self._write(writer, 500, f"{exc}\n".encode(), [], len(f"{exc}\n".encode()))
                    keep = True
                finally:
                    if stats is not None:
                        stats.in_flight -= 1
                if not keep or headers.get("connection", "").lower() == "close":
                    return
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            return  # the peer left, or the server is shutting down
        finally:
            try:
                writer.close()
            except Exception:
                pass

    async def _respond(
        self, writer: asyncio.StreamWriter, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> bool:
        if method == "CONNECT":  # a tunnel request: this server does not tunnel
            self.stats.counters["connect"] += 1
            if "needs-auth" in target and "proxy-authorization" not in headers:
                self._write(writer, 407, b"", [("Proxy-Authenticate", 'Basic realm="proxy"')], 0)
            else:
                self._write(writer, 403, b"", [], 0)
            await writer.drain()
            return False
        if target.startswith(("http://", "https://")):  # absolute form: we are being used as a proxy
            self.stats.counters["proxied"] += 1
            headers["x-proxied-for"] = target
            target = urlsplit(target)._replace(scheme="", netloc="").geturl() or "/"
        parts = urlsplit(target)
        path = parts.path
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        segs = [s for s in path.split("/") if s]
        route = segs[0] if segs else ""
        arg = segs[1] if len(segs) > 1 else ""
        if route == "large":
            await self._stream(writer, int(arg or 0), headers, query)
            return True
        status, payload, extra = await self._answer(route, arg, query, method, target, headers, body)
        self._write(writer, status, payload if method != "HEAD" else b"", extra, len(payload))
        await writer.drain()
        return True

    async def _answer(
        self, route: str, arg: str, query: dict[str, str], method: str, target: str,
        headers: dict[str, str], body: bytes,
    ) -> tuple[int, bytes, list[tuple[str, str]]]:
        """The status, body and extra headers of the answer on ``route`` (``/route/arg?query``)."""
        extra: list[tuple[str, str]] = []
        status = 200
        payload: bytes
        if route == "bytes":
            payload = body_for(int(arg or 0), query.get("seed", ""))
        elif route == "item":
            if "delay" in query:
                await asyncio.sleep(float(query["delay"]))
            payload = item_body(arg)
        elif route == "delay":
            await asyncio.sleep(float(arg or 0))
            payload = b"ok\n"
        elif route == "status":
            status = int(arg or 200)
            payload = f"status {status}\n".encode()
        elif route == "redirect":
            n = int(arg or 0)
            if n > 0:
                status, payload = 302, b""
                extra.append(("Location", f"/redirect/{n - 1}"))
            else:
                payload = b"arrived\n"
        elif route == "redirect-loop":
            status, payload = 302, b""
            extra.append(("Location", "/redirect-loop"))
        elif route == "redirect-to":
            status, payload = int(query.get("status", "302")), b""
            extra.append(("Location", query.get("url", "/")))
        elif route in ("gzip", "deflate", "br", "zstd"):
            raw = json.dumps({"encoding": route, "data": "x" * 2000}).encode()
            payload = encode(raw, route)
            extra.append(("Content-Encoding", route))
            extra.append(("Content-Type", "application/json"))
        elif route in ("retry-after", "fail"):
            key = f"{route}:{query.get('key', '')}:{host_name(headers)}"
            times = int(query.get("times", "1")) if route == "retry-after" else int(arg or 1)
            self._state[key] += 1
            if self._state[key] <= times:
                status = 429 if route == "retry-after" else int(query.get("status", "503"))
                if route == "retry-after":
                    extra.append(("Retry-After", arg or "1"))
                payload = b"not yet\n"
            else:
                payload = b"ok\n"
        else:
            return self._answer_more(route, query, method, target, headers, body)
        return status, payload, extra

    def _answer_more(
        self, route: str, query: dict[str, str], method: str, target: str, headers: dict[str, str],
        body: bytes,
    ) -> tuple[int, bytes, list[tuple[str, str]]]:
        """The routes of headers, cookies and credentials (and the unknown ones)."""
        extra: list[tuple[str, str]] = []
        status = 200
        payload: bytes
        if route in ("headers", "echo"):
            info: dict[str, Any] = {"headers": headers}
            if route == "echo":
                info.update(method=method, path=target, body=body.decode("latin-1"))
            payload = json.dumps(info).encode()
            extra.append(("Content-Type", "application/json"))
        elif route == "dns-query":  # a DoH resolver that knows no names: NXDOMAIN for all
            asked = body or b"\0" * 12
            payload = asked[:2] + b"\x81\x83" + b"\x00\x01\x00\x00\x00\x00\x00\x00" + asked[12:]
            extra.append(("Content-Type", "application/dns-message"))
        elif route == "download":  # a hostile Content-Disposition: a path out of any folder
            payload = b"downloaded\n"
            extra.append(("Content-Disposition", f'attachment; filename="{query.get("name", "../../evil")}"'))
        elif route == "set-cookie":
            payload = b"cookie set\n"
            cookie = f"{query.get('name', 'session')}={query.get('value', 'abc')}; Path=/"
            extra.append(("Set-Cookie", cookie))
        elif route == "basic-auth":
            pair = f"{query.get('user', 'u')}:{query.get('pw', 'p')}".encode()
            expected = "Basic " + base64.b64encode(pair).decode()
            if headers.get("authorization") == expected:
                payload = b"authorized\n"
            else:
                status, payload = 401, b"who are you?\n"
                extra.append(("WWW-Authenticate", 'Basic realm="target"'))
        elif route == "digest-auth":
            credentials = (query.get("user", "u"), query.get("pw", "p"))
            if digest_ok(headers.get("authorization", ""), method, *credentials):
                payload = b"authorized\n"
            else:
                status, payload = 401, b"who are you?\n"
                extra.append(("WWW-Authenticate", f'Digest realm="target", qop="auth", nonce="{NONCE}", '
                                                  'algorithm=MD5'))
        elif route == "robots.txt":
            status, text = self.robots or (404, "no robots.txt here\n")
            payload = text.encode()
            extra.append(("Content-Type", "text/plain"))
        elif route == "cached":
            status, payload, extra = self._cached(target, query, headers)
        elif route == "":
            payload = b"multifetch target server\n"
        else:
            status, payload = 404, b"no such route\n"
        return status, payload, extra

    def _cached(
        self, target: str, query: dict[str, str], headers: dict[str, str]
    ) -> tuple[int, bytes, list[tuple[str, str]]]:
        """``/cached/KEY``: a versioned body with validators, and 304 for a request that has it."""
        key = urlsplit(target).path.split("/", 2)[2] if target.count("/") >= 2 else ""
        version = self.versions[key]
        etag = f'"{key}-v{version}"'
        modified = formatdate(1_700_000_000 + 86_400 * version, usegmt=True)
        kinds = query.get("validators", "etag,date")
        extra = ([("ETag", etag)] if "etag" in kinds else []) + (
            [("Last-Modified", modified)] if "date" in kinds else [])
        match = headers.get("if-none-match")
        since = headers.get("if-modified-since")
        if "etag" in kinds and match is not None:
            fresh = etag in [tag.strip() for tag in match.split(",")]
        elif "date" in kinds and since is not None:
            fresh = since == modified
        else:
            fresh = False
        self.stats.counters["304" if fresh else "200"] += 1
        if fresh:
            return 304, b"", extra
        return 200, item_body(f"{key} v{version}"), extra

    def _write(
        self, writer: asyncio.StreamWriter, status: int, payload: bytes, extra: list[tuple[str, str]],
        length: int,
    ) -> None:
        head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}", f"Content-Length: {length}"]
        head += [f"{k}: {v}" for k, v in extra]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload)

    async def _stream(
        self, writer: asyncio.StreamWriter, n: int, headers: dict[str, str], query: dict[str, str]
    ) -> None:
        """``/large/N``: honours ``Range: bytes=K-`` (with ``If-Range``) unless ``?ranges=no``;
        ``?rate=B`` sends about B bytes a second."""
        etag = f'"large-{n}"'
        start = 0
        wanted = headers.get("range", "")
        if_range = headers.get("if-range")
        if wanted.startswith("bytes=") and query.get("ranges") != "no" and if_range in (None, etag):
            first = wanted[6:].split("-", 1)[0]
            start = int(first) if first.isdigit() and int(first) < n else 0
        self.stats.counters["range" if start else "full"] += 1
        if start:
            head = (f"HTTP/1.1 206 Partial Content\r\nContent-Length: {n - start}\r\n"
                    f"Content-Range: bytes {start}-{n - 1}/{n}\r\n")
        else:
            head = f"HTTP/1.1 200 OK\r\nContent-Length: {n}\r\n"
        accept = "Accept-Ranges: none" if query.get("ranges") == "no" else "Accept-Ranges: bytes"
        writer.write(f"{head}ETag: {etag}\r\n{accept}\r\n\r\n".encode())
        rate = float(query.get("rate", "0"))
        block = body_for(CHUNK, "large")
        sent = start
        while sent < n:
            offset = sent % CHUNK
            piece = block[offset : offset + min(CHUNK - offset, n - sent)]
            writer.write(piece)
            sent += len(piece)
            await writer.drain()
            if rate:
                await asyncio.sleep(len(piece) / rate)
