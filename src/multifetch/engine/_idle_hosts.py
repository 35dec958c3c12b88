"""Hosts a run no longer needs, forgotten: memory that does not grow with the hosts seen.

A host costs ~2 KB (its queues and limits). A run over a list of a million hosts, a request or
two each, would hold every one of them to its end; those with nothing queued, in flight, parked
or on disk, and nothing learned (``Host.forgettable``), are dropped instead. One that comes back
later in the input is made anew, as on its first request (its robots.txt is asked again).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from ._hosts import Host

if TYPE_CHECKING:
    from ._robots import RobotsGate

# Hosts held before the idle ones are forgotten; then again each time the hosts held doubled.
HOSTS_KEPT = 10_000


def forget_idle(hosts: dict[str, Host], ready: deque[Host], on_disk: dict[str, int],
                robots: RobotsGate | None, now: float) -> int:
    """Drop the forgettable hosts from ``hosts`` (and their robots.txt rules); the number of
    hosts held at which to look again, so that the cost is spread over the hosts added.

    ``ready`` keeps a host that ran out of work on the connections it freed until its turn comes
    round: those out of work leave it first, so that they can be forgotten."""
    kept = []
    for host in ready:
        if host.queue or host.tail or on_disk.get(host.name):
            kept.append(host)
        else:
            host.in_ready = False
    ready.clear()
    ready.extend(kept)
    for name in [name for name, host in hosts.items() if host.forgettable(now) and not on_disk.get(name)]:
        del hosts[name]
        if robots is not None:
            robots.forget(name)
    return max(HOSTS_KEPT, 2 * len(hosts))
