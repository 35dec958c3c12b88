"""Running on a Dask cluster: ``Client(cluster="local:4")`` or ``multifetch fetch --cluster ADDR``.

Inputs are routed to shards by a hash of their host, so each host is served by exactly one shard
and per-host limits, rate limits, Retry-After and slow-downs stay exact; global limits are divided
among the shards. Each shard runs the normal engine on a worker, one batch at a time; a batch
lost with its worker is run again elsewhere by Dask, and the driver writes a record only when a
batch comes back whole, so every input still gets exactly one record.
"""

from ._runner import ClusterRun, open_cluster, shard_of

__all__ = ["ClusterRun", "open_cluster", "shard_of"]
