"""Local servers to rehearse against: the target server (``multifetch serve``), the fault server,
and a DNS server with a private resolver environment for host-name tests; and, for the scheduling
rules, a fake transport with scripted answers in fake time."""

from ._answers import body_for, item_body
from ._dns import DnsServer
from ._fake_transport import Answer, FakeClock, FakeTransport, Start, Stuck, by_url
from ._faults import FaultServer
from ._names import PrivateResolver, host_names, namespace_problem
from ._socks import Socks5Proxy
from ._target import TargetServer

__all__ = [
    "Answer",
    "DnsServer",
    "FakeClock",
    "FakeTransport",
    "FaultServer",
    "PrivateResolver",
    "Socks5Proxy",
    "Start",
    "Stuck",
    "TargetServer",
    "body_for",
    "by_url",
    "host_names",
    "item_body",
    "namespace_problem",
]
