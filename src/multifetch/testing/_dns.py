"""A small DNS server for tests: UDP and TCP on a loopback address, answers from a table.

``with DnsServer({"a.test": ["127.0.0.1"]}, aaaa_delay=3.0) as dns:`` serves on ``dns.host``
(a free address in 127.53.0.0/16 unless given), port 53:

- A (and AAAA) questions about a known name are answered from the table: its IPv4 (and IPv6)
  addresses, or an empty NOERROR answer when it has none of that family;
- AAAA answers wait ``aaaa_delay`` seconds (``None``: they are never sent), the way a slow
  resolver or a broken middlebox answers IPv6 questions; ``delays`` holds per-name delays for
  every answer about that name (``None``: that name is never answered);
- a name not in the table gets NXDOMAIN at once, whatever the type.

Delayed answers never hold other questions: a timer thread sends them when they are due. Threads
are bounded: one for UDP, one accepting TCP, ``tcp_workers`` serving TCP connections, one timer.
``dns.queries(name, "AAAA")`` counts the questions received (retransmissions included).
"""

from __future__ import annotations

import errno
import heapq
import ipaddress
import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ._background import Service

_POLL = 0.2  # how often blocked threads look at the stop flag
_UDP_LIMIT = 512  # without EDNS, larger UDP answers are truncated (TC) and asked again over TCP
_TCP_IDLE = 10.0


def _name(qname: object) -> str:
    return str(qname).rstrip(".").lower()


