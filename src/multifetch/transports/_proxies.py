"""Proxy pools: each attempt goes through one proxy of a list; a proxy that fails is rested.

``ProxyPool`` chooses (round robin per request, or one proxy per host: ``rotation``) and keeps
each proxy's health with the rules that rest dead hosts (``engine._hosts.HostHealth``):
``failures`` failures in a row (the proxy refused the connection or the tunnel, answered 407, or
let attempts time out) rest it for ``cooldown`` seconds; after ``pauses`` rests it is given up.

``ProxiedTransport`` wraps a transport. An attempt that its proxy failed (error kind ``proxy``,
or a 407 answer) is started again at once on another proxy, inside the same attempt: the request's
retries and its host's retry budget are not touched. Only when every proxy failed it (or all are
resting) does the failure reach the scheduler, which retries it as any ``proxy`` error. Timeouts
count against the proxy's health, but are not moved: the origin may be the slow one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from .._errors import ErrorKind, UsageError
from ..engine._hosts import HostHealth
from ..engine._job import Job
from ..engine._scheduler import Transport
from ..outputs._redact import Redactor, mask

log = logging.getLogger("multifetch")

SCHEMES = ("http", "https", "socks5", "socks5h")
ROTATIONS = ("request", "host")
_MASK = Redactor()


def check_proxy(url: str) -> str:
    """``url`` if it names a proxy multifetch can use; else ``UsageError`` saying why."""
    text = url.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"bad proxy {_MASK.text(text)!r}: {exc}") from None
    if parts.scheme.lower() not in SCHEMES:
        raise UsageError(f"bad proxy {_MASK.text(text)!r}: the scheme must be one of {', '.join(SCHEMES)}")
    if not parts.hostname or (parts.path not in ("", "/")) or parts.query or port == 0:
        raise UsageError(f"bad proxy {_MASK.text(text)!r}: use SCHEME://[USER:PASSWORD@]HOST[:PORT]")
    if any(c.isspace() for c in text):
        raise UsageError(f"bad proxy {_MASK.text(text)!r}: no spaces in a proxy URL")
    return text


def read_proxy_file(path: str) -> tuple[str, ...]:
    """The proxies of ``path``: one URL a line; blank lines and ``#`` comments are skipped.

    A line that is not a proxy URL is a ``UsageError`` naming ``path:line``."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise UsageError(f"cannot read the proxy file {path}: {reason}") from None
    proxies: list[str] = []
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            proxies.append(check_proxy(text))
        except UsageError as exc:
            raise UsageError(f"{path}:{number}: {exc}") from None
    if not proxies:
        raise UsageError(f"{path}: no proxy in the file")
    return tuple(proxies)


label = mask  # how a proxy is named in records, logs and the summary: its password masked


class ProxyState:
    """One proxy's health, counted as a host's is (``Host.note_connect_failure``)."""

    __slots__ = ("dead", "failures", "index", "pauses", "resting_until", "url")

    def __init__(self, url: str, index: int) -> None:
        self.url = url
        self.index = index
        self.failures = 0  # in a row
        self.pauses = 0
        self.resting_until = 0.0
        self.dead = False

    def usable(self, now: float) -> bool:
        return not self.dead and self.resting_until <= now


