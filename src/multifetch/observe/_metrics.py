"""Live metrics in Prometheus's text format: ``--metrics-port PORT``, ``Client(metrics_port=PORT)``.

Two sources, so that what is counted adds up and nothing is paid when metrics are off:

- the records, counted by the thread that consumes them (``RecordCounts.add``), where every
  runner's records pass — the engine on this process, engine processes (``-P``) and a Dask
  cluster alike: requests by status and error kind, retries, bytes, the latency histogram and the
  per-host figures. At the end of a run ``multifetch_requests_total`` is the number of records.
- the run's ``statistics()`` snapshot, read at each scrape: in flight, queued by what the requests
  wait for, waiting to retry.

The server is prometheus-client's own (a thread of its own), over a registry of this run's alone.
The metric values are made at scrape time from plain counters: no metric object is touched per
record.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .._errors import SettingError
from ..report._hosts import NO_HOST, row_name

if TYPE_CHECKING:
    from ..runners._run import Run

#: Upper bounds (seconds) of the latency histogram's buckets; +Inf follows.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
TOP_HOSTS = 20  # per-host series kept, by requests: a crawl of a million hosts stays scrapeable


class RecordCounts:
    """The figures of the records consumed so far; ``add`` is called once a record, by one thread."""

    def __init__(self) -> None:
        self.outcomes: dict[tuple[int | None, str | None], int] = {}  # (status, error kind) -> records
        self.retries = 0
        self.bytes = 0
        self.buckets = [0] * (len(BUCKETS) + 1)
        self.latency_sum = 0.0
        self.hosts: dict[str, list[Any]] = {}  # host -> [requests, errors, bytes, latency sum]

    def add(self, status: int | None, error_kind: str | None, attempts: int, size: int,
            elapsed: float | None, host: str) -> None:
        key = (status, error_kind)  # made text at the scrape, not here
        outcomes = self.outcomes
        outcomes[key] = outcomes.get(key, 0) + 1
        if attempts > 1:
            self.retries += attempts - 1
        row = self.hosts.get(host)
        if row is None:
            host = row_name(self.hosts, host)  # a crawl over a million hosts: ten thousand rows
            row = self.hosts.get(host)
            if row is None:
                row = self.hosts[host] = [0, 0, 0, 0.0]
        row[0] += 1
        if error_kind is not None:
            row[1] += 1
            return
        # answered: its bytes and its latency count (as in the summary)
        self.bytes += size
        row[2] += size
        if elapsed is not None:
            self.buckets[bisect.bisect_left(BUCKETS, elapsed)] += 1
            self.latency_sum += elapsed
            row[3] += elapsed

    def add_record(self, record: dict[str, Any], host: str) -> None:
        error = record["error"]
        self.add(record["status"], error["kind"] if error else None, record["attempts"], record["size"],
                 record["elapsed"], host)

    def add_result(self, result: Any) -> None:
        from ..inputs._urls import origin_of

        error = result.error
        kind = error.kind if error is not None else None
        host = "" if kind == "invalid_input" else origin_of(result.url)
        self.add(result.status, kind, result.attempts, result.size, result.elapsed, host)


class Metrics:
    """The metrics of the runs ``watch``ed, served on ``host:port`` until ``close()``.

    ``port=0`` takes any free port (``self.port`` says which). ``earlier`` and ``total`` are the
    job's records from earlier runs (``--resume``) and its inputs, when known.
    """

    def __init__(self, port: int, host: str = "127.0.0.1", top_hosts: int = TOP_HOSTS) -> None:
        try:
            from prometheus_client import CollectorRegistry, start_http_server
        except ImportError:
            raise SettingError(("metrics_port",), "needs prometheus-client: "
                               "pip install 'multifetch[metrics]'") from None
        self.counts = RecordCounts()
        self.top_hosts = top_hosts
        self.earlier = 0
        self.total: int | None = None
        self._runs: list[Run] = []
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self)  # a collector: anything with collect()
        try:
            self._server, self._thread = start_http_server(port, addr=host, registry=registry)
        except OSError as exc:
            raise SettingError(("metrics_port",), f"cannot listen on {host}:{port}: "
                               f"{exc.strerror or exc}") from None
        self.host = host
        self.port: int = self._server.server_port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def watch(self, run: Run) -> None:
        """Read ``run``'s statistics at each scrape, until ``unwatch``."""
        self._runs.append(run)

    def unwatch(self, run: Run) -> None:
        if run in self._runs:
            self._runs.remove(run)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    # -- the scrape (the server's thread) ----------------------------------------------------------

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

        counts = self.counts
        requests = CounterMetricFamily("multifetch_requests", "Requests finished (one per record), by "
                                       "HTTP status and error kind ('' when none)",
                                       labels=["status", "error"])
        done = 0
        outcomes = {("" if status is None else str(status), kind or ""): n
                    for (status, kind), n in dict(counts.outcomes).items()}
        for labels, n in sorted(outcomes.items()):
            requests.add_metric(list(labels), n)
            done += n
        yield requests
        yield CounterMetricFamily("multifetch_retries", "Attempts after the first, of finished requests",
                                  value=counts.retries)
        yield CounterMetricFamily("multifetch_response_bytes", "Body bytes of answered requests",
                                  value=counts.bytes)
        buckets, cumulative = [], 0
        for bound, n in zip((*map(_bound, BUCKETS), "+Inf"), list(counts.buckets), strict=True):
            cumulative += n
            buckets.append((bound, cumulative))
        yield HistogramMetricFamily("multifetch_request_duration_seconds", "Latency of answered "
                                    "requests (their last attempt)", buckets=buckets,
                                    sum_value=counts.latency_sum)
        yield from self._live(done)
        yield from self._hosts()

    def _live(self, done: int) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        snapshots = [run.statistics() for run in list(self._runs)]
        in_flight = GaugeMetricFamily("multifetch_in_flight", "Transfers in flight now")
        in_flight.add_metric([], sum(s.in_flight for s in snapshots))
        yield in_flight
        queued = GaugeMetricFamily("multifetch_queued", "Requests read and not started, by what they "
                                   "wait for", labels=["reason"])
        reasons: dict[str, int] = {}
        for s in snapshots:
            for reason, n in (s.waiting or ({"unknown": s.queued} if s.queued else {})).items():
                reasons[reason] = reasons.get(reason, 0) + n
        for reason, n in sorted(reasons.items()):
            queued.add_metric([reason], n)
        yield queued
        yield GaugeMetricFamily("multifetch_waiting_retry", "Requests waiting for their next attempt",
                                value=sum(s.waiting_retry for s in snapshots))
        yield GaugeMetricFamily("multifetch_queued_on_disk", "Queued requests that wait in the "
                                "frontier's file", value=sum(s.on_disk for s in snapshots))
        yield GaugeMetricFamily("multifetch_job_done", "Records of the whole job: earlier runs "
                                "(--resume) and this one", value=self.earlier + done)
        if self.total is not None:
            yield GaugeMetricFamily("multifetch_job_inputs", "Inputs of the whole job", value=self.total)
        yield GaugeMetricFamily("multifetch_running", "Runs going on now", value=len(snapshots))
        states = GaugeMetricFamily("multifetch_host_slowed", "Hosts slowed down, paused or dead now "
                                   "(their connection limit)", labels=["host", "state"])
        slowed = [h for s in snapshots for h in s.slowed_hosts][: self.top_hosts]
        for h in slowed:
            state = "dead" if h.dead else "paused" if h.paused else "slowed down"
            states.add_metric([h.name, state], h.effective_limit)
        yield states

    def _hosts(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        rows = list(self.counts.hosts.items())
        rows.sort(key=lambda item: -item[1][0])
        names = ("requests", "errors", "response_bytes", "latency_seconds_mean")
        helps = ("Requests finished", "Requests that ended in an error", "Body bytes of answered requests",
                 "Mean latency of answered requests")
        families = [GaugeMetricFamily(f"multifetch_host_{name}", f"{text}, for the {self.top_hosts} hosts "
                                      "with most requests", labels=["host"])
                    for name, text in zip(names, helps, strict=True)]
        for host, (requests, errors, size, latency) in rows[: self.top_hosts]:
            label = [host or NO_HOST]
            answered = requests - errors
            for family, value in zip(families, (requests, errors, size,
                                                latency / answered if answered else 0.0), strict=True):
                family.add_metric(label, value)
        yield from families


def _bound(seconds: float) -> str:
    return repr(float(seconds))
