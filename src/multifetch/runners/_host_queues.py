"""``HostQueues``: requests the parent of engine processes read but could not send yet, per host.

A host whose engine process already holds its share waits here, so the input can be read on for
the other hosts. Per host, in input order: a head in memory, then what went to disk (``Spill``,
the same file format the engine's own frontier uses), then a tail read while memory had room. At
most ``memory`` requests are kept in memory; the rest go to disk, where the head's oldest come
back from first.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

from ..engine._spill import Spill
from ..inputs._spec import Request

Queued = tuple[int, Request]  # input position, request (its id set)
_FROM_DISK = 256  # requests of one host taken back from the disk at a time


class HostQueues:
    """Per-host FIFO queues, bounded in memory, the overflow on disk."""

    def __init__(self, memory: int, folder: str | None) -> None:
        self._memory = memory
        self._head: dict[str, deque[Queued]] = {}  # a host is a key while it has anything queued
        self._tail: dict[str, deque[Queued]] = {}  # behind the host's requests on disk
        self.spill = Spill(folder)
        self.in_memory = 0
        self.total = 0  # in memory and on disk

    def __contains__(self, host: str) -> bool:
        return host in self._head

    def __len__(self) -> int:
        return self.total

    def full(self) -> bool:
        """Memory holds its bound and the disk refuses more: reading on must wait."""
        return self.in_memory >= self._memory and self.spill.broken

    def push(self, host: str, item: Queued, backlog: int) -> bool:
        """Queue ``item`` behind the host's others; True when ``backlog`` or more were queued
        already (the item was read past a backlog)."""
        head = self._head.get(host)
        if head is None:
            head = self._head[host] = deque()
        tail = self._tail.get(host)
        on_disk = self.spill.counts.get(host, 0)
        self.total += 1
        if self.in_memory >= self._memory and self._to_disk(host, item):
            return len(head) + on_disk + (len(tail) if tail else 0) >= backlog
        self.in_memory += 1
        if not on_disk and not tail:
            head.append(item)
            return len(head) > backlog
        if tail is None:
            tail = self._tail[host] = deque()
        tail.append(item)
        return True

    def _to_disk(self, host: str, item: Queued) -> bool:
        """``item`` on disk behind the host's others: its tail in memory goes there first."""
        spill = self.spill
        tail = self._tail.get(host)
        while tail:
            position, request = tail[0]
            if not spill.put(host, (request, request.id or "", position)):
                return False
            tail.popleft()
            self.in_memory -= 1
        if tail is not None:
            del self._tail[host]
        return spill.put(host, (item[1], item[1].id or "", item[0]))

    def pop(self, host: str) -> Queued | None:
        """The host's oldest queued request, or None when it has none."""
        head = self._head.get(host)
        if head is None:
            return None
        if not head:
            self._refill(host, head)
            if not head:  # cannot happen while the counts are right; never loop on it
                del self._head[host]
                return None
        item = head.popleft()
        self.in_memory -= 1
        self.total -= 1
        if not head and host not in self._tail and not self.spill.counts.get(host):
            del self._head[host]
        return item

    def _refill(self, host: str, head: deque[Queued]) -> None:
        if self.spill.counts.get(host):
            taken = self.spill.take(host, _FROM_DISK)
            head.extend((position, request) for request, _, position in taken)
            self.in_memory += len(taken)
        elif host in self._tail:
            head.extend(self._tail.pop(host))

    def counts(self) -> dict[str, int]:
        """Requests queued, per host."""
        on_disk = self.spill.counts
        return {host: len(head) + len(self._tail.get(host, ())) + on_disk.get(host, 0)
                for host, head in list(self._head.items())}

    def hosts(self) -> list[str]:
        return list(self._head)

    def drain(self, count: int) -> Iterator[Queued]:
        """Up to ``count`` queued requests of any hosts, taken out (a deadline cancels them)."""
        for host in list(self._head):
            while count > 0:
                item = self.pop(host)
                if item is None:
                    break
                count -= 1
                yield item
            if count <= 0:
                return

    def flush(self) -> None:
        self.spill.flush()

    def close(self) -> None:
        self.spill.close()
