"""Reading records back from any output format (resume, reports, ``read_results``)."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from typing import Any

from ._formats import format_for
from ._parts import is_part_folder, read_part_folder

JSON_COLUMNS = frozenset({"error", "meta", "headers", "retries", "timings"})
_INT_COLUMNS = frozenset({"status", "attempts", "size"})


def read_records(path: str, fmt: str | None = None) -> Iterator[dict[str, Any]]:
    """Every complete record of ``path``; a torn last JSONL line (or Parquet part) is left out. A
    part folder (a cluster run's output) is read as one result set."""
    if is_part_folder(path):
        yield from read_part_folder(path)
        return
    fmt = "parquet" if fmt is None and os.path.isdir(path) else format_for(path, fmt)
    if fmt == "parquet":
        from ._parquet import parquet_records  # pyarrow: imported only for a Parquet output

        yield from parquet_records(path)
    elif fmt == "sqlite":
        yield from _sqlite_records(path)
    elif fmt == "csv":
        yield from _csv_records(path)
    else:
        for _, record in jsonl_records(path):
            yield record


def jsonl_records(path: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(offset after the line, record)`` for each complete line of a JSONL output."""
    offset = 0
    with open(path, "rb") as f:
        for line in f:
            if not line.endswith(b"\n"):
                return  # torn by a crash: not a record
            offset += len(line)
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and "id" in record:
                yield offset, record


def _csv_records(path: str) -> Iterator[dict[str, Any]]:
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            record: dict[str, Any] = {}
            for key, value in row.items():
                record[key] = _csv_value(key, value)
            yield record


def _csv_value(key: str, value: str | None) -> Any:
    if value is None or value == "":
        return None
    if value.startswith("'") and value[1:2] in ("=", "+", "-", "@", "\t", "\r"):
        value = value[1:]
    if key in JSON_COLUMNS:
        try:
            return json.loads(value)
        except ValueError:
            return value
    if key in _INT_COLUMNS:
        return int(value)
    if key == "elapsed":
        return float(value)
    if key == "unchanged":
        return value == "true"
    return value


def _sqlite_records(path: str) -> Iterator[dict[str, Any]]:
    import sqlite3

    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        cursor = db.execute("SELECT * FROM results")
        names = [d[0] for d in cursor.description]
        for row in cursor:
            record = dict(zip(names, row, strict=True))
            for key in JSON_COLUMNS.intersection(record):
                if isinstance(record[key], str):
                    record[key] = json.loads(record[key])
            yield record
    finally:
        db.close()
