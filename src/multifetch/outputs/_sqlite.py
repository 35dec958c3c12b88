"""SQLite: a ``results`` table keyed by id, WAL mode, records committed in batches.

SQLite reports a full disk or a failed write as its own exception; here it is an ``OSError``, as
for every other output, so the run stops with the output's exit status and a batch that failed is
rolled back whole (the table holds only committed, durable records).
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from ._records import JSON_COLUMNS

_BATCH = 2000
_INTERVAL = 1.0
# SQLite's primary result codes for a write that could not be made (FULL, IOERR, READONLY,
# CANTOPEN, PERM, AUTH), and the errno that says the same
_ERRNO = {13: errno.ENOSPC, 10: errno.EIO, 8: errno.EROFS, 14: errno.EACCES, 3: errno.EACCES,
          23: errno.EACCES}


class SQLiteSink:
    def __init__(self, path: str, fields: tuple[str, ...]) -> None:
        self.path: str | None = path
        self.durable = 0
        self._on_durable: Callable[[], None] | None = None
        self._fields = fields
        self._rows: list[list[Any]] = []
        self._next_commit = time.monotonic() + _INTERVAL
        try:
            self._db = sqlite3.connect(path, isolation_level=None)
        except sqlite3.Error as exc:
            raise _os_error(exc) from exc
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            columns = ", ".join(f'"{f}"' + (" TEXT PRIMARY KEY" if f == "id" else "") for f in fields)
            self._db.execute(f"CREATE TABLE IF NOT EXISTS results ({columns})")
            existing = {row[1] for row in self._db.execute("PRAGMA table_info(results)")}
            for f in fields:
                if f not in existing:
                    self._db.execute(f'ALTER TABLE results ADD COLUMN "{f}"')
        except sqlite3.Error as exc:
            self._db.close()
            raise _os_error(exc) from exc
        names = ", ".join(f'"{f}"' for f in fields)
        marks = ", ".join("?" for _ in fields)
        self._insert = f"INSERT OR REPLACE INTO results ({names}) VALUES ({marks})"
        self._json_columns = [i for i, f in enumerate(fields) if f in JSON_COLUMNS]
        self._failed: OSError | None = None

    def when_durable(self, callback: Callable[[], None]) -> None:
        self._on_durable = callback

    def write(self, record: dict[str, Any]) -> None:
        row = list(map(record.get, self._fields))  # once a record: one pass in C, then the JSON columns
        for i in self._json_columns:
            if row[i] is not None:
                row[i] = _json(row[i])
        self._rows.append(row)
        if len(self._rows) >= _BATCH or time.monotonic() >= self._next_commit:
            self.flush()

    def flush(self) -> None:
        if self._failed is not None:
            raise self._failed
        self._next_commit = time.monotonic() + _INTERVAL
        if self._rows:
            try:
                self._db.execute("BEGIN")
                self._db.executemany(self._insert, self._rows)
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._failed = _os_error(exc)
                self._rows.clear()
                if self._db.in_transaction:
                    try:
                        self._db.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass  # SQLite rolls back itself when it cannot: the first error is the one to report
                raise self._failed from exc
            self.durable += len(self._rows)
            self._rows.clear()
        if self._on_durable is not None:
            self._on_durable()

    def close(self) -> None:
        try:
            if self._failed is None:
                self.flush()
        finally:
            self._db.close()


def _os_error(exc: sqlite3.Error) -> OSError:
    """``exc`` as the ``OSError`` a file would have raised: "No space left on device" for a full disk."""
    code = getattr(exc, "sqlite_errorcode", None)
    number = _ERRNO.get(code & 0xFF) if isinstance(code, int) else None
    if number is None:
        return OSError(f"SQLite: {exc}")
    return OSError(number, f"{os.strerror(number)} (SQLite: {exc})")


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"))