class _Timer:
    """One thread sending the answers that are due, in order; ``stop()`` drops the rest."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = 0
        self._cond = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="DnsServer-timer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def at(self, due: float, send: Callable[[], None]) -> None:
        with self._cond:
            self._seq += 1
            heapq.heappush(self._heap, (due, self._seq, send))
            if self._heap[0][1] == self._seq:
                self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._heap.clear()
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join(5)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped and (not self._heap or self._heap[0][0] > time.monotonic()):
                    wait = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(wait)
                if self._stopped:
                    return
                _due, _seq, send = heapq.heappop(self._heap)
            send()


class DnsServer(Service):
    """A DNS server on ``host``:``port`` (UDP and TCP) run by background threads; see the module doc.

    ``records`` maps a name (no trailing dot, any case) to its addresses, IPv4 and IPv6 alike;
    a name with no addresses exists but answers empty. ``names`` adds names that exist with no
    address in DNS (for instance names whose IPv4 address is in /etc/hosts): NOERROR, no data.
    ``ttl`` is given with every answer (and as the negative TTL of NXDOMAIN).
    """

    def __init__(
        self,
        records: Mapping[str, Sequence[str]] | None = None,
        *,
        names: Iterable[str] = (),
        host: str | None = None,
        port: int = 53,
        aaaa_delay: float | None = 0.0,
        delays: Mapping[str, float | None] | None = None,
        ttl: int = 300,
        tcp_workers: int = 4,
    ) -> None:
        import dnslib  # a test dependency: imported here, so `multifetch.testing` works without it

        self._dnslib: Any = dnslib
        self._v4: dict[str, list[str]] = {}
        self._v6: dict[str, list[str]] = {}
        for name in names:
            self._v4.setdefault(_name(name), [])
            self._v6.setdefault(_name(name), [])
        for name, addresses in (records or {}).items():
            key = _name(name)
            v4, v6 = self._v4.setdefault(key, []), self._v6.setdefault(key, [])
            for address in addresses:
                (v6 if ipaddress.ip_address(address).version == 6 else v4).append(address)
        self.host = host or ""
        self.port = port
        self.aaaa_delay = aaaa_delay
        self.delays: dict[str, float | None] = {_name(k): v for k, v in (delays or {}).items()}
        self.ttl = ttl
        self._counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._timer = _Timer()
        self._pool = ThreadPoolExecutor(max_workers=tcp_workers, thread_name_prefix="DnsServer-tcp")
        self._udp: socket.socket | None = None
        self._tcp: socket.socket | None = None
        self._threads: list[threading.Thread] = []

    # ---- what tests read ------------------------------------------------------------------------

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    def queries(self, name: str, qtype: str | None = None) -> int:
        """Questions received about ``name`` (of type ``qtype``, e.g. ``"A"``, ``"AAAA"``; else all)."""
        key = _name(name)
        with self._lock:
            return sum(n for (k, t), n in self._counts.items() if k == key and qtype in (None, t))

    def counts(self) -> dict[tuple[str, str], int]:
        """A snapshot: (name, type) → questions received."""
        with self._lock:
            return dict(self._counts)

    def total(self, qtype: str | None = None) -> int:
        with self._lock:
            return sum(n for (_k, t), n in self._counts.items() if qtype in (None, t))

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()

    # ---- running --------------------------------------------------------------------------------

    def start(self) -> None:
        self._udp, self._tcp = self._bind()
        self._timer.start()
        for target, name in ((self._serve_udp, "DnsServer-udp"), (self._serve_tcp, "DnsServer-accept")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(5)
        self._threads.clear()
        self._timer.stop()
        self._pool.shutdown(wait=True, cancel_futures=True)
        for sock in (self._udp, self._tcp):
            if sock is not None:
                sock.close()

    def _bind(self) -> tuple[socket.socket, socket.socket]:
        fixed = bool(self.host)
        for _ in range(1 if fixed else 50):
            host = self.host if fixed else f"127.53.{random.randrange(256)}.{random.randrange(1, 255)}"
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                udp.bind((host, self.port))
                tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                tcp.bind((host, self.port))
                tcp.listen(64)
            except OSError as e:
                udp.close()
                tcp.close()
                if fixed or e.errno != errno.EADDRINUSE:
                    raise
                continue
            udp.settimeout(_POLL)
            tcp.settimeout(_POLL)
            self.host = host
            self.port = udp.getsockname()[1]
            return udp, tcp
        raise OSError(errno.EADDRINUSE, "no free loopback address for the DNS server")

    # ---- answering ------------------------------------------------------------------------------

    def _answer(self, data: bytes) -> tuple[bytes, float | None] | None:
        """The reply to ``data`` and its delay in seconds (``None``: never sent); ``None`` if not DNS."""
        dl = self._dnslib
        try:
            request = dl.DNSRecord.parse(data)
        except Exception:  # not a DNS question: nothing to answer
            return None
        if not request.questions:
            return None
        question = request.questions[0]
        name = _name(question.qname)
        qtype = dl.QTYPE.get(question.qtype, str(question.qtype))
        with self._lock:
            self._counts[name, qtype] += 1
        reply = request.reply()
        delay: float | None = 0.0
        if name not in self._v4:
            reply.header.rcode = dl.RCODE.NXDOMAIN
            return reply.pack(), delay
        if qtype == "A":
            for address in self._v4[name]:
                reply.add_answer(dl.RR(question.qname, dl.QTYPE.A, rdata=dl.A(address), ttl=self.ttl))
        elif qtype == "AAAA":
            delay = self.aaaa_delay
            for address in self._v6[name]:
                reply.add_answer(dl.RR(question.qname, dl.QTYPE.AAAA, rdata=dl.AAAA(address), ttl=self.ttl))
        if name in self.delays:
            delay = self.delays[name]
        return reply.pack(), delay

    def _later(self, delay: float | None, send: Callable[[], None]) -> None:
        if delay is None:
            return
        if delay <= 0:
            send()
        else:
            self._timer.at(time.monotonic() + delay, send)

    def _serve_udp(self) -> None:
        sock = self._udp
        assert sock is not None
        while not self._stop.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            answer = self._answer(data)
            if answer is None:
                continue
            reply, delay = answer
            if len(reply) > _UDP_LIMIT:
                reply = self._dnslib.DNSRecord.parse(reply).truncate().pack()

            def send(reply: bytes = reply, peer: Any = peer) -> None:
                try:
                    sock.sendto(reply, peer)
                except OSError:
                    pass

            self._later(delay, send)

    def _serve_tcp(self) -> None:
        sock = self._tcp
        assert sock is not None
        while not self._stop.is_set():
            try:
                conn, _peer = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                self._pool.submit(self._connection, conn)
            except RuntimeError:  # shutting down
                conn.close()
                return

    def _connection(self, conn: socket.socket) -> None:
        """Length-prefixed questions until the client closes (or idles); answers may come later."""
        lock = threading.Lock()
        conn.settimeout(_POLL)
        idle_since = time.monotonic()
        buffer = b""
        try:
            while not self._stop.is_set() and time.monotonic() - idle_since < _TCP_IDLE:
                try:
                    chunk = conn.recv(4096)
                except TimeoutError:
                    continue
                if not chunk:
                    return
                idle_since = time.monotonic()
                buffer += chunk
                while len(buffer) >= 2 and len(buffer) >= 2 + struct.unpack("!H", buffer[:2])[0]:
                    size = struct.unpack("!H", buffer[:2])[0]
                    data, buffer = buffer[2 : 2 + size], buffer[2 + size :]
                    answer = self._answer(data)
                    if answer is None:
                        return
                    reply, delay = answer

                    def send(reply: bytes = reply) -> None:
                        with lock:
                            try:
                                conn.sendall(struct.pack("!H", len(reply)) + reply)
                            except OSError:
                                pass

                    self._later(delay, send)
        except OSError:
            pass
        finally:
            with lock:
                conn.close()
