"""SQLite: a ``results`` table keyed by id, WAL mode, records committed in batches."""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from ._read import JSON_COLUMNS

_BATCH = 2000
_INTERVAL = 1.0


class SQLiteSink:
    def __init__(self, path: str, fields: tuple[str, ...]) -> None:
        self.path: str | None = path
        self._fields = fields
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        columns = ", ".join(f'"{f}"' + (" TEXT PRIMARY KEY" if f == "id" else "") for f in fields)
        self._db.execute(f"CREATE TABLE IF NOT EXISTS results ({columns})")
        existing = {row[1] for row in self._db.execute("PRAGMA table_info(results)")}
        for f in fields:
            if f not in existing:
                self._db.execute(f'ALTER TABLE results ADD COLUMN "{f}"')
        names = ", ".join(f'"{f}"' for f in fields)
        marks = ", ".join("?" for _ in fields)
        self._insert = f"INSERT OR REPLACE INTO results ({names}) VALUES ({marks})"
        self._json_columns = [i for i, f in enumerate(fields) if f in JSON_COLUMNS]
        self._rows: list[list[Any]] = []
        self._next_commit = time.monotonic() + _INTERVAL

    def write(self, record: dict[str, Any]) -> None:
        row = list(map(record.get, self._fields))  # once a record: one pass in C, then the JSON columns
        for i in self._json_columns:
            if row[i] is not None:
                row[i] = _json(row[i])
        self._rows.append(row)
        if len(self._rows) >= _BATCH or time.monotonic() >= self._next_commit:
            self.flush()

    def flush(self) -> None:
        self._next_commit = time.monotonic() + _INTERVAL
        if not self._rows:
            return
        self._db.execute("BEGIN")
        self._db.executemany(self._insert, self._rows)
        self._db.execute("COMMIT")
        self._rows.clear()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._db.close()


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"))
