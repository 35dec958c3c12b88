"""``Client``: the Python API. ``fetch()`` is the one-call form.

    >>> import multifetch
    >>> for result in multifetch.fetch(["http://127.0.0.1:8000/bytes/10"]):  # doctest: +SKIP
    ...     print(result.status_code, len(result.content))
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from .engine._driver import Driver
from .engine._errors import InvalidInput, UsageError, exception_for
from .engine._hosts import HostHealth
from .engine._job import Job
from .engine._policy import Limits, RetryPolicy, Timeouts
from .engine._readahead import ReadAhead
from .engine._resources import fit_concurrency
from .engine._result import Result
from .engine._scheduler import Input, NotReady, Scheduler, Transport
from .engine._stats import Statistics
from .inputs._spec import (
    InvalidSpec,
    Request,
    _header_pairs,
    ascii_url,
    check_url,
    make_request,
    request_from_json,
)
from .outputs._bodies import BodyStore

if TYPE_CHECKING:
    from .runners._cluster import ClusterRun
    from .runners._processes import ProcessRun

SpecLike = Request | str | Mapping[str, Any]
# Inputs parsed ahead of the scheduler by the input's own thread: memory stays bounded, and the
# engine seldom finds none ready while the input has more.
_READ_AHEAD = 1024

log = logging.getLogger("multifetch")
# The library's logger stays silent unless the application configures logging. Every run (in
# this process or an engine process) goes through this module, so this is where it is said.
log.addHandler(logging.NullHandler())


class RunHandle(Protocol):
    """What a display or a signal handler needs of a run, local or on a cluster."""

    def results(self) -> Generator[Result, None, None]: ...
    def statistics(self) -> Statistics: ...
    def stop(self, grace: float = 5.0) -> None: ...

    @property
    def unfinished(self) -> int: ...


class Run:
    """One run of the scheduler on the engine's thread: iterate ``jobs()`` (or ``results()``) once;
    ``statistics()`` and ``stop()`` any time, from any thread."""

    def __init__(self, scheduler: Scheduler, on_close: Callable[[], None],
                 read_ahead: ReadAhead[Any] | None = None) -> None:
        self._scheduler = scheduler
        self._read_ahead = read_ahead

        def on_end() -> None:
            if read_ahead is not None:
                read_ahead.close()
            on_close()

        self._driver = Driver(scheduler, on_end)

    def jobs(self) -> Generator[Job, None, None]:
        return self._driver.jobs()

    def take(self, timeout: float | None) -> list[Job] | None:
        """The jobs finished so far (waiting up to ``timeout`` for one); None when all were taken."""
        return self._driver.take(timeout)

    def close(self) -> None:
        """Abort what is in flight and end the run (``jobs()`` does this when it ends or is closed)."""
        self._driver.close()

    def results(self) -> Generator[Result, None, None]:
        for job in self.jobs():
            yield job.to_result()

    def statistics(self) -> Statistics:
        return self._scheduler.statistics()

    def stop(self, grace: float = 5.0) -> None:
        """Admit nothing more; in-flight transfers get ``grace`` seconds. Call again to abort."""
        self._scheduler.stop(grace)

    @property
    def unfinished(self) -> int:
        return self._scheduler.unfinished


class Client:
    """A reusable set of settings and a connection pool.

    ``bodies``: ``"memory"`` (``Result.content``, the default), ``"hash"`` (size and SHA-256
    only) or a folder to stream each body into. ``timeout`` is per attempt, ``max_time`` for a
    whole ``stream()``. Connections are kept alive between requests of a client.

        >>> client = Client(concurrency=100, per_host=10, retries=3, timeout=30)
        >>> results = client.map(["https://example.org/a", "https://example.org/b"])  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        concurrency: int = 64,
        per_host: int = 8,
        host_limits: Mapping[str, int] | None = None,
        rate: float | str | None = None,
        per_host_rate: float | str | None = None,
        burst: int = 1,
        retries: int | RetryPolicy = 2,
        timeout: float | Timeouts = 60.0,
        connect_timeout: float = 10.0,
        headers: Mapping[str, str] | None = None,
        bodies: str | os.PathLike[str] = "memory",
        max_body_size: int | None = None,
        max_time: float | None = None,
        health: HostHealth | None = None,
        verify: bool = True,
        cafile: str | None = None,
        http_version: str | None = None,
        user_agent: str | None = None,
        resolve: list[str] | None = None,
        doh_url: str | None = None,
        proxy: str | None = None,
        auth: tuple[str, str] | tuple[str, str, str] | None = None,
        cookies: str | None = None,
        client_cert: tuple[str, str | None] | None = None,
        deny_private: bool = False,
        secret_headers: Iterable[str] = (),
        record_retries: bool = False,
        transport: str = "curl",
        session: Any = None,
        keep_response: bool = False,
        cluster: Any = None,
        processes: int = 1,
    ) -> None:
        options = {k: v for k, v in locals().items() if k not in ("self", "cluster", "processes")}
        if cluster is None:
            concurrency, note = fit_concurrency(concurrency)  # sockets must never run out
            if note:
                log.warning(note)
        self.limits = Limits(
            concurrency=concurrency,
            per_host=per_host,
            host_limits=dict(host_limits or {}),
            rate=rate,  # type: ignore[arg-type]  # coerced by Limits
            per_host_rate=per_host_rate,  # type: ignore[arg-type]
            burst=burst,
        )
        self.retry = retries if isinstance(retries, RetryPolicy) else RetryPolicy(retries=retries)
        self.timeouts = (
            timeout
            if isinstance(timeout, Timeouts)
            else Timeouts(connect=connect_timeout, total=timeout)
        )
        self.headers = _header_pairs(headers)  # refused as a spec's own headers would be
        self.max_time = max_time
        self.health = health or HostHealth()
        self.record_retries = record_retries
        check_transport(transport)
        if (session is not None or keep_response) and transport != "requests":
            raise UsageError("session= and keep_response= need transport='requests'")
        self.transport = transport
        self._session = session
        self._keep_response = keep_response
        self._transport_options: dict[str, Any] = {
            "max_body_size": max_body_size,
            "verify": verify,
            "cafile": cafile,
            "http_version": http_version,
            "resolve": resolve,
            "doh_url": doh_url,
        }
        given: dict[str, Any] = {"proxy": proxy, "cookies": cookies, "client_cert": client_cert,
                                 "deny_private": deny_private or None,
                                 "secret_headers": tuple(secret_headers) or None}
        if auth is not None:
            given["auth"] = (auth[0], auth[1], auth[2] if len(auth) > 2 else "basic")
        curl_only = {k: v for k, v in given.items() if v is not None}
        if curl_only and transport == "requests":
            raise UsageError(f"{', '.join(curl_only)}: the requests transport takes these from the session")
        self._transport_options.update(curl_only)
        if user_agent:
            self._transport_options["user_agent"] = check_user_agent(user_agent)
        self._bodies = BodyStore(bodies, self.limits.concurrency)
        self._idle: Transport | None = None  # kept between runs for connection reuse
        self.cluster = cluster
        self._cluster_options = options
        self._dask: Any = None
        if cluster is not None and transport != "curl":
            raise UsageError("cluster runs use the curl transport")
        if not isinstance(processes, int) or processes < 1:
            raise UsageError(f"processes must be a whole number ≥ 1, not {processes!r}")
        if processes > 1 and (transport != "curl" or cluster is not None or health is not None):
            raise UsageError("processes= runs the curl transport here; it does not combine with "
                             "transport='requests', cluster= or health=")
        self.processes = processes

    # -- bulk -----------------------------------------------------------------------------------

    def start(
        self,
        specs: Iterable[SpecLike | InvalidSpec | NotReady],
        *,
        skip: Callable[[str], bool] | None = None,
        max_time: float | None = None,
        window: int | None = None,
        on_idle: Callable[[], float] | None = None,
        local: bool = False,
        read: bool = True,
        spill_folder: str | None = None,
    ) -> Run | ClusterRun | ProcessRun:
        """Begin a run over ``specs`` (lazily read); ids default to the input position.

        ``local`` keeps the run in this process even when the client has ``processes``;
        ``on_idle`` is called before each wait for the network and returns the longest wait;
        ``read=False`` when ``specs`` never blocks (it yields ``NOT_READY`` instead): no thread reads it.
        ``spill_folder``: where requests of backlogged hosts wait on disk (default: the temp folder).
        """
        if self.processes > 1 and not local:
            from .runners._processes import ProcessRun

            return ProcessRun(self._coerce_all(specs), self._cluster_options, self.processes, skip=skip,
                              max_time=self.max_time if max_time is None else max_time, window=window)
        if self.cluster is not None:
            from .runners._cluster import ClusterRun, open_cluster

            if self._dask is None:
                # an address or local:N, or a distributed.Client the caller already has
                self._dask = open_cluster(self.cluster) if isinstance(self.cluster, str) else self.cluster
            return ClusterRun(self._dask, self._coerce_all(specs), self._cluster_options, skip=skip)
        transport = self._take_transport()
        items: Input = self._coerce_all(specs)
        read_ahead = None
        # What is already in memory never makes the engine wait: only other iterables get a thread.
        if read and not isinstance(specs, list | tuple | str | bytes | Mapping | Request):
            read_ahead = ReadAhead(items, min(_READ_AHEAD, window or _READ_AHEAD), transport.wake)
            items = iter(read_ahead)
        scheduler = Scheduler(
            items,
            transport,
            limits=self.limits,
            retry=self.retry,
            health=self.health,
            max_time=self.max_time if max_time is None else max_time,
            window=window,
            skip=skip,
            record_retries=self.record_retries,
            on_idle=on_idle,
            spill_folder=spill_folder,
        )
        return Run(scheduler, lambda: self._give_back(transport), read_ahead)

    def stream(self, specs: Iterable[SpecLike]) -> Iterator[Result]:
        """Results as they complete, one per spec (failures are data: ``Result.error``)."""
        return self.start(specs).results()

    def map(self, specs: Iterable[SpecLike]) -> Iterator[Result]:
        """Results in input order. Holds at most the run's window of early finishers."""
        waiting: dict[int, Result] = {}
        expected = 0
        run = self.start(specs)
        if isinstance(run, Run):
            pairs: Iterator[tuple[int, Result]] = ((job.position, job.to_result()) for job in run.jobs())
        else:
            from .runners._processes import ProcessRun  # already loaded when run is one

            if not isinstance(run, ProcessRun):
                raise UsageError("map() needs the input order; on a cluster, use stream() and the ids")
            pairs = run.positioned()
        for position, result in pairs:
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
        (result,) = list(self.start([request], local=True).results())
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

    def _coerce_all(self, specs: Iterable[SpecLike | InvalidSpec | NotReady]) -> Input:
        headers = self.headers
        if isinstance(specs, str | bytes | Mapping | Request):
            specs = [specs]  # one spec, not its characters or keys
        for position, spec in enumerate(specs):
            item = spec if spec.__class__ is Request else _coerce(spec, position)
            if headers and isinstance(item, Request):
                item = _with_default_headers(item, headers)
            yield item

    def _take_transport(self) -> Transport:
        if self._idle is not None:
            transport, self._idle = self._idle, None
            return transport
        if self.transport == "requests":
            from .transports.requests import RequestsTransport

            return RequestsTransport(
                timeouts=self.timeouts,
                bodies=self._bodies,
                concurrency=self.limits.concurrency,
                session=self._session,
                keep_response=self._keep_response,
                **self._transport_options,
            )
        from .transports.curl import CurlTransport

        return CurlTransport(timeouts=self.timeouts, bodies=self._bodies, concurrency=self.limits.concurrency,
                             **self._transport_options)

    def _give_back(self, transport: Transport) -> None:
        if transport.active:
            transport.close()
        elif self._idle is None:
            self._idle = transport
        else:
            transport.close()

    def close(self) -> None:
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


