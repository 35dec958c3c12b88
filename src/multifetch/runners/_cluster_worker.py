"""The worker side of a cluster run: one batch of one shard through the normal engine."""

from __future__ import annotations

import time

from ..engine._result import Result
from ..inputs._spec import Request
from ..outputs._bodies import BodyStore
from ._local import open_transport, start_local
from ._settings import Settings


def fetch_batch(
    batch: list[Request], settings: Settings, not_before: float | None
) -> tuple[list[Result], float]:
    """Fetch ``batch`` on this worker; return its results and when its last request started.

    ``not_before`` is when the shard's previous batch last started a request: with a rate limit,
    the first request of this batch waits one interval after it, so no window sees more than the
    rate across the batch boundary.
    """
    rates = [r for r in (settings.limits.rate, settings.limits.per_host_rate) if r is not None]
    if rates and not_before is not None:
        wait = not_before + 1.0 / min(rates) - time.time()
        if wait > 0:
            time.sleep(wait)
    settings, _ = settings.fitted()  # this machine's open-file limit
    transport = open_transport(settings, BodyStore(settings.bodies, settings.limits.concurrency))
    run = start_local(iter(batch), transport, settings, on_close=transport.close, read_ahead=False)
    results = list(run.results())
    last = max((r.started_at or 0.0 for r in results), default=time.time())
    return results, last
