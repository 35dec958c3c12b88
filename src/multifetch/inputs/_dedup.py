"""``--dedup``: drop specs seen before, by (method, URL, body), in bounded memory.

Each spec is reduced to a 16-byte BLAKE2 digest. The digests live in a Python set up to a
threshold and in a temporary SQLite table beyond it (``IdSet``): exact (a Bloom filter would
silently drop some unique requests), and memory stays flat on inputs of tens of millions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator

from ._idset import IdSet
from ._spec import InvalidSpec, Request

_MEMORY_DIGESTS = 300_000  # ~30 MB of digests in memory, then disk


class Dedup:
    def __init__(self, folder: str | None = None) -> None:
        self._seen = IdSet(memory_limit=_MEMORY_DIGESTS, folder=folder)
        self.dropped = 0

    def filter(self, items: Iterable[Request | InvalidSpec]) -> Iterator[Request | InvalidSpec]:
        seen = self._seen
        for item in items:
            if isinstance(item, Request):
                digest = hashlib.blake2b(digest_size=16)
                digest.update(item.method.encode())
                digest.update(b"\0")
                digest.update(item.full_url.encode("utf-8", "surrogatepass"))
                digest.update(b"\0")
                digest.update(item.body or b"")
                key = digest.hexdigest()
                if key in seen:
                    self.dropped += 1
                    continue
                seen.add(key)
            yield item

    def close(self) -> None:
        self._seen.close()
