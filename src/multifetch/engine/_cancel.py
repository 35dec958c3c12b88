"""Ending a run early: a stop aborts what is in flight, the run's deadline cancels what remains."""

from __future__ import annotations

from .._errors import CANCELLED_IN_FLIGHT, CANCELLED_UNSTARTED
from ._frontier import Frontier
from ._ledger import Ledger
from ._timers import Timers
from ._transport import Transport


def abort_in_flight(transport: Transport, frontier: Frontier) -> None:
    """A stop's end: requests not started are dropped unfinished (a ``--resume`` does them), and
    the transfers still under way are aborted."""
    for host in frontier.hosts.values():
        host.queue.clear()
        host.tail.clear()
    for job in transport.in_flight():
        transport.abort(job)


def cancel_everything(transport: Transport, frontier: Frontier, timers: Timers, ledger: Ledger) -> None:
    """The run's deadline passed: every unfinished input gets a ``cancelled`` record.

    Transfers under way are aborted, requests in memory end at once, those on disk as the window
    allows (``Frontier.drain_backlogs``) and the input not yet read after them
    (``Frontier.cancel_input``). A job that already had an outcome keeps it.
    """
    message = CANCELLED_IN_FLIGHT
    finish = ledger.finish
    hosts = frontier.hosts
    for job in transport.in_flight():
        transport.abort(job)
        hosts[job.host].active -= 1
        job.fail("cancelled", message)
        finish(job)
    for host in hosts.values():
        for job in frontier.in_memory(host):
            if job.attempt == 0 or (job.error_kind is None and job.status is None):
                job.fail("cancelled", message)
            finish(job)
    frontier.draining = [(name, "cancelled", CANCELLED_UNSTARTED) for name in frontier.spill.counts]
    for job in timers.clear():
        finish(job)  # parked retries keep their last outcome
