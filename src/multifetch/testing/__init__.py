"""Local servers to rehearse against: the target server (``multifetch serve``) and friends."""

from ._target import TargetServer, body_for

__all__ = ["TargetServer", "body_for"]
