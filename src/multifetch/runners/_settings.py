"""``Settings``: everything a run's engine is built from, as one frozen, picklable value.

Built once from ``Client``'s arguments (the command line builds a ``Client`` the same way) and
checked once, here; engine processes and cluster workers get ``settings.share(i, n)``, never a
dict of options. Limits, timeouts and the retry policy are the engine's own values
(``engine/_policy.py``); how each transfer is made is ``TransportOptions``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

from .._errors import SettingError, UsageError
from ..engine._hosts import HostHealth
from ..engine._policy import Limits, RetryPolicy, Timeouts, whole_number
from ..engine._resources import fit_concurrency
from ..inputs._spec import _header_pairs
from ..outputs._warc import require_warcio
from ..transports._proxies import ROTATIONS, check_proxy

ENGINES = ("curl", "requests")


@dataclass(frozen=True, kw_only=True, slots=True)
class TransportOptions:
    """How each transfer is made. ``engine``: ``"curl"`` (libcurl) or ``"requests"``.

    ``resolve``, ``doh_url``, ``proxy``, ``proxies``, ``auth`` (user, password, type),
    ``cookies``, ``client_cert`` (cert, key), ``deny_private``, ``secret_headers`` and ``limit_rate``
    (bytes a second, each transfer) are libcurl's alone (the requests transport takes what it can of
    them from its session); ``keep_response`` is the requests transport's alone.
    ``answer_details``: libcurl reads each answer's phase timings and HTTP version
    (``Result.timings``, ``Result.http_version``); the command line asks for them only when its
    records hold ``timings`` (eight questions to libcurl a request, 5 % of a small request's CPU).
    ``follow_redirects`` and ``max_redirects``: as curl's ``-L`` / ``--no-location`` and
    ``--max-redirs``. ``proxies``: a pool, each attempt through one of them, ``proxy_rotation``
    ``"request"`` (round robin) or ``"host"`` (one proxy per host).
    """

    engine: str = "curl"
    max_body_size: int | None = None
    verify: bool = True
    cafile: str | None = None
    http_version: str | None = None
    user_agent: str | None = None
    resolve: tuple[str, ...] = ()
    doh_url: str | None = None
    proxy: str | None = None
    proxies: tuple[str, ...] = ()
    proxy_rotation: str = "request"
    auth: tuple[str, str, str] | None = None
    cookies: str | None = None
    client_cert: tuple[str, str | None] | None = None
    deny_private: bool = False
    secret_headers: tuple[str, ...] = ()
    keep_response: bool = False
    follow_redirects: bool = True
    max_redirects: int = 10
    limit_rate: int | None = None
    answer_details: bool = True

    def __post_init__(self) -> None:
        check_engine(self.engine)
        if self.max_body_size is not None:
            size = whole_number(self.max_body_size, "max_body_size", least=0)
            object.__setattr__(self, "max_body_size", size)
        object.__setattr__(self, "max_redirects", whole_number(self.max_redirects, "max_redirects", least=0))
        if self.limit_rate is not None and (isinstance(self.limit_rate, bool) or not isinstance(
                self.limit_rate, int) or self.limit_rate < 1):
            raise SettingError(("limit_rate",), f"must be bytes a second ≥ 1, not {self.limit_rate!r}")
        if self.user_agent:
            object.__setattr__(self, "user_agent", check_user_agent(self.user_agent))
        if self.engine == "requests" and self.curl_only():
            raise SettingError(self.curl_only(), "not available with the requests transport")
        if self.keep_response and self.engine != "requests":
            raise SettingError(("keep_response",), "needs the requests transport")
        if self.proxies or self.proxy_rotation != "request":
            self._check_proxies()

    def _check_proxies(self) -> None:
        if isinstance(self.proxies, str):
            raise SettingError(("proxies",), "takes a list of proxy URLs, not one string")
        if self.proxy_rotation not in ROTATIONS:
            raise SettingError(("proxy_rotation",),
                               f"must be 'request' or 'host', not {self.proxy_rotation!r}")
        if self.proxy is not None and self.proxies:
            raise SettingError(("proxy", "proxies"), "one or the other: a single proxy, or a pool")
        object.__setattr__(self, "proxies", tuple(check_proxy(str(p)) for p in self.proxies))

    def curl_only(self) -> tuple[str, ...]:
        """The names of the libcurl-only settings that were given."""
        given = (("resolve", bool(self.resolve)), ("doh_url", self.doh_url is not None),
                 ("proxy", self.proxy is not None), ("proxies", bool(self.proxies)),
                 ("auth", self.auth is not None),
                 ("cookies", self.cookies is not None), ("client_cert", self.client_cert is not None),
                 ("deny_private", self.deny_private), ("secret_headers", bool(self.secret_headers)),
                 ("limit_rate", self.limit_rate is not None))
        return tuple(name for name, is_given in given if is_given)


@dataclass(frozen=True, kw_only=True, slots=True)
class Settings:
    """One run's settings. ``health`` is None when left to its defaults; ``bodies`` is
    ``"memory"``, ``"hash"`` or a folder; ``deadline`` bounds a whole run (seconds).

    ``robots``: obey each origin's robots.txt (``engine/_robots.py``); ``since``: a previous run's
    output, whose validators make each request conditional (``outputs/_since.py``).
    """

    limits: Limits = field(default_factory=Limits)
    timeouts: Timeouts = field(default_factory=Timeouts)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    health: HostHealth | None = None
    transport: TransportOptions = field(default_factory=TransportOptions)
    headers: tuple[tuple[str, str], ...] = ()
    bodies: str | os.PathLike[str] = "memory"
    deadline: float | None = None
    record_retries: bool = False
    processes: int = 1
    robots: bool = False
    since: str | None = None
    warc: str | None = None
    warc_max_size: int | None = None

    def __post_init__(self) -> None:
        if self.robots:
            check_robots()
        if self.since is not None:
            check_since(self.since)
        processes = self.processes
        if isinstance(processes, bool) or not isinstance(processes, int) or processes < 1:
            raise SettingError(("processes",), f"must be a whole number ≥ 1, not {processes!r}")
        if processes > 1 and (self.transport.engine != "curl" or self.health is not None):
            raise SettingError(("processes",), "runs the curl transport here; it does not combine "
                               "with the requests transport or health")
        if self.warc is not None or self.warc_max_size is not None:
            self._check_warc()

    def _check_warc(self) -> None:
        if self.warc is None:
            raise SettingError(("warc_max_size",), "goes with warc")
        if self.transport.engine != "curl" or self.processes > 1:
            raise SettingError(("warc",), "is written by the curl transport in this process: not with "
                               "the requests transport or processes")
        if self.warc_max_size is not None and self.warc_max_size < 1:
            raise SettingError(("warc_max_size",), "must be a size in bytes above zero")
        require_warcio()

    @property
    def host_health(self) -> HostHealth:
        return self.health or HostHealth()

    def share(self, index: int, parts: int, *, hosts_whole: bool) -> Settings:
        """The settings of part ``index`` of ``parts`` (an engine process, a cluster shard): global
        limits divided; per-host ones too unless ``hosts_whole`` (each host has one part)."""
        return replace(self, limits=self.limits.share(index, parts, hosts_whole=hosts_whole), processes=1)

    def fitted(self) -> tuple[Settings, str | None]:
        """These settings with a concurrency the open-file limit allows, and a note when lowered."""
        concurrency, note = fit_concurrency(self.limits.concurrency)  # sockets must never run out
        if concurrency == self.limits.concurrency:
            return self, note
        return replace(self, limits=replace(self.limits, concurrency=concurrency)), note


def check_engine(name: str) -> None:
    """Refuse (``UsageError``) a transport that is unknown or whose package is not installed."""
    if name not in ENGINES:
        raise UsageError(f"unknown transport {name!r}: use 'curl' or 'requests'")
    if name == "requests":
        from importlib.util import find_spec

        if find_spec("requests") is None:
            raise UsageError("the requests engine needs the requests package: "
                             "pip install 'multifetch[requests]'")


def check_robots() -> None:
    """Refuse (``SettingError``) robots.txt handling when its parser is not installed."""
    from importlib.util import find_spec

    if find_spec("protego") is None:
        raise SettingError(("robots",), "needs the protego package: pip install 'multifetch[robots]'")


def check_since(path: str) -> None:
    """Refuse (``SettingError``) a previous output that cannot be read."""
    if not os.path.exists(path):
        raise SettingError(("since",), f"{path}: no such file (a previous run's output: JSONL, CSV, "
                           "SQLite, Parquet or a part folder)")
    if not os.access(path, os.R_OK):
        raise SettingError(("since",), f"{path}: cannot be read")


def check_user_agent(value: str) -> str:
    """``value``, refused (``InvalidInput``) as any header value with a line break is."""
    ((_, checked),) = _header_pairs((("User-Agent", value),))
    return checked
