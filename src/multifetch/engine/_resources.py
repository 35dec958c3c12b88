"""Open-file limits: raise the soft limit, and keep concurrency within what it allows."""

from __future__ import annotations

import resource

_RESERVED = 64  # stdio, output files, the epoll fd, libcurl's internals
_FDS_PER_TRANSFER = 2  # a socket, and a body file when bodies are saved


def raise_fd_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; return the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


def fit_concurrency(requested: int) -> tuple[int, str | None]:
    """The concurrency the open-file limit allows, and a note when it is below ``requested``."""
    soft = raise_fd_limit()
    allowed = max(1, (soft - _RESERVED) // _FDS_PER_TRANSFER)
    if requested <= allowed:
        return requested, None
    return allowed, (
        f"concurrency lowered from {requested} to {allowed}: the open-files limit is {soft} "
        f"(raise it with `ulimit -n`)"
    )


def spare_fds(concurrency: int) -> int:
    """File descriptors left over once ``concurrency`` transfers have theirs (negative if none)."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft == resource.RLIM_INFINITY:
        return 1 << 20
    return soft - _RESERVED - _FDS_PER_TRANSFER * concurrency