def check_transport(name: str) -> None:
    """Refuse (``UsageError``) a transport that is unknown or whose package is not installed."""
    if name not in ("curl", "requests"):
        raise UsageError(f"unknown transport {name!r}: use 'curl' or 'requests'")
    if name == "requests":
        from importlib.util import find_spec

        if find_spec("requests") is None:
            raise UsageError("the requests engine needs the requests package: "
                             "pip install 'multifetch[requests]'")


def check_user_agent(value: str) -> str:
    """``value``, refused (``InvalidInput``) as any header value with a line break is."""
    ((_, checked),) = _header_pairs((("User-Agent", value),))
    return checked


def _coerce(spec: SpecLike | InvalidSpec | NotReady, position: int) -> Request | InvalidSpec | NotReady:
    if isinstance(spec, Request | InvalidSpec | NotReady):
        return spec
    try:
        if isinstance(spec, str):
            url = spec.strip()
            if not url.isascii():
                url = ascii_url(url)
            problem = check_url(url)
            if problem:
                raise InvalidInput(problem)
            return Request(url=url)
        if isinstance(spec, Mapping):
            return request_from_json(dict(spec))
    except InvalidInput as exc:
        text = spec if isinstance(spec, str) else str(spec.get("url", ""))
        spec_id = None if isinstance(spec, str) else spec.get("id")
        return InvalidSpec(str(spec_id) if spec_id is not None else str(position), text, str(exc))
    raise UsageError(f"cannot make a request from {type(spec).__name__}: {spec!r:.80}")


def _with_default_headers(request: Request, defaults: tuple[tuple[str, str], ...]) -> Request:
    own = {k.lower() for k, _ in request.headers}
    extra = tuple((k, v) for k, v in defaults if k.lower() not in own)
    return replace(request, headers=extra + request.headers) if extra else request


def fetch(inputs: Iterable[SpecLike], **options: Any) -> Iterator[Result]:
    """Fetch every input concurrently; yield one ``Result`` per input as each completes.

    ``options`` are ``Client``'s. URLs, JSON-spec dicts and ``Request`` objects mix freely.
    """
    client = Client(**options)
    try:
        yield from client.stream(inputs)
    finally:
        client.close()
