"""The local run: the scheduler and one transport on the engine's thread of this process."""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Iterator
from typing import Any

from ..engine._driver import Driver
from ..engine._job import Job
from ..engine._readahead import ReadAhead
from ..engine._result import Result
from ..engine._scheduler import Input, Scheduler, Transport
from ..engine._stats import Statistics
from ..outputs._bodies import BodyStore
from ..outputs._warc import WarcArchive
from ._settings import Settings

log = logging.getLogger("multifetch")
# The library's logger stays silent unless the application configures logging. Every engine (in
# this process, an engine process or a cluster worker) is started here, so this is where it is said.
log.addHandler(logging.NullHandler())

# Inputs parsed ahead of the scheduler by the input's own thread: memory stays bounded, and the
# engine seldom finds none ready while the input has more.
READ_AHEAD = 1024


class LocalRun:
    """One run of the scheduler on the engine's thread: iterate ``jobs()`` (or ``results()``) once;
    ``statistics()`` and ``stop()`` any time, from any thread."""

    def __init__(self, scheduler: Scheduler, on_close: Callable[[], None],
                 read_ahead: ReadAhead[Any] | None = None, archive: WarcArchive | None = None) -> None:
        self._scheduler = scheduler
        self._read_ahead = read_ahead
        self.archive = archive  # written by the consumer, each job's records before the job is handed out

        def on_end() -> None:
            if read_ahead is not None:
                read_ahead.close()
            on_close()

        self._driver = Driver(scheduler, on_end)

    def jobs(self) -> Generator[Job, None, None]:
        if self.archive is None:
            return self._driver.jobs()
        return self._archived(self.archive)

    def _archived(self, archive: WarcArchive) -> Generator[Job, None, None]:
        jobs = self._driver.jobs()
        try:
            for job in jobs:
                archive.write(job)
                yield job
        finally:
            jobs.close()
            archive.close()

    def take(self, timeout: float | None) -> list[Job] | None:
        """The jobs finished so far (waiting up to ``timeout`` for one); None when all were taken."""
        return self._driver.take(timeout)

    def close(self) -> None:
        """Abort what is in flight and end the run (``jobs()`` does this when it ends or is closed)."""
        self._driver.close()

    def outcomes(self) -> Generator[Job, None, None]:
        # the jobs themselves: their records are made without a Result each
        return self.jobs()

    def results(self) -> Generator[Result, None, None]:
        for job in self.jobs():
            yield job.to_result()

    def positioned(self) -> Iterator[tuple[int, Result]]:
        return ((job.position, job.to_result()) for job in self.jobs())

    def statistics(self) -> Statistics:
        return self._scheduler.statistics()

    def stop(self, grace: float = 5.0) -> None:
        """Admit nothing more; in-flight transfers get ``grace`` seconds. Call again to abort."""
        self._scheduler.stop(grace)

    def announcement(self) -> str | None:
        return None

    @property
    def unfinished(self) -> int:
        return self._scheduler.unfinished


def start_local(
    items: Input,
    transport: Transport,
    settings: Settings,
    *,
    on_close: Callable[[], None],
    read_ahead: bool,
    skip: Callable[[str], bool] | None = None,
    max_time: float | None = None,
    window: int | None = None,
    on_idle: Callable[[], float] | None = None,
    spill_folder: str | None = None,
) -> LocalRun:
    """Start the engine over ``items`` with ``transport``; ``on_close`` gets the transport back.

    ``read_ahead``: the input may block, so a thread of its own reads it ahead of the engine.
    """
    reader = None
    if read_ahead:
        reader = ReadAhead(items, min(READ_AHEAD, window or READ_AHEAD), transport.wake)
        items = iter(reader)
    scheduler = Scheduler(
        items,
        transport,
        limits=settings.limits,
        retry=settings.retry,
        health=settings.host_health,
        max_time=settings.deadline if max_time is None else max_time,
        window=window,
        skip=skip,
        record_retries=settings.record_retries,
        on_idle=on_idle,
        spill_folder=spill_folder,
        robots_agent=robots_agent(settings),
    )
    archive = None
    if settings.warc is not None:
        archive = WarcArchive(settings.warc, max_size=settings.warc_max_size)
    return LocalRun(scheduler, on_close, reader, archive)


def robots_agent(settings: Settings) -> str | None:
    """The User-Agent robots.txt rules are matched for, when they are obeyed."""
    if not settings.robots:
        return None
    from ..transports.curl import USER_AGENT

    return settings.transport.user_agent or USER_AGENT


def open_transport(settings: Settings, bodies: BodyStore, session: Any = None) -> Transport:
    """A new transport made as ``settings.transport`` says; ``session``: the requests transport's."""
    options = settings.transport
    if options.engine == "requests":
        from ..transports.curl import USER_AGENT
        from ..transports.requests import RequestsTransport

        return RequestsTransport(
            timeouts=settings.timeouts,
            bodies=bodies,
            concurrency=settings.limits.concurrency,
            session=session,
            keep_response=options.keep_response,
            max_body_size=options.max_body_size,
            verify=options.verify,
            cafile=options.cafile,
            user_agent=options.user_agent or USER_AGENT,
            follow_redirects=options.follow_redirects,
            max_redirects=options.max_redirects,
        )
    from ..transports.curl import USER_AGENT, CurlTransport

    curl = CurlTransport(
        timeouts=settings.timeouts,
        bodies=bodies,
        concurrency=settings.limits.concurrency,
        max_body_size=options.max_body_size,
        verify=options.verify,
        cafile=options.cafile,
        http_version=options.http_version,
        user_agent=options.user_agent or USER_AGENT,
        resolve=list(options.resolve) or None,
        doh_url=options.doh_url,
        proxy=options.proxy,
        auth=options.auth,
        cookies=options.cookies,
        client_cert=options.client_cert,
        deny_private=options.deny_private,
        secret_headers=options.secret_headers,
        follow_redirects=options.follow_redirects,
        max_redirects=options.max_redirects,
        limit_rate=options.limit_rate,
        proxy_pool=bool(options.proxies),
        capture=settings.warc is not None,
        answer_details=options.answer_details,
    )
    if not options.proxies:
        return curl
    from ..transports._proxies import ProxiedTransport, ProxyPool

    pool = ProxyPool(options.proxies, rotation=options.proxy_rotation, health=settings.host_health)
    return ProxiedTransport(curl, pool)
