"""Lanes: how a cluster run's inputs are divided so that every limit stays exact.

A lane is a sequence of chunks run one after another, one at a time, each on whichever worker is
free: what one lane sends to a host is governed by one engine's limits at a time. Hosts are routed
to the first ``shards`` lanes by a CRC-32 of their origin (a host, one lane: its per-host limits,
Retry-After and slow-downs are exactly one engine's). A host named in ``split`` gets ``k`` lanes of
its own instead, its inputs spread over them by their id and its per-host limits divided among
them: concurrency in integer shares that add up to the whole, the per-host rate in shares of whole
requests a second (lane 0 also takes the fraction), so no one-second window sees more than the
rate, as with one token bucket.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, replace
from typing import Any

from .._errors import SettingError
from ._settings import Settings


def _host_key(host: str) -> str:
    return host.strip().lower().rstrip("/")


def _keys(origin: str) -> tuple[str, str, str]:
    """The names a user may give a host by: the origin, ``host:port``, and the bare host."""
    hostport = origin.split("://", 1)[-1]
    bare = hostport.rsplit(":", 1)[0] if hostport.count(":") == 1 else hostport
    return origin, hostport, bare


@dataclass(frozen=True, slots=True)
class LanePlan:
    """``shards`` lanes shared by hosts, then ``k`` lanes for each ``(host, k)`` of ``split``."""

    shards: int
    split: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        if self.shards < 1:
            raise SettingError(("cluster",), "a cluster run needs at least one shard")
        split = tuple((_host_key(h), int(k)) for h, k in self.split)
        for host, k in split:
            if k < 2:
                raise SettingError(("split_host",), f"{host}: split a host over 2 or more lanes")
        object.__setattr__(self, "split", split)

    @property
    def lanes(self) -> int:
        return self.shards + sum(k for _, k in self.split)

    def _split_of(self, origin: str) -> tuple[int, int] | None:
        """(first lane, lanes) of a split host, None for the others."""
        if not self.split:
            return None
        first = self.shards
        keys = _keys(origin)
        for host, k in self.split:
            if host in keys:
                return first, k
            first += k
        return None

    def lane_of(self, origin: str, item_id: str) -> int:
        split = self._split_of(origin)
        if split is None:
            return zlib.crc32(origin.encode()) % self.shards
        first, k = split
        return first + zlib.crc32(item_id.encode()) % k

    def host_of_lane(self, lane: int) -> tuple[str, int, int] | None:
        """(host, index among its lanes, its lanes) when ``lane`` serves a split host."""
        first = self.shards
        for host, k in self.split:
            if first <= lane < first + k:
                return host, lane - first, k
            first += k
        return None

    def check(self, settings: Settings) -> None:
        """Refuse (``SettingError``) a split whose per-host limits cannot be divided."""
        limits = settings.limits
        for host, k in self.split:
            if limits.limit_for(host) < k:
                raise SettingError(("split_host",), f"{host}: its per-host limit "
                                   f"({limits.limit_for(host)}) is smaller than its {k} lanes")
            if limits.per_host_rate is not None and limits.per_host_rate < k:
                raise SettingError(("split_host",), f"{host}: a per-host rate of "
                                   f"{limits.per_host_rate:g}/s cannot be divided over {k} lanes")

    def settings(self, lane: int, given: Settings, busy: int) -> Settings:
        """The settings of ``lane`` while ``busy`` lanes have work: global limits divided among
        them; per-host ones whole, or this lane's share of a split host's."""
        shared = given.share(0, max(busy, 1), hosts_whole=True)
        shared = replace(shared, deadline=None)  # the driver keeps the run's clock
        split = self.host_of_lane(lane)
        if split is None:
            return shared
        host, index, k = split
        limits = given.limits
        per_host = _share(limits.limit_for(host), k, index)
        rate = limits.per_host_rate
        if rate is not None:
            whole = math.floor(rate)
            rate = _share(whole, k, index) + (rate - whole if index == 0 else 0.0)
        return replace(shared, limits=replace(shared.limits, per_host=per_host, host_limits={},
                                              per_host_rate=rate))

    def to_json(self) -> dict[str, Any]:
        return {"shards": self.shards, "split": [list(pair) for pair in self.split]}

    @classmethod
    def from_json(cls, value: Any) -> LanePlan:
        return cls(int(value["shards"]), tuple((str(h), int(k)) for h, k in value.get("split", [])))


def _share(total: int, parts: int, index: int) -> int:
    return total // parts + (1 if index < total % parts else 0)


def parse_split_host(text: str, workers: int) -> tuple[str, int]:
    """``HOST`` (over every worker) or ``HOST=K`` from ``--split-host``."""
    host, sep, count = text.rpartition("=")
    if not sep:
        host, count = text, str(workers)
    if not host.strip() or not count.isdigit() or int(count) < 2:
        raise SettingError(("split_host",), f"bad --split-host {text!r}: use HOST or HOST=K with K ≥ 2")
    return host.strip(), int(count)
