"""The test DNS server itself: answers from its table, late or never for AAAA, over UDP and TCP."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from dnslib import QTYPE, RCODE, DNSRecord

from multifetch.testing import DnsServer


def ask(server: DnsServer, name: str, qtype: str = "A", *, tcp: bool = False, timeout: float = 2.0) -> DNSRecord:
    raw = DNSRecord.question(name, qtype).send(server.host, server.port, tcp=tcp, timeout=timeout)
    return DNSRecord.parse(raw)


def test_answers_from_its_table() -> None:
    with DnsServer({"a.names.test": ["127.0.0.7", "127.0.0.8", "::1"]}, aaaa_delay=0.0) as dns:
        assert dns.host.startswith("127.53.") and dns.port == 53
        a = ask(dns, "A.Names.Test.")
        assert a.header.rcode == RCODE.NOERROR
        assert sorted(str(rr.rdata) for rr in a.rr) == ["127.0.0.7", "127.0.0.8"]
        aaaa = ask(dns, "a.names.test", "AAAA", tcp=True)
        assert [(QTYPE[rr.rtype], str(rr.rdata)) for rr in aaaa.rr] == [("AAAA", "::1")]
        assert ask(dns, "other.names.test").header.rcode == RCODE.NXDOMAIN
        assert ask(dns, "other.names.test", "AAAA", tcp=True).header.rcode == RCODE.NXDOMAIN
        assert dns.queries("a.names.test", "A") == 1
        assert dns.queries("a.names.test") == 2
        assert dns.counts()[("other.names.test", "AAAA")] == 1
        assert dns.total() == 4
        dns.reset()
        assert dns.total() == 0


def test_names_without_addresses_answer_empty() -> None:
    with DnsServer(names=["h.names.test"], aaaa_delay=0.0) as dns:
        for qtype in ("A", "AAAA", "MX"):
            reply = ask(dns, "h.names.test", qtype)
            assert reply.header.rcode == RCODE.NOERROR and not reply.rr


def test_late_aaaa_holds_no_other_question() -> None:
    names = [f"h{i}.names.test" for i in range(20)]
    with DnsServer({n: ["127.0.0.1"] for n in names}, aaaa_delay=1.0) as dns:
        late: dict[str, float] = {}

        def slow(name: str) -> None:
            started = time.monotonic()
            reply = ask(dns, name, "AAAA", timeout=5)
            assert reply.header.rcode == RCODE.NOERROR and not reply.rr
            late[name] = time.monotonic() - started

        threads = [threading.Thread(target=slow, args=(n,)) for n in names]
        for t in threads:
            t.start()
        started = time.monotonic()
        for name in names:  # answered at once while 20 AAAA answers are pending
            assert [str(rr.rdata) for rr in ask(dns, name).rr] == ["127.0.0.1"]
        assert time.monotonic() - started < 0.5
        for t in threads:
            t.join()
        assert len(late) == 20 and all(0.9 <= s < 2.0 for s in late.values()), late


def test_aaaa_and_silent_names_never_answered() -> None:
    with DnsServer({"a.test": ["127.0.0.1"], "silent.test": ["127.0.0.1"]}, aaaa_delay=None,
                   delays={"silent.test": None}) as dns:
        with pytest.raises(socket.timeout):
            ask(dns, "a.test", "AAAA", timeout=0.5)
        with pytest.raises(socket.timeout):
            ask(dns, "silent.test", "A", timeout=0.5)
        assert ask(dns, "a.test").rr
        assert dns.queries("a.test", "AAAA") == 1 and dns.queries("silent.test", "A") == 1


def test_large_answers_truncate_over_udp() -> None:
    addresses = [f"127.0.{i // 250}.{i % 250 + 1}" for i in range(60)]
    with DnsServer({"many.test": addresses}) as dns:
        assert ask(dns, "many.test").header.tc == 1
        assert len(ask(dns, "many.test", tcp=True).rr) == 60


def test_stops_promptly_with_answers_pending() -> None:
    dns = DnsServer({"a.test": ["127.0.0.1"]}, aaaa_delay=30.0)
    dns.start()
    with pytest.raises(socket.timeout):
        ask(dns, "a.test", "AAAA", timeout=0.3)
    started = time.monotonic()
    dns.stop()
    assert time.monotonic() - started < 2
    assert not any(t.name.startswith("DnsServer") for t in threading.enumerate())
