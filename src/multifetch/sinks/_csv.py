"""CSV: the record fields as columns; nested values as JSON text; formula cells neutralised."""

from __future__ import annotations

import csv
import io
import json
import os
from typing import Any

from ._file import DurableFile

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> str:
    """One CSV cell. Text a spreadsheet would run as a formula gets a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        value = json.dumps(value, separators=(",", ":"))
    elif isinstance(value, bool):
        value = "true" if value else "false"
    text = str(value)
    if text.startswith(_FORMULA_START) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class CSVSink:
    def __init__(
        self, path: str | None, fields: tuple[str, ...], *, append: bool, sync_interval: float
    ) -> None:
        has_header = append and path not in (None, "-") and os.path.getsize(str(path)) > 0
        self._file = DurableFile(path, append=append, sync_interval=sync_interval)
        self.path = self._file.path
        self._fields = fields
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\n")
        if not has_header:
            self._writer.writerow(fields)
            self._drain()

    def _drain(self) -> None:
        self._file.write(self._buffer.getvalue().encode())
        self._buffer.seek(0)
        self._buffer.truncate()

    def write(self, record: dict[str, Any]) -> None:
        self._writer.writerow([cell(record.get(f)) for f in self._fields])
        self._drain()

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()
