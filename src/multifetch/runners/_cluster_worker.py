"""The worker side: one batch of one shard through the normal engine."""

from __future__ import annotations

import time
from typing import Any

from ..engine._result import Result
from ..inputs._spec import Request


def fetch_batch(
    batch: list[Request], options: dict[str, Any], not_before: float | None
) -> tuple[list[Result], float]:
    """Fetch ``batch`` on this worker; return its results and when its last request started.

    ``not_before`` is when the shard's previous batch last started a request: with a rate limit,
    the first request of this batch waits one interval after it, so no window sees more than the
    rate across the batch boundary.
    """
    from .._client import Client
    from ..engine._ratelimit import parse_rate

    rates = [parse_rate(r) for r in (options.get("rate"), options.get("per_host_rate")) if r is not None]
    if rates and not_before is not None:
        wait = not_before + 1.0 / min(rates) - time.time()
        if wait > 0:
            time.sleep(wait)
    options = {**options, "bodies": options.get("bodies", "hash")}
    with Client(**options) as client:
        results = list(client.stream(batch))
    last = max((r.started_at or 0.0 for r in results), default=time.time())
    return results, last
