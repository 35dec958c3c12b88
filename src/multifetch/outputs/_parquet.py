"""The Parquet output: a folder of numbered part files, the way Spark and Dask write datasets.

``-o results.parquet`` is a folder::

    results.parquet/
      part-00001-3f9c1a2b.parquet     complete parts: the dataset
      part-00002-3f9c1a2b.parquet
      .part-00003-3f9c1a2b.inprogress the part being written (hidden: no reader lists it)
      _multifetch.json                the run's fingerprint (``--resume`` checks it)

Records are written in row groups of up to 16,384 as they arrive (the sink holds one row group's
records at most). A part is closed — footer written, fsynced, renamed to its ``part-…`` name, the
folder fsynced — every ``part_seconds`` (10 s unless ``--part-seconds`` says) and on close; only
then are its records durable. The rename is the commit, so at any moment the folder holds
complete parts only: ``pyarrow.dataset``, pandas, polars, DuckDB or Spark read it as it stands,
even while a run writes it or after one was killed. A killed run loses the part it was writing
(at most ``part_seconds`` of records); ``--resume`` deletes that torn part and fetches its
records again.

**Several writers** (engine processes, cluster workers) may write into one folder: each sink
names its parts with its own ``writer`` name (random unless given), so their names never
collide, and no file is shared between them — no manifest to lock. A part's number is one more
than the highest in the folder when the writer opened it, so names sort roughly by time. The
reader (``_read``) and the resume take every complete part, whoever wrote it. Resuming (and
``--overwrite``) must happen while no writer is running: it deletes hidden parts, which would
otherwise be a running writer's.

A write that fails (a full disk) deletes the part being written — giving its room back — and
raises ``OSError``: the folder keeps exactly the durable parts, and the sink takes no more.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Callable, Iterator
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from .._errors import ErrorKind, UsageError
from ..inputs._idset import IdSet
from ._arrow import batch_from_records, records_from_batch, schema_for
from ._fields import RECORD_FIELDS

ROW_GROUP = 16_384  # records a row group: the most the sink holds in memory
PART_ROWS = 1 << 20  # a part is closed at this many records, however young
PART_SECONDS = 10.0
FINGERPRINT = "_multifetch.json"
_PART = re.compile(r"part-(\d+)-([A-Za-z0-9_-]+)\.parquet")
_HIDDEN = re.compile(r"\.(?:part|rewrite)-.*")
_monotonic = time.monotonic


def complete_parts(folder: str) -> list[str]:
    """The paths of the folder's complete parts (any writer's), in name order."""
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    return [os.path.join(folder, n) for n in sorted(names) if _PART.fullmatch(n)]


def dataset_files(path: str) -> list[str]:
    """What a reader reads: the complete parts of an output folder, or one Parquet file."""
    if os.path.isfile(path):
        return [path]
    if not os.path.isdir(path):
        raise FileNotFoundError(2, "No such file or folder", path)
    return complete_parts(path)


def parquet_records(path: str, batch_size: int = 8192) -> Iterator[dict[str, Any]]:
    """Every record of a Parquet output (every writer's complete parts) or file, a batch at a time."""
    for part in dataset_files(path):
        for batch in pq.ParquetFile(part).iter_batches(batch_size=batch_size):
            yield from records_from_batch(batch)


def parquet_table(path: str) -> pa.Table:
    """A Parquet output (or file) as one Arrow table; parts with other columns are unified."""
    tables = [pq.read_table(part) for part in dataset_files(path)]
    if not tables:
        return schema_for(RECORD_FIELDS).empty_table()
    return pa.concat_tables(tables, promote_options="default")


def discard_torn(folder: str) -> int:
    """Delete the parts a killed writer left unfinished; how many there were."""
    torn = [n for n in os.listdir(folder) if _HIDDEN.fullmatch(n)]
    for name in torn:
        os.unlink(os.path.join(folder, name))
    return len(torn)


def clear_dataset(folder: str) -> None:
    """Empty an output folder for ``--overwrite``: only what multifetch writes there, or refuse."""
    names = os.listdir(folder)
    foreign = [n for n in names if not (_PART.fullmatch(n) or _HIDDEN.fullmatch(n) or n == FINGERPRINT)]
    if foreign:
        raise UsageError(f"{folder} holds files multifetch did not write ({foreign[0]}...): "
                         "not overwriting it; choose another output")
    for name in names:
        os.unlink(os.path.join(folder, name))


def _next_number(folder: str) -> int:
    numbers = [int(m.group(1)) for n in os.listdir(folder) if (m := _PART.fullmatch(n.lstrip(".")))]
    return max(numbers, default=0) + 1


def _fsync_folder(folder: str) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ParquetSink:
    """Takes records into part files of ``folder``; see the module's docstring."""

    def __init__(self, folder: str, fields: tuple[str, ...], *, writer: str | None = None,
                 part_seconds: float = PART_SECONDS) -> None:
        if os.path.exists(folder) and not os.path.isdir(folder):
            raise UsageError(f"{folder} is a file; a Parquet output is a folder of parts: "
                             "give a new name or remove it")
        os.makedirs(folder, exist_ok=True)
        self.path: str | None = folder
        self.durable = 0  #: records in the parts this sink has committed
        self._schema = schema_for(fields)
        self._writer = writer or secrets.token_hex(4)
        if not re.fullmatch(r"[A-Za-z0-9_-]+", self._writer):
            raise UsageError(f"a Parquet writer name is letters, digits, '-' and '_': not {self._writer!r}")
        self._number = _next_number(folder)
        self._part_seconds = part_seconds
        self._next_close = _monotonic() + part_seconds
        self._records: list[dict[str, Any]] = []
        self._file: IO[bytes] | None = None
        self._parquet: pq.ParquetWriter | None = None
        self._rows = 0  # records in the part being written
        self._on_durable: Callable[[], None] | None = None
        self._failed: OSError | None = None

    def when_durable(self, callback: Callable[[], None]) -> None:
        self._on_durable = callback

    def write(self, record: dict[str, Any]) -> None:
        records = self._records
        records.append(record)
        if _monotonic() >= self._next_close:
            self.flush()
        elif len(records) >= ROW_GROUP:
            self._write_row_group()
            if self._rows >= PART_ROWS:
                self.flush()

    def flush(self) -> None:
        """Close the part being written: every record taken so far is durable, or this raises."""
        self._next_close = _monotonic() + self._part_seconds
        self._write_row_group()
        if self._parquet is not None:
            self._commit()
        if self._on_durable is not None:
            self._on_durable()

    def _names(self) -> tuple[str, str]:
        name = f"part-{self._number:05d}-{self._writer}"
        assert self.path is not None
        return os.path.join(self.path, f".{name}.inprogress"), os.path.join(self.path, f"{name}.parquet")

    def _write_row_group(self) -> None:
        if self._failed is not None:
            raise self._failed
        if not self._records:
            return
        batch = batch_from_records(self._records, self._schema)
        try:
            if self._parquet is None:
                self._file = open(self._names()[0], "wb")  # noqa: SIM115 (closed by _commit or _fail)
                self._parquet = pq.ParquetWriter(self._file, self._schema)
            self._parquet.write_batch(batch)
        except OSError as exc:
            self._fail(exc)
            raise
        self._rows += len(self._records)
        self._records.clear()

    def _commit(self) -> None:
        """Footer, fsync, rename, fsync the folder: the part becomes part of the dataset."""
        assert self._parquet is not None
        assert self._file is not None
        assert self.path is not None
        hidden, final = self._names()
        try:
            self._parquet.close()
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            os.rename(hidden, final)
            _fsync_folder(self.path)
        except OSError as exc:
            self._fail(exc)
            raise
        self._parquet = self._file = None
        self.durable += self._rows
        self._rows = 0
        self._number += 1

    def _fail(self, exc: OSError) -> None:
        """Keep only the committed parts: the one being written is deleted, its room given back."""
        self._failed = exc
        self._records.clear()
        self._rows = 0
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass  # the first error is the one to report
            try:
                os.unlink(self._names()[0])
            except OSError:
                pass
        self._parquet = self._file = None

    def close(self) -> None:
        if self._failed is None:
            self.flush()


class ParquetResume:
    """Resume state of a Parquet output folder.

    Torn parts are deleted. Every complete part is scanned (its ``id`` and ``error`` columns
    only): its records mark their ids done, but errors with ``retry_failed`` and ``cancelled``
    records, which are fetched again. A part holding such records is rewritten without them
    (written beside it, then renamed over it: atomic) before the run starts, so the new records
    never stand beside the ones they replace; if the run stops before fetching them, the next
    resume fetches them, as any input without a record. ``on_record`` is given each record that
    stays done (then the parts are read whole, not only those two columns).
    """

    def __init__(self, output: str, *, retry_failed: bool,
                 on_record: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.output = output
        self.write_path = output
        self.records = 0
        self.done = IdSet(folder=os.path.dirname(os.path.abspath(output)))
        if not os.path.isdir(output):
            return
        discard_torn(output)
        for part in complete_parts(output):
            redo = 0
            for record in _records_to_judge(part, whole=on_record is not None):
                if _is_done(record.get("error"), retry_failed):
                    self.done.add(str(record["id"]))
                    self.records += 1
                    if on_record is not None:
                        on_record(record)
                else:
                    redo += 1
            if redo:
                _rewrite_without_redone(part, retry_failed)

    @property
    def skip(self) -> Callable[[str], bool]:
        return self.done.__contains__

    def finish(self) -> None:
        self.done.close()


def _is_done(error: Any, retry_failed: bool) -> bool:
    if not error:
        return True
    return error.get("kind") != ErrorKind.CANCELLED and not retry_failed


def _records_to_judge(part: str, *, whole: bool) -> Iterator[dict[str, Any]]:
    """The part's records: whole, or only their ``id`` and ``error`` (all a resume decides by)."""
    file = pq.ParquetFile(part)
    columns = None if whole else [c for c in ("id", "error") if c in file.schema_arrow.names]
    for batch in file.iter_batches(batch_size=65_536, columns=columns):
        yield from records_from_batch(batch)


def _rewrite_without_redone(part: str, retry_failed: bool) -> None:
    table = pq.read_table(part)
    errors = table.column("error").to_pylist()
    keep = table.filter(pa.array([_is_done(e, retry_failed) for e in errors]))
    folder, name = os.path.split(part)
    if keep.num_rows == 0:
        os.unlink(part)
    else:
        tmp = os.path.join(folder, f".rewrite-{name}")
        try:
            with open(tmp, "wb") as f:
                pq.write_table(keep, f)
                f.flush()
                os.fsync(f.fileno())
        except OSError:
            os.unlink(tmp)  # a full disk: give its room back; the part stays as it was
            raise
        os.replace(tmp, part)
    _fsync_folder(folder)
