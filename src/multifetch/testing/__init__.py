"""Local servers to rehearse against: the target server (``multifetch serve``), the fault server,
and a DNS server with a private resolver environment for host-name tests."""

from ._dns import DnsServer
from ._faults import FaultServer
from ._names import PrivateResolver, host_names, namespace_problem
from ._socks import Socks5Proxy
from ._target import TargetServer, body_for, item_body

__all__ = [
    "DnsServer",
    "FaultServer",
    "PrivateResolver",
    "Socks5Proxy",
    "TargetServer",
    "body_for",
    "host_names",
    "item_body",
    "namespace_problem",
]
