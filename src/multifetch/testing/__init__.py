"""Local servers to rehearse against: the target server (``multifetch serve``) and the fault server."""

from ._faults import FaultServer
from ._socks import Socks5Proxy
from ._target import TargetServer, body_for, item_body

__all__ = ["FaultServer", "Socks5Proxy", "TargetServer", "body_for", "item_body"]
