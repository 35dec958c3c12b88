"""Capturing attempts for a WARC archive (``outputs/_warc``): only when one is written.

libcurl's debug callback reports the request head and body as sent and the answer's header lines
as received (``VERBOSE`` with a ``DEBUGFUNCTION`` prints nothing); the answer's body is copied on
its way to the decoder, as it came. Each attempt's ``Exchange`` joins ``job.archive``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pycurl

from ..engine._job import Job
from ..outputs._warc import Exchange


def capture(job: Job, handle: pycurl.Curl, url: str, write: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    """Record this attempt of ``job`` on ``handle`` (whose options the caller resets afterwards);
    the write callback to give libcurl in place of ``write``."""
    exchange = Exchange(url)
    if job.archive is None:
        job.archive = []
    job.archive.append(exchange)
    handle.setopt(pycurl.VERBOSE, 1)
    handle.setopt(pycurl.DEBUGFUNCTION, exchange.debug)
    keep = exchange.body.write

    def tee(chunk: bytes) -> Any:
        keep(chunk)
        return write(chunk)

    return tee


def captured(job: Job, handle: pycurl.Curl) -> None:
    """The attempt on ``handle`` ended with an answer: its exchange goes to the archive."""
    if job.archive:
        exchange: Exchange = job.archive[-1]
        exchange.complete = True
        exchange.final_url = handle.getinfo(pycurl.EFFECTIVE_URL)
        exchange.ip = handle.getinfo(pycurl.PRIMARY_IP) or None
