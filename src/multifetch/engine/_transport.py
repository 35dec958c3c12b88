"""``Transport``: what the scheduler asks of an engine (curl, requests, the tests' fake)."""

from __future__ import annotations

from typing import Protocol

from ._job import Job


class Transport(Protocol):
    """What the scheduler asks of an engine: attempts started, their ends collected by ``poll``."""

    active: int  # attempts started and not yet handed back by poll()

    def start(self, job: Job) -> None:
        """Begin ``job``'s next attempt; it ends in a later ``poll()`` (or ``abort``)."""

    def poll(self, timeout: float) -> list[Job]:
        """Wait up to ``timeout`` seconds; the jobs whose attempt ended, outcome filled in."""

    def kick(self) -> None:
        """Send what was just started now, not at the next ``poll()``."""

    def expect(self, origin: str) -> None:
        """A host's first request entered the window: prepare (e.g. look its name up)."""

    def in_flight(self) -> list[Job]:
        """The jobs whose attempt is under way."""

    def abort(self, job: Job) -> None:
        """End ``job``'s attempt now, without an outcome."""

    def close(self) -> None:
        """Abort everything and free what the transport holds."""

    def wake(self) -> None:
        """End a ``poll()`` that is waiting, from any thread."""
