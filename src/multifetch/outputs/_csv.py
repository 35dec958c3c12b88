"""CSV: the record fields as columns; nested values as JSON text; formula cells neutralised."""

from __future__ import annotations

import csv
import io
import json
import os
from typing import Any

from ._file import DurableFile, FileSink

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> str:
    """One CSV cell. Text a spreadsheet would run as a formula gets a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, (dict, list)):  # a tuple: `dict | list` builds a union object each call
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


class _Encoded:
    """The CSV writer's file: each row it writes goes to the durable file as UTF-8."""

    __slots__ = ("_write",)

    def __init__(self, file: DurableFile) -> None:
        self._write = file.write

    def write(self, text: str) -> None:
        self._write(text.encode())


class CSVSink(FileSink):
    def __init__(
        self, path: str | None, fields: tuple[str, ...], *, append: bool, sync_interval: float
    ) -> None:
        has_header = append and path not in (None, "-") and os.path.getsize(str(path)) > 0
        super().__init__(path, append=append, sync_interval=sync_interval)
        self._fields = fields
        self._writerow = csv.writer(_Encoded(self._file), lineterminator="\n").writerow
        self._write = self._file.write
        self._commas = len(fields) - 1
        if not has_header:
            header = io.StringIO()
            csv.writer(header, lineterminator="\n").writerow(fields)
            self._file.preamble(header.getvalue().encode())

    def write(self, record: dict[str, Any]) -> None:
        # Once a record, so the common row is joined by hand: text, numbers and None only, and no
        # cell the csv module would quote (no comma, quote or line break) or cell() would change (no
        # formula start). Any other row goes through cell() and the csv module.
        texts: list[str] = []
        value: Any
        for value in map(record.get, self._fields):
            cls = value.__class__
            if cls is str:
                texts.append(value)
            elif value is None:
                texts.append("")
            elif cls is int or cls is float:
                texts.append(str(value))
            else:
                break
        else:
            line = ",".join(texts)
            if (line and line.count(",") == self._commas and '"' not in line and "\n" not in line
                    and "\r" not in line and not line.startswith(_FORMULA_START) and ",=" not in line
                    and ",+" not in line and ",-" not in line and ",@" not in line and ",\t" not in line):
                self._write((line + "\n").encode())
                return
        self._writerow([cell(value) for value in map(record.get, self._fields)])
