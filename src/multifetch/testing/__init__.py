"""Local servers to rehearse against: the target server (``multifetch serve``), the fault server,
and a DNS server for host-name tests."""

from ._dns import DnsServer
from ._faults import FaultServer
from ._socks import Socks5Proxy
from ._target import TargetServer, body_for, item_body

__all__ = ["DnsServer", "FaultServer", "Socks5Proxy", "TargetServer", "body_for", "item_body"]
