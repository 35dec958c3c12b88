"""The frontier's disk: per-host queues of requests that do not fit in memory.

When one host is slow, paused or limited to few connections, its requests would fill the
scheduler's window and every other host would wait behind them. Instead, once memory is full and
some host has room but no work, input is read on and the requests of hosts that already have a
backlog go here, in input order per host, until their host has room for them again.

One SQLite file, opened on the first spill in the given folder and unlinked at once (nothing is
left behind by a crash; ``--resume`` rebuilds the frontier from the input, since the output is the
journal). Requests are pickled with the job's id and input position.
"""

from __future__ import annotations

import logging
import os
import pickle
import tempfile
from typing import Any

from ..inputs._spec import Request

log = logging.getLogger("multifetch")

Spilled = tuple[Request, str, int]  # the request, its id, its input position
_ROWS_IN_MEMORY = 1024  # put() gathers this many before writing them in one transaction


class Spill:
    """FIFO queues of spilled requests, one per host; used by the engine's thread only."""

    def __init__(self, folder: str | None = None) -> None:
        self._folder = folder
        self._db: Any = None
        self._seq = 0
        self._rows: list[tuple[str, int, bytes]] = []  # appended, not yet inserted
        self.counts: dict[str, int] = {}  # host -> requests spilled and not taken back
        self.total = 0
        # The disk failed (full, read-only): nothing more is spilled, and what could not be
        # written stays in ``_rows``, in memory, still in its place in its host's order.
        self.broken = False
        self._taken: dict[str, int] = {}  # host -> the last seq taken back from the disk

    def put(self, host: str, item: Spilled) -> bool:
        """Keep ``item`` on disk; False when it cannot (it stays in memory)."""
        if self.broken:
            return False
        try:
            data = pickle.dumps(item, pickle.HIGHEST_PROTOCOL)
        except Exception:  # a meta value of the caller's that pickle refuses
            return False
        self._seq += 1
        self._rows.append((host, self._seq, data))
        self.counts[host] = self.counts.get(host, 0) + 1
        self.total += 1
        if len(self._rows) >= _ROWS_IN_MEMORY:
            self.flush()
        return True

    def flush(self) -> None:
        """Write what ``put`` gathered (one transaction for a whole read of the input)."""
        if not self._rows or self.broken:
            return
        try:
            db = self._open()
            db.execute("BEGIN")
            db.executemany("INSERT INTO spill VALUES (?, ?, ?)", self._rows)
            db.execute("COMMIT")
        except (OSError, _sqlite_error()) as exc:
            log.warning("cannot keep requests on disk (%s): they wait in memory", exc)
            self.broken = True
            if self._db is not None:
                try:
                    self._db.execute("ROLLBACK")
                except _sqlite_error():
                    pass
            return
        self._rows.clear()

    def take(self, host: str, count: int) -> list[Spilled]:
        """The oldest ``count`` spilled requests of ``host``, removed from the disk."""
        if not self.counts.get(host):
            return []
        self.flush()
        rows: list[tuple[int, bytes]] = []
        if self._db is not None:
            # Nothing is deleted (a full disk may refuse even that): rows past the last one taken
            # are read, and the file goes when the run ends.
            rows = self._db.execute(
                "SELECT seq, item FROM spill WHERE host = ? AND seq > ? ORDER BY seq LIMIT ?",
                (host, self._taken.get(host, 0), count)).fetchall()
            if rows:
                self._taken[host] = rows[-1][0]
        if len(rows) < count and self._rows:  # the disk failed: the newest are in memory
            mine = [row for row in self._rows if row[0] == host][:count - len(rows)]
            taken = {row[1] for row in mine}
            self._rows = [row for row in self._rows if row[0] != host or row[1] not in taken]
            rows += [(seq, data) for _, seq, data in mine]
        left = self.counts[host] - len(rows)
        if left:
            self.counts[host] = left
        else:
            del self.counts[host]
        self.total -= len(rows)
        return [pickle.loads(data) for _, data in rows]

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        self._rows.clear()

    def _open(self) -> Any:  # raises OSError or sqlite3.Error
        if self._db is None:
            import sqlite3  # only runs that spill need it

            fd, path = tempfile.mkstemp(prefix="multifetch-frontier-", suffix=".db", dir=self._folder)
            os.close(fd)
            # Used by whichever thread turns the engine's loop, one at a time (``_driver``).
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            os.unlink(path)  # the open file lives on; a crash leaves nothing behind
            # a write that fails (a full disk) is rolled back from memory: the file stays readable
            self._db.execute("PRAGMA journal_mode=MEMORY")
            self._db.execute("PRAGMA synchronous=OFF")
            self._db.execute("PRAGMA cache_size=-8000")  # 8 MB of pages: memory stays bounded
            self._db.execute("CREATE TABLE spill (host TEXT, seq INTEGER, item BLOB, PRIMARY KEY (host, seq))"
                             " WITHOUT ROWID")
        return self._db


def _sqlite_error() -> type[Exception]:
    import sqlite3

    return sqlite3.Error
