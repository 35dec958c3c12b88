"""Sinks: where records go — JSONL (default), CSV, SQLite — chosen by ``_formats.format_for``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from .._errors import UsageError

RECORD_FIELDS = (
    "id",
    "url",
    "final_url",
    "method",
    "status",
    "error",
    "attempts",
    "elapsed",
    "size",
    "sha256",
    "body_path",
    "started_at",
    "meta",
)
OPTIONAL_FIELDS = ("headers", "retries", "timings")


class Sink(Protocol):
    """Takes records; ``flush`` makes what it took durable; ``close`` flushes and releases.

    A write that fails raises ``OSError``; the output then keeps only its durable records (no torn
    one) and takes no more. ``durable`` counts them.
    """

    path: str | None

    @property
    def durable(self) -> int: ...
    def when_durable(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` each time every record taken so far has become durable."""
    def write(self, record: dict[str, Any]) -> None: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


def open_sink(
    path: str | None,
    fmt: str,
    fields: tuple[str, ...] = RECORD_FIELDS,
    *,
    append: bool = False,
    sync_interval: float = 1.0,
) -> Sink:
    """Open the sink for ``path`` (``None`` or ``-``: stdout, JSONL or CSV only)."""
    if fmt == "sqlite":
        if path is None or path == "-":
            raise UsageError("a SQLite output needs a file: -o results.db")
        from ._sqlite import SQLiteSink  # sqlite3 is imported only when used

        return SQLiteSink(path, fields)
    if fmt == "csv":
        from ._csv import CSVSink

        return CSVSink(path, fields, append=append, sync_interval=sync_interval)
    from ._jsonl import JSONLSink

    return JSONLSink(path, fields, append=append, sync_interval=sync_interval)
