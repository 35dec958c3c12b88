"""``Latency``: how long answers take, to tell a host whose queue would outlast the run."""

from __future__ import annotations

from ._hosts import Host

# A mean over the first this many answers, then a moving average that forgets as slowly.
_SETTLED = 1000


class Latency:
    """Seconds an answer takes: ``typical`` over the run, and each host's own (``Host.latency``).

    A host's first answer also waited for its name's lookup and its connection, and the later it
    came at the start of a run, the longer (names queue for the resolver, connections for the
    loop). So first answers are averaged apart, and a host's first counts as it compares with
    theirs, scaled to the answers on open connections. Judged against every answer, mostly later
    ones on open connections, it made hundreds of hosts look slow at the start of a run over 1,000
    names, each then taking connections it did not need.
    """

    __slots__ = ("_first", "_firsts", "_later", "_open")

    def __init__(self) -> None:
        self._open = 0.0  # answers on open connections
        self._later = 0
        self._first = 0.0  # hosts' first answers
        self._firsts = 0

    @property
    def typical(self) -> float:
        """An answer's seconds, on an open connection once one has come."""
        return self._open or self._first

    def note(self, host: Host, seconds: float) -> None:
        """One of ``host``'s answers took ``seconds``."""
        if host.latency == 0.0:  # its first
            self._firsts += 1
            self._first += max(1.0 / _SETTLED, 1.0 / self._firsts) * (seconds - self._first)
            scale = self._open / self._first if self._open and self._first else 1.0
            host.latency = seconds * scale
        else:
            self._later += 1
            self._open += max(1.0 / _SETTLED, 1.0 / self._later) * (seconds - self._open)
            host.latency = 0.75 * host.latency + 0.25 * seconds