class ProxyPool:
    """Chooses a proxy for each attempt and keeps their health; ``clock`` is injectable."""

    def __init__(
        self, urls: Iterable[str], *, rotation: str = "request", health: HostHealth | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.proxies = [ProxyState(url, i) for i, url in enumerate(urls)]
        if not self.proxies:
            raise UsageError("a proxy pool needs at least one proxy")
        if rotation not in ROTATIONS:
            raise UsageError(f"unknown proxy rotation {rotation!r}: use 'request' or 'host'")
        self._by_url = {p.url: p for p in self.proxies}
        self._rotation = rotation
        self._health = health or HostHealth()
        self._clock = clock
        self._turn = -1
        self._sticky: dict[str, ProxyState] = {}  # host -> its proxy (rotation "host")

    def choose(self, host: str, tried: frozenset[str] | set[str] = frozenset()) -> str | None:
        """The proxy for an attempt to ``host``, other than those ``tried``; None when none is usable."""
        now = self._clock()
        if self._rotation == "host":
            chosen = self._sticky.get(host)
            if chosen is not None and chosen.usable(now) and chosen.url not in tried:
                return chosen.url
        proxies = self.proxies
        for step in range(1, len(proxies) + 1):
            candidate = proxies[(self._turn + step) % len(proxies)]
            if candidate.usable(now) and candidate.url not in tried:
                self._turn = candidate.index
                if self._rotation == "host":
                    if len(self._sticky) > 100_000:
                        self._sticky.clear()  # a crawl over very many hosts: keep this map small
                    self._sticky[host] = candidate
                return candidate.url
        return None

    def all_given_up(self) -> bool:
        return all(p.dead for p in self.proxies)

    def answered(self, url: str) -> None:
        proxy = self._by_url[url]
        proxy.failures = 0
        proxy.pauses = 0

    def failed(self, url: str) -> None:
        """``url`` failed an attempt: rest it, or give it up, when failures pile up."""
        proxy = self._by_url[url]
        now = self._clock()
        proxy.failures += 1
        health = self._health
        if proxy.failures >= health.failures and proxy.resting_until <= now and not proxy.dead:
            proxy.failures = 0
            proxy.pauses += 1
            if proxy.pauses > health.pauses:
                proxy.dead = True
                log.warning("proxy %s keeps failing: given up", label(url))
            else:
                proxy.resting_until = now + health.cooldown
                log.warning("proxy %s failed %d times in a row: resting it %gs", label(url),
                            health.failures, health.cooldown)


def is_proxy_failure(job: Job) -> bool:
    """Whether ``job``'s attempt failed because of its proxy (not of the origin)."""
    return job.error_kind == ErrorKind.PROXY or (job.error_kind is None and job.status == 407)


class ProxiedTransport:
    """A transport whose every attempt goes through a proxy of ``pool`` (see the module's docstring)."""

    def __init__(self, inner: Transport, pool: ProxyPool) -> None:
        self._inner = inner
        self._pool = pool
        self._tried: dict[int, set[str]] = {}  # id(job) -> proxies that failed its current attempt
        self._ended: list[Job] = []  # attempts that could not start: no proxy usable
        self.active = 0  # the inner transport's, and those that could not start: set after each call

    def _count(self) -> None:
        self.active = self._inner.active + len(self._ended)

    def start(self, job: Job) -> None:
        self._tried.pop(id(job), None)
        proxy = self._pool.choose(job.host)
        if proxy is None:
            self._unsent(job)
            return
        job.proxy = proxy
        self._inner.start(job)
        self._count()

    def _unsent(self, job: Job) -> None:
        why = "every proxy has failed" if self._pool.all_given_up() else "every proxy is resting"
        job.started_at = time.time()
        job.fail(ErrorKind.PROXY, why)
        self._ended.append(job)
        self._count()

    def poll(self, timeout: float) -> list[Job]:
        ended, self._ended = self._ended, []
        done = self._inner.poll(0.0 if ended else timeout)
        moved = False
        for job in done:
            if self._settle(job):
                moved = True
            else:
                ended.append(job)
        if moved:
            self._inner.kick()
        self._count()
        return ended

    def _settle(self, job: Job) -> bool:
        """Count ``job``'s outcome for its proxy; True when it was started again on another."""
        proxy = job.proxy
        if proxy is None:
            return False
        pool = self._pool
        if not is_proxy_failure(job):
            if job.error_kind == ErrorKind.TIMEOUT:
                pool.failed(proxy)
            elif job.error_kind is None:
                pool.answered(proxy)
            self._tried.pop(id(job), None)
            return False
        pool.failed(proxy)
        tried = self._tried.setdefault(id(job), set())
        tried.add(proxy)
        other = pool.choose(job.host, tried)
        if other is None:
            self._tried.pop(id(job), None)
            return False  # every proxy failed it: the scheduler decides (a retry, or the record)
        log.info("proxy %s failed %s: moving it to %s", label(proxy), job.id, label(other))
        job.clear_outcome()
        job.proxy = other
        self._inner.start(job)
        return True

    def kick(self) -> None:
        self._inner.kick()
        self._count()

    def expect(self, origin: str) -> None:
        self._inner.expect(origin)

    def in_flight(self) -> list[Job]:
        return self._inner.in_flight()

    def abort(self, job: Job) -> None:
        self._tried.pop(id(job), None)
        self._inner.abort(job)
        self._count()

    def close(self) -> None:
        self._tried.clear()
        self._inner.close()

    def wake(self) -> None:
        self._inner.wake()
