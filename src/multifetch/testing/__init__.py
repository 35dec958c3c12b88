"""Local servers to rehearse against: the target server (``multifetch serve``) and the fault server."""

from ._faults import FaultServer
from ._target import TargetServer, body_for, item_body

__all__ = ["FaultServer", "TargetServer", "body_for", "item_body"]
