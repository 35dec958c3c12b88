"""JSONL: one JSON object a line, the default output (stdout or a file)."""

from __future__ import annotations

import json
from typing import Any

from ._file import DurableFile

_encode = json.JSONEncoder(separators=(",", ":"), default=str).encode


class JSONLSink:
    def __init__(
        self, path: str | None, fields: tuple[str, ...], *, append: bool, sync_interval: float
    ) -> None:
        self._file = DurableFile(path, append=append, sync_interval=sync_interval)
        self.path = self._file.path
        self._fields = fields

    def write(self, record: dict[str, Any]) -> None:
        if len(record) != len(self._fields):
            record = {f: record.get(f) for f in self._fields}
        self._file.write((_encode(record) + "\n").encode())

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()
