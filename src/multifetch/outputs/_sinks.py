"""Sinks: where records go — JSONL (default), CSV, SQLite, Parquet — chosen by ``_formats.format_for``."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Protocol

from .._errors import UsageError
from ._fields import OPTIONAL_FIELDS, RECORD_FIELDS

__all__ = ["OPTIONAL_FIELDS", "RECORD_FIELDS", "Sink", "holds_records", "open_sink", "remove_output"]


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
    part_seconds: float | None = None,
) -> Sink:
    """Open the sink for ``path`` (``None`` or ``-``: stdout, JSONL or CSV only).

    ``part_seconds``: how often a Parquet output closes a part (its records become durable).
    """
    if fmt == "parquet":
        if path is None or path == "-":
            raise UsageError("a Parquet output needs a folder: -o results.parquet")
        from ._parquet import PART_SECONDS, ParquetSink  # pyarrow is imported only when used

        return ParquetSink(path, fields, part_seconds=part_seconds or PART_SECONDS)
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


def holds_records(path: str) -> bool:
    """Whether ``path`` is an output that already holds something: a file with bytes in it, or a
    folder (a Parquet dataset) with entries."""
    if os.path.isdir(path):
        return any(True for _ in os.scandir(path))
    return os.path.exists(path) and os.path.getsize(path) > 0


def remove_output(path: str) -> None:
    """Remove an output for ``--overwrite``: a file, or what multifetch wrote in a Parquet folder."""
    if os.path.isdir(path):
        from ._parquet import clear_dataset

        clear_dataset(path)
    else:
        os.unlink(path)
