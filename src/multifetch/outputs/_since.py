"""``--since PREVIOUS``: fetch again only what changed since a previous run.

The previous run's output (JSONL, CSV, SQLite, Parquet or a part folder) is read once, keeping
for each id whose answer carried a validator only what the next run needs: a digest of its URL,
its ``etag`` and ``last_modified``, and the body's ``sha256``, ``size`` and ``body_path``. Each
request of the new run with the same id and URL is sent with ``If-None-Match`` /
``If-Modified-Since``; a ``304`` answer then becomes a record with ``unchanged`` set and the
previous body's facts (``settle``). Memory stays small: up to ``_MEMORY_ENTRIES`` entries are
kept in a dict, a larger output goes to a temporary SQLite table (unlinked at once), and a
previous SQLite output is queried where it is, by its primary key.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from typing import Any, NamedTuple, Protocol, TypeVar

import orjson

from .._errors import UsageError
from ..inputs._spec import InvalidSpec, Request, with_default_headers
from ._formats import format_for
from ._records import read_records

_MEMORY_ENTRIES = 50_000  # about 25 MB of entries in a dict; beyond, an SQLite table on disk
_CONDITIONAL_METHODS = frozenset({"GET", "HEAD"})
T = TypeVar("T")


class Previous(NamedTuple):
    """What the previous run knew of one id's answer."""

    etag: str | None
    last_modified: str | None
    sha256: str | None
    size: int
    body_path: str | None


class Outcome(Protocol):
    """A finished job or a result: what ``settle`` looks at and marks."""

    id: str
    status: int | None

    @property
    def url(self) -> str: ...
    @property
    def unchanged(self) -> bool: ...
    def mark_unchanged(self, sha256: str | None, size: int, body_path: str | None,
                       previous: tuple[str | None, str | None]) -> None: ...


def _digest(url: str) -> bytes:
    """The URL an entry was for: the same id with another URL (an edited input) is not the same."""
    return hashlib.blake2b(url.encode("utf-8", "surrogatepass"), digest_size=8).digest()


def _entry(record: dict[str, Any]) -> Previous | None:
    """The entry of a previous record, or None when it holds nothing to be conditional on."""
    etag, modified = record.get("etag"), record.get("last_modified")
    if not (etag or modified) or record.get("error"):
        return None
    status = record.get("status")
    fresh = isinstance(status, int) and 200 <= status < 300 and status != 206
    if not fresh and not (status == 304 and record.get("unchanged") in (True, 1, "true")):
        return None
    return Previous(etag or None, modified or None, record.get("sha256"), int(record.get("size") or 0),
                    record.get("body_path"))


def _records(path: str) -> Iterator[dict[str, Any]]:
    """The previous output's records; JSONL read with orjson, five times the standard library's pace
    (a million-line output is read before the run starts)."""
    if os.path.isdir(path) or format_for(path) != "jsonl":  # Parquet, a part folder, CSV, SQLite
        yield from read_records(path)
        return
    loads = orjson.loads
    with open(path, "rb") as f:
        for line in f:
            if not line.endswith(b"\n"):
                return  # torn by a crash: not a record
            try:
                record = loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(record, dict) and "id" in record:
                yield record


