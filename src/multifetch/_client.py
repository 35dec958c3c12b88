"""``Client``: the Python API. ``fetch()`` is the one-call form.

    >>> import multifetch
    >>> for result in multifetch.fetch(["http://127.0.0.1:8000/bytes/10"]):  # doctest: +SKIP
    ...     print(result.status_code, len(result.content))
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from ._coerce import SpecLike, coerce_specs
from ._errors import SettingError, UsageError, exception_for
from .engine._hosts import HostHealth
from .engine._input import Input, NotReady
from .engine._policy import Limits, RetryPolicy, Timeouts
from .engine._ratelimit import parse_bytes_rate
from .engine._result import Result
from .engine._transport import Transport
from .inputs._spec import InvalidSpec, Request, _header_pairs, make_request
from .observe._metrics import TOP_HOSTS
from .observe._watch import PROGRESS_EVERY, Watch, total_of
from .outputs._bodies import BodyStore
from .runners._local import log, open_transport, start_local
from .runners._run import Run
from .runners._settings import Settings, TransportOptions

if TYPE_CHECKING:
    from .outputs._since import PreviousRun


class Client:
    """A reusable set of settings and a connection pool.

    ``bodies``: ``"memory"`` (``Result.content``, the default), ``"hash"`` (size and SHA-256
    only) or a folder to stream each body into. ``timeout`` is per attempt, ``deadline`` for a
    whole ``stream()``. Connections are kept alive between requests of a client.

    ``robots=True`` obeys each origin's robots.txt; ``since`` names a previous run's output
    (JSONL, CSV, SQLite, Parquet) whose ``etag``/``last_modified`` make each request with the same id
    conditional (a 304 is a result with ``unchanged`` set and the previous body's facts).

        >>> client = Client(concurrency=100, per_host=10, retries=3, timeout=30)
        >>> results = client.map(["https://example.org/a", "https://example.org/b"])  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        # how much at once
        concurrency: int = 64, per_host: int = 8, host_limits: Mapping[str, int] | None = None,
        rate: float | str | None = None, per_host_rate: float | str | None = None, burst: int = 1,
        # retries and time
        retries: int | RetryPolicy = 2, timeout: float | Timeouts = 60.0, connect_timeout: float = 10.0,
        deadline: float | None = None, health: HostHealth | None = None, record_retries: bool = False,
        # what is sent and what is kept
        headers: Mapping[str, str] | None = None, bodies: str | os.PathLike[str] = "memory",
        max_body_size: int | None = None, keep_response: bool = False,
        warc: str | os.PathLike[str] | None = None, warc_max_size: int | None = None,
        # the connections: TLS, HTTP version, names, proxies, credentials
        verify: bool = True, cafile: str | None = None, client_cert: tuple[str, str | None] | None = None,
        http_version: str | None = None, user_agent: str | None = None, resolve: list[str] | None = None,
        doh_url: str | None = None, proxy: str | None = None, deny_private: bool = False,
        proxies: Iterable[str] = (), proxy_rotation: str = "request",
        auth: tuple[str, str] | tuple[str, str, str] | None = None, cookies: str | None = None,
        secret_headers: Iterable[str] = (), follow_redirects: bool = True, max_redirects: int = 10,
        limit_rate: int | str | None = None,
        # crawling politely: robots.txt, and only what changed since a previous run's output
        robots: bool = False, since: str | os.PathLike[str] | None = None,
        # where it runs
        transport: str = "curl", session: Any = None, cluster: Any = None, processes: int = 1,
        # watching it
        progress: bool | None = None, progress_every: float = PROGRESS_EVERY,
        metrics_port: int | None = None, metrics_host: str = "127.0.0.1", metrics_hosts: int = TOP_HOSTS,
        max_time: float | None = None,
    ) -> None:
        _refuse_max_time(max_time)
        limits = Limits(concurrency=concurrency, per_host=per_host, host_limits=dict(host_limits or {}),
                        rate=rate, per_host_rate=per_host_rate, burst=burst)  # type: ignore[arg-type]
        options = TransportOptions(
            engine=transport, max_body_size=max_body_size, keep_response=keep_response,
            verify=verify, cafile=cafile, client_cert=client_cert, http_version=http_version,
            user_agent=user_agent, resolve=tuple(resolve or ()), doh_url=doh_url, proxy=proxy,
            proxies=_proxy_pool(proxies), proxy_rotation=proxy_rotation,
            deny_private=deny_private, cookies=cookies, secret_headers=tuple(secret_headers),
            auth=_auth(auth), follow_redirects=follow_redirects, max_redirects=max_redirects,
            limit_rate=parse_bytes_rate(limit_rate),
        )
        settings = Settings(
            limits=limits, transport=options, health=health,
            timeouts=timeout if isinstance(timeout, Timeouts) else Timeouts(connect=connect_timeout,
                                                                             total=timeout),
            retry=retries if isinstance(retries, RetryPolicy) else RetryPolicy(retries=retries),
            headers=_header_pairs(headers),  # refused as a spec's own headers would be
            bodies=bodies, deadline=deadline, record_retries=record_retries, processes=processes,
            robots=robots, since=None if since is None else os.fspath(since),
            warc=None if warc is None else os.fspath(warc), warc_max_size=warc_max_size,
        )
        self._setup(settings, cluster, session)
        # last: the metrics server listens once every setting is known to be good
        self._watch = Watch(progress, progress_every, metrics_port, metrics_host, metrics_hosts)

    @classmethod
    def from_settings(cls, settings: Settings, *, cluster: Any = None, session: Any = None) -> Client:
        """A client for ``settings`` made already (as the command line makes them)."""
        client = cls.__new__(cls)
        client._setup(settings, cluster, session)
        client._watch = Watch(progress=False)  # the command line shows and counts its runs itself
        return client

    def twin(self) -> Client:
        """A client with these settings and connections of its own."""
        return Client.from_settings(self.settings, cluster=self.cluster, session=self._session)

    def _setup(self, settings: Settings, cluster: Any, session: Any) -> None:
        if session is not None and settings.transport.engine != "requests":
            raise SettingError(("session",), "needs the requests transport")
        if cluster is not None and settings.transport.engine != "curl":
            raise UsageError("cluster runs use the curl transport")
        if cluster is not None and settings.robots:
            raise SettingError(("robots", "cluster"), "robots.txt is obeyed by the engines of this "
                               "machine (local or processes), not on a cluster")
        if cluster is not None and settings.warc is not None:
            raise SettingError(("warc", "cluster"), "a WARC archive is written by a run in this process")
        if cluster is not None and settings.processes > 1:
            raise SettingError(("processes", "cluster"), "one or the other: engine processes run here")
        if cluster is None:
            settings, note = settings.fitted()
            if note:
                log.warning(note)
        self.settings = settings
        self.cluster = cluster
        self._session = session
        self._bodies = BodyStore(settings.bodies, settings.limits.concurrency)
        self._idle: Transport | None = None  # kept between runs for connection reuse
        self._dask: Any = None
        self._previous: PreviousRun | None = None  # settings.since, once read

    @property
    def limits(self) -> Limits:
        return self.settings.limits

    @property
    def retry(self) -> RetryPolicy:
        return self.settings.retry

    @property
    def timeouts(self) -> Timeouts:
        return self.settings.timeouts

    # -- bulk -----------------------------------------------------------------------------------

    def start(
        self,
        specs: Iterable[SpecLike | InvalidSpec | NotReady],
        *,
        skip: Callable[[str], bool] | None = None,
        deadline: float | None = None,
        window: int | None = None,
        on_idle: Callable[[], float] | None = None,
        local: bool = False,
        read_ahead: bool = True,
        spill_folder: str | None = None,
    ) -> Run:
        """Begin a run over ``specs`` (lazily read); ids default to the input position.

        ``local`` keeps the run in this process even when the client has ``processes``;
        ``on_idle`` is called before each wait for the network and returns the longest wait;
        ``read_ahead=False`` when reading ``specs`` never blocks (regular files; an engine process's
        feed, which yields ``NOT_READY`` instead): then no thread of its own reads it.
        ``spill_folder``: where requests of backlogged hosts wait on disk (default: the temp folder).
        """
        items: Input = coerce_specs(specs, self.settings.headers)
        previous = self._previous_run(spill_folder)
        if previous is None:
            return self._begin(items, specs, skip, deadline, window, on_idle, local, read_ahead, spill_folder)
        from .runners._conditional import ConditionalRun

        items = previous.conditional(items)
        run = self._begin(items, specs, skip, deadline, window, on_idle, local, read_ahead, spill_folder)
        return ConditionalRun(run, previous)

    def _previous_run(self, folder: str | None) -> PreviousRun | None:
        """The ``since`` output's validators, read at the first run and kept for the next ones."""
        if self.settings.since is None:
            return None
        if self._previous is None:
            from .outputs._since import PreviousRun

            self._previous = PreviousRun(self.settings.since, folder)
        return self._previous

    def _begin(
        self, items: Input, specs: object, skip: Callable[[str], bool] | None, deadline: float | None,
        window: int | None, on_idle: Callable[[], float] | None, local: bool, read_ahead: bool,
        spill_folder: str | None,
    ) -> Run:
        max_time = self.settings.deadline if deadline is None else deadline
        if self.settings.processes > 1 and not local:
            from .runners._processes import ProcessRun

            return ProcessRun(items, self.settings, skip=skip, max_time=max_time, window=window,
                              spill_folder=spill_folder)
        if self.cluster is not None:
            from .runners._cluster import ClusterRun, open_cluster

            if self._dask is None:
                # an address or local:N, or a distributed.Client the caller already has
                self._dask = open_cluster(self.cluster) if isinstance(self.cluster, str) else self.cluster
            return ClusterRun(self._dask, items, self.settings, skip=skip)
        transport = self._take_transport()
        return start_local(
            items, transport, self.settings, on_close=lambda: self._give_back(transport),
            # what is already in memory never makes the engine wait: only other iterables get a thread
            read_ahead=read_ahead and not isinstance(specs, list | tuple | str | bytes | Mapping | Request),
            skip=skip, max_time=max_time, window=window, on_idle=on_idle, spill_folder=spill_folder)

    def stream(self, specs: Iterable[SpecLike]) -> Iterator[Result]:
        """Results as they complete, one per spec (failures are data: ``Result.error``)."""
        run = self.start(specs)
        return self._watch.over(run, run.results(), total=total_of(specs))

    def map(self, specs: Iterable[SpecLike]) -> Iterator[Result]:
        """Results in input order. Holds at most the run's window of early finishers."""
        waiting: dict[int, Result] = {}
        expected = 0
        run = self.start(specs)
        for position, result in self._watch.over(run, run.positioned(), total=total_of(specs),
                                                 result_of=itemgetter(1)):
            waiting[position] = result
            while expected in waiting:
                yield waiting.pop(expected)
                expected += 1

    # -- one request ------------------------------------------------------------------------------

    def request(self, method: str, url: str, **kwargs: Any) -> Result:
        """Send one request (with retries) and return its ``Result``.

        Raises ``InvalidInput`` for a request that cannot be sent and a ``RequestError`` subclass
        (``error.kind`` in its ``kind``) when no answer came; an HTTP error status is a result.
        """
        request = make_request(url, method=method, **kwargs)
        run = self.start([request], local=True)
        (result,) = list(self._watch.over(run, run.results(), total=1, bulk=False))
        if result.error is not None:
            raise exception_for(result.error.kind, result.error.message, url)
        return result

    def get(self, url: str, **kwargs: Any) -> Result:
        return self.request("GET", url, **kwargs)

    def head(self, url: str, **kwargs: Any) -> Result:
        return self.request("HEAD", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Result:
        return self.request("POST", url, **kwargs)

    # -- plumbing ---------------------------------------------------------------------------------

    def _take_transport(self) -> Transport:
        if self._idle is not None:
            transport, self._idle = self._idle, None
            return transport
        return open_transport(self.settings, self._bodies, self._session)

    def _give_back(self, transport: Transport) -> None:
        if transport.active:
            transport.close()
        elif self._idle is None:
            self._idle = transport
        else:
            transport.close()

    @property
    def metrics_url(self) -> str | None:
        """Where the metrics are served (``metrics_port``), or None."""
        metrics = self._watch.metrics
        return None if metrics is None else metrics.url

    def close(self) -> None:
        self._watch.close()
        if self._previous is not None:
            self._previous.close()
            self._previous = None
        if self._idle is not None:
            self._idle.close()
            self._idle = None
        if self._dask is not None and isinstance(self.cluster, str):
            local = self.cluster.startswith("local:")
            cluster = getattr(self._dask, "cluster", None) if local else None
            self._dask.close()
            if cluster is not None:
                cluster.close()
            self._dask = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _refuse_max_time(max_time: float | None) -> None:
    """The whole run's bound was called ``max_time``: say its new name, rather than a TypeError."""
    if max_time is not None:
        raise SettingError(("max_time",), "is now deadline (seconds for the whole run); the limit of "
                           "one attempt is timeout")


def fetch(inputs: Iterable[SpecLike], **options: Any) -> Iterator[Result]:
    """Fetch every input concurrently; yield one ``Result`` per input as each completes.

    ``options`` are ``Client``'s. URLs, JSON-spec dicts and ``Request`` objects mix freely.
    """
    client = Client(**options)
    try:
        yield from client.stream(inputs)
    finally:
        client.close()


def _proxy_pool(proxies: Iterable[str]) -> tuple[str, ...]:
    """A pool of proxies; a single string is refused by the settings' check, not split into letters."""
    return proxies if isinstance(proxies, str) else tuple(proxies)  # type: ignore[return-value]


def _auth(auth: tuple[str, str] | tuple[str, str, str] | None) -> tuple[str, str, str] | None:
    """(user, password, kind): basic unless the caller says which."""
    return None if auth is None else (auth[0], auth[1], auth[2] if len(auth) > 2 else "basic")
