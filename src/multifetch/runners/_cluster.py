"""Running on a Dask cluster: ``Client(cluster="local:4")`` or ``multifetch fetch --cluster ADDR``.

The driver side is here: lazy input → per-shard batches → Dask tasks → results. Inputs are routed
to shards by a hash of their host, so each host is served by exactly one shard and per-host limits,
rate limits, Retry-After and slow-downs stay exact; global limits are divided among the shards.
Each shard runs the normal engine on a worker (``_cluster_worker``), one batch at a time; a batch
lost with its worker is run again elsewhere by Dask, and the driver writes a record only when a
batch comes back whole, so every input still gets exactly one record.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import Any

from .._errors import SettingError, UsageError
from ..engine._input import NotReady
from ..engine._result import Result
from ..engine._stats import Statistics, Tally
from ..inputs._spec import InvalidSpec, Request
from ..inputs._urls import origin_of
from ._cluster_worker import fetch_batch
from ._feed import Feed
from ._settings import Settings

BATCH = 1000
_RECORDS_MAX = 1024  # records made here (invalid inputs) handed out before reading on


def shard_of(host: str, shards: int) -> int:
    """The shard that serves ``host``: stable across runs and machines (CRC-32, not ``hash``)."""
    return zlib.crc32(host.encode()) % shards


def open_cluster(address: str) -> Any:
    """A ``distributed.Client`` for ``local:N`` (a LocalCluster of N worker processes) or an address."""
    try:
        from distributed import Client as DaskClient
        from distributed import LocalCluster
    except ImportError:
        raise SettingError(("cluster",), "needs Dask: pip install 'multifetch[dask]'") from None
    if address.startswith("local:"):
        count = address.split(":", 1)[1]
        if not count.isdigit() or int(count) < 1:
            raise SettingError(("cluster",), f"{address!r}: use local:N with N ≥ 1, or a scheduler address")
        cluster = LocalCluster(n_workers=int(count), threads_per_worker=1, processes=True,
                               dashboard_address="127.0.0.1:0", silence_logs=50)
        return DaskClient(cluster)
    try:
        return DaskClient(address, timeout=30)
    except OSError as exc:
        raise UsageError(f"cannot reach the Dask scheduler at {address}: {exc}") from None


class ClusterRun:
    """Like ``Run``: iterate ``results()``; ``statistics()`` and ``stop()`` any time."""

    def __init__(
        self,
        dask: Any,
        specs: Iterable[Request | InvalidSpec | NotReady],
        settings: Settings,
        *,
        skip: Callable[[str], bool] | None = None,
        owns_cluster: bool = False,
        batch: int = BATCH,
    ) -> None:
        self._dask = dask
        self._owns = owns_cluster
        workers = list(dask.scheduler_info()["workers"])
        if not workers:
            raise UsageError("the Dask cluster has no workers")
        self.shards = len(workers)
        self._given = settings
        self._settings = _divide(settings, self.shards)
        self._feed = Feed(iter(specs), skip)
        self._batch = batch
        self._stopping = False
        self._started = time.monotonic()
        self._tally = Tally()
        self._sent = 0
        self._received = 0
        self.dashboard = getattr(dask, "dashboard_link", None)

    def results(self) -> Generator[Result, None, None]:
        from distributed import as_completed

        pending: list[list[Request]] = [[] for _ in range(self.shards)]
        in_flight: dict[int, Any] = {}  # shard -> future of its batch
        last_start: dict[int, float] = {}
        waiting = as_completed()
        while True:
            records: list[tuple[int, Result]] = []
            self._fill(pending, records)
            for _, result in records:
                yield self._count(result)
            # one batch in flight per shard: that is what keeps per-host limits exact
            settings = self._settings
            if self._feed.exhausted:  # rebalance: the global limits go to the shards that still have work
                busy = sum(1 for shard, batch in enumerate(pending) if batch or shard in in_flight)
                settings = _divide(self._given, max(busy, 1))
            for shard, batch in enumerate(pending):
                if batch and shard not in in_flight and not self._stopping:
                    future = self._dask.submit(fetch_batch, batch, settings, last_start.get(shard),
                                               pure=False, retries=3, key=f"multifetch-{shard}-{self._sent}")
                    future.shard = shard
                    in_flight[shard] = future
                    waiting.add(future)
                    self._sent += len(batch)
                    pending[shard] = []
            if not in_flight:
                if self._feed.exhausted or self._stopping:
                    return
                continue
            future = next(waiting)
            del in_flight[future.shard]
            results, last_start[future.shard] = future.result()
            self._received += len(results)
            for result in results:
                yield self._count(result)

    def _fill(self, pending: list[list[Request]], records: list[tuple[int, Result]]) -> None:
        """Read input until every shard has a full batch waiting, the input has nothing now or
        has ended, or ``records`` (of invalid inputs) is full."""
        while not self._feed.exhausted and not self._stopping and all(len(p) < self._batch for p in pending):
            taken = self._feed.take(records, _RECORDS_MAX)
            if taken is None:
                return
            request = taken[1]
            pending[shard_of(origin_of(request.url), self.shards)].append(request)

    def _count(self, result: Result) -> Result:
        self._tally.add(result)
        return result

    def statistics(self) -> Statistics:
        return self._tally.statistics(time.monotonic() - self._started, inputs_read=self._feed.read,
                                      in_flight=self._sent - self._received)

    def outcomes(self) -> Generator[Result, None, None]:
        return self.results()

    def positioned(self) -> Iterator[tuple[int, Result]]:
        raise UsageError("map() needs the input order; on a cluster, use stream() and the ids")

    def announcement(self) -> str | None:
        if not self.dashboard:
            return None
        return f"running on {self.shards} Dask workers; dashboard: {self.dashboard}"

    def stop(self, grace: float = 5.0) -> None:
        """Send no more batches; the ones running finish (they are short)."""
        self._stopping = True

    @property
    def unfinished(self) -> int:
        return 0

    def close(self) -> None:
        if self._owns:
            cluster = getattr(self._dask, "cluster", None)
            self._dask.close()
            if cluster is not None:
                cluster.close()


def _divide(settings: Settings, shards: int) -> Settings:
    """Global limits shared among the shards, each taking the largest share; per-host ones stay
    whole (a host has one shard)."""
    return settings.share(0, shards, hosts_whole=True)
