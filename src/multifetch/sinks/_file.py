"""A buffered output file that is flushed and fsynced on a bounded interval (crash safety)."""

from __future__ import annotations

import os
import sys
import time
from typing import BinaryIO

_BUFFER = 1 << 20
_monotonic = time.monotonic


class DurableFile:
    """Writes go to a large buffer; every ``sync_interval`` seconds it is flushed and fsynced."""

    def __init__(self, path: str | None, *, append: bool, sync_interval: float) -> None:
        self.path = None if path in (None, "-") else path
        self._own = self.path is not None
        if self.path is not None:
            self._file: BinaryIO = open(self.path, "ab" if append else "wb", buffering=_BUFFER)  # noqa: SIM115
        else:
            self._file = sys.stdout.buffer
        self._sync_interval = sync_interval
        self._next_sync = time.monotonic() + sync_interval
        self.write = self._write

    def _write(self, data: bytes) -> None:  # once a record: kept to a write and a clock reading
        self._file.write(data)
        if _monotonic() >= self._next_sync:
            self._next_sync = _monotonic() + self._sync_interval
            self.flush()

    def flush(self) -> None:
        self._file.flush()
        if self._own:
            os.fsync(self._file.fileno())

    def close(self) -> None:
        try:
            self.flush()
        finally:
            if self._own:
                self._file.close()