class PreviousRun:
    """The validators of a previous run's output, by id. Thread-safe: the input's thread makes
    requests conditional while the consumer's settles their answers."""

    def __init__(self, path: str, folder: str | None = None) -> None:
        self.path = path
        self.count = 0  # ids with a validator
        self._memory: dict[str, tuple[bytes, Previous]] | None = {}
        self._db: Any = None
        self._sql = ""
        self._columns: list[str] = []
        self._lock = threading.Lock()
        try:
            if format_for(path) == "sqlite":
                self._open_sqlite(path)
            else:
                self._load(path, folder)
        except (OSError, ValueError) as exc:
            self.close()
            raise UsageError(f"--since {path}: cannot read it as a previous output: {exc}") from None

    # -- reading the previous output ---------------------------------------------------------------

    def _load(self, path: str, folder: str | None) -> None:
        rows: list[tuple[Any, ...]] = []
        for record in _records(path):
            entry = _entry(record)
            if entry is None:
                continue
            if self._memory is not None:
                self._memory[str(record["id"])] = (_digest(str(record.get("url") or "")), entry)
                if len(self._memory) > _MEMORY_ENTRIES:
                    self._to_disk(folder)
                continue
            rows.append((str(record["id"]), _digest(str(record.get("url") or "")), *entry))
            if len(rows) >= 10_000:
                self._db.executemany("INSERT OR REPLACE INTO previous VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
                rows.clear()
        if self._db is not None:
            self._db.executemany("INSERT OR REPLACE INTO previous VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            self._db.commit()
            self.count = self._db.execute("SELECT COUNT(*) FROM previous").fetchone()[0]
        else:
            self.count = len(self._memory or ())

    def _to_disk(self, folder: str | None) -> None:
        import sqlite3
        import tempfile

        fd, name = tempfile.mkstemp(prefix="multifetch-since-", suffix=".db", dir=folder)
        os.close(fd)
        self._db = sqlite3.connect(name, check_same_thread=False)
        os.unlink(name)  # nothing is left behind, whatever ends the run
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("CREATE TABLE previous (id TEXT PRIMARY KEY, url BLOB, etag TEXT, "
                         "last_modified TEXT, sha256 TEXT, size INTEGER, body_path TEXT) WITHOUT ROWID")
        assert self._memory is not None
        self._db.executemany("INSERT INTO previous VALUES (?, ?, ?, ?, ?, ?, ?)",
                             ((i, url, *entry) for i, (url, entry) in self._memory.items()))
        self._memory = None
        self._sql = "SELECT * FROM previous WHERE id = ?"

    def _open_sqlite(self, path: str) -> None:
        """A previous SQLite output is its own index: looked up by id, never copied."""
        import sqlite3

        self._memory = None
        self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        try:
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(results)")}
        except sqlite3.Error as exc:
            raise ValueError(str(exc)) from None
        if not {"id", "url", "etag", "last_modified"} <= columns:
            self._sql = ""  # written without validators: nothing to be conditional on
            return
        wanted = ["url", "etag", "last_modified", "status", "error", "sha256", "size", "body_path"]
        if "unchanged" in columns:
            wanted.append("unchanged")
        present = [c for c in wanted if c in columns]
        self._sql = f"SELECT {', '.join(present)} FROM results WHERE id = ?"
        self._columns = present
        self.count = self._db.execute(
            "SELECT COUNT(*) FROM results WHERE etag IS NOT NULL OR last_modified IS NOT NULL").fetchone()[0]

    # -- the new run -------------------------------------------------------------------------------

    def lookup(self, job_id: str, url: str) -> Previous | None:
        """The previous answer's entry for ``job_id``, if it was for ``url`` too."""
        if self._memory is not None:
            found = self._memory.get(job_id)
            if found is None or found[0] != _digest(url):
                return None
            return found[1]
        if not self._sql:
            return None
        with self._lock:
            row = self._db.execute(self._sql, (job_id,)).fetchone()
        if row is None:
            return None
        if self._sql.startswith("SELECT * FROM previous"):  # the temporary index
            _, digest, *fields = row
            return Previous(*fields) if digest == _digest(url) else None
        record = dict(zip(self._columns, row, strict=True))
        if record.get("url") != url:
            return None
        return _entry(record)

    def conditional(self, items: Iterator[T]) -> Iterator[T]:
        """``items`` with each GET or HEAD the previous run answered made conditional. Ids are
        counted as the engine counts them (an input's position, unless it has its own)."""
        position = 0
        headers_for = self._headers_for
        for item in items:
            if isinstance(item, Request):
                if item.method in _CONDITIONAL_METHODS:
                    job_id = item.id if item.id is not None else str(position)
                    extra = headers_for(job_id, item.url)
                    if extra:
                        item = with_default_headers(item, extra)  # type: ignore[assignment]
                position += 1
            elif isinstance(item, InvalidSpec):  # an input that cannot be sent has its place too
                position += 1
            yield item

    def _headers_for(self, job_id: str, url: str) -> tuple[tuple[str, str], ...]:
        entry = self.lookup(job_id, url)
        if entry is None:
            return ()
        extra = []
        if entry.etag:
            extra.append(("If-None-Match", entry.etag))
        if entry.last_modified:
            extra.append(("If-Modified-Since", entry.last_modified))
        return tuple(extra)

    def settle(self, outcome: Outcome) -> None:
        """A 304 to a conditional request: the previous body's facts become the outcome's."""
        if outcome.status != 304 or outcome.unchanged:
            return
        entry = self.lookup(outcome.id, outcome.url)
        if entry is not None:
            previous = (entry.etag, entry.last_modified)
            outcome.mark_unchanged(entry.sha256, entry.size, entry.body_path, previous)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
