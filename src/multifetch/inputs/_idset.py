"""A set of ids that stays small in memory: past a threshold it moves to an SQLite file."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any


class IdSet:
    """``add``/``in`` for strings; up to ``memory_limit`` in a Python set, then on disk."""

    def __init__(self, memory_limit: int = 1_000_000, folder: str | None = None) -> None:
        self._memory: set[str] | None = set()
        self._limit = memory_limit
        self._folder = folder
        self._db: Any = None
        self._path: str | None = None
        self.count = 0

    def add(self, item: str) -> None:
        if self._memory is not None:
            if item not in self._memory:
                self._memory.add(item)
                self.count += 1
                if len(self._memory) > self._limit:
                    self._spill()
            return
        assert self._db is not None
        cur = self._db.execute("INSERT OR IGNORE INTO ids VALUES (?)", (item,))
        self.count += cur.rowcount

    def update(self, items: Iterable[str]) -> None:
        for item in items:
            self.add(item)

    def __contains__(self, item: object) -> bool:
        if self._memory is not None:
            return item in self._memory
        assert self._db is not None
        return self._db.execute("SELECT 1 FROM ids WHERE id = ?", (item,)).fetchone() is not None

    def __len__(self) -> int:
        return self.count

    def _spill(self) -> None:
        import sqlite3  # only big sets need it (and tempfile): kept off the CLI's start-up path
        import tempfile

        fd, self._path = tempfile.mkstemp(prefix="multifetch-ids-", suffix=".db", dir=self._folder)
        os.close(fd)
        # filled by the thread that reads the input, closed by the caller's once the run is over
        self._db = sqlite3.connect(self._path, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("CREATE TABLE ids (id TEXT PRIMARY KEY) WITHOUT ROWID")
        assert self._memory is not None
        self._db.executemany("INSERT INTO ids VALUES (?)", ((i,) for i in self._memory))
        self._memory = None

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._path is not None:
            try:
                os.unlink(self._path)
            except OSError:
                pass
            self._path = None
