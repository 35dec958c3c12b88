"""Resume: the output is the journal.

A JSONL output is scanned once: complete records mark their ids done (a torn last line from a
crash is cut off). Errors are redone with ``retry_failed``, ``cancelled`` records always. When
records will be replaced, new records go to ``<output>.resume-part`` and are merged at the end
(or at the start of the next resume, after a crash), so the output never holds two records for
one id. A SQLite output is queried directly and rows are replaced in place. A Parquet output
folder loses its torn part, and the records to fetch again are taken out of their parts before
the run starts (``_parquet.ParquetResume``).

A sidecar ``<output>.multifetch.json`` holds a fingerprint of the inputs and key options;
resuming with other ones is refused unless forced.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from .._errors import ErrorKind, UsageError
from ..inputs._idset import IdSet
from ._records import jsonl_records, read_records

_HEAD = 1 << 20


class Resume(Protocol):
    """What a run needs of an output it continues: the ids to ``skip``, where new records go,
    and ``finish`` once the last record is durable."""

    @property
    def skip(self) -> Callable[[str], bool]: ...
    @property
    def write_path(self) -> str: ...
    def finish(self) -> None: ...


def open_resume(output: str, fmt: str, *, retry_failed: bool,
                on_record: Callable[[dict[str, Any]], None] | None = None) -> Resume:
    """The resume of ``output`` (JSONL, SQLite or Parquet; CSV cannot be checked for torn rows).
    ``on_record`` is given each record that stays done."""
    if fmt == "sqlite":
        return SQLiteResume(output, retry_failed=retry_failed, on_record=on_record)
    if fmt == "parquet":
        from ._parquet import ParquetResume  # pyarrow: imported only for a Parquet output

        return ParquetResume(output, retry_failed=retry_failed, on_record=on_record)
    if fmt == "csv":
        raise UsageError("--resume works with JSONL, SQLite and Parquet outputs, not CSV")
    return JSONLResume(output, retry_failed=retry_failed, on_record=on_record)


class ResumeMismatch(UsageError):
    """``--resume`` with other inputs or options than the run that wrote the output."""


def fingerprint(sources: Sequence[str], options: Mapping[str, Any]) -> dict[str, Any]:
    inputs = []
    for source in sources:
        entry: dict[str, Any] = {"name": source}
        if source != "-" and os.path.isfile(source):
            with open(source, "rb") as f:
                head = f.read(_HEAD)
            entry["size"] = os.path.getsize(source)
            entry["head_sha256"] = hashlib.sha256(head).hexdigest()
        inputs.append(entry)
    return {"version": 1, "inputs": inputs, "options": dict(options)}


def _identity(print_: Any) -> dict[str, Any]:
    """What must match for a resume: a file input by its content (size and the hash of its first
    megabyte), not by the name it was given (``in.txt``, ``/abs/in.txt``, a link to it)."""
    if not isinstance(print_, dict):
        return {}
    inputs = print_.get("inputs")
    if isinstance(inputs, list):
        inputs = [{k: v for k, v in entry.items() if k != "name"}
                  if isinstance(entry, dict) and "head_sha256" in entry else entry for entry in inputs]
    return {**print_, "inputs": inputs}


def sidecar_path(output: str) -> str:
    """Beside a file output; inside a folder output (a Parquet dataset), where readers skip it."""
    if os.path.isdir(output):
        return os.path.join(output, "_multifetch.json")
    return output + ".multifetch.json"


def check_fingerprint(output: str, current: dict[str, Any], force: bool) -> None:
    path = sidecar_path(output)
    try:
        with open(path, encoding="utf-8") as f:
            stored = json.load(f)
    except (OSError, ValueError):
        return
    if _identity(stored) != _identity(current) and not force:
        differs = [k for k in ("inputs", "options") if _identity(stored).get(k) != _identity(current).get(k)]
        raise ResumeMismatch(
            f"{output} was written from other {' and '.join(differs) or 'settings'} than these; "
            "resume with the same command, or add --force to resume anyway"
        )


def write_fingerprint(output: str, current: dict[str, Any]) -> None:
    tmp = sidecar_path(output) + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(current, f, indent=1)
    os.replace(tmp, sidecar_path(output))


def _is_done(error: Any, retry_failed: bool) -> bool:
    if not error:
        return True
    kind = error.get("kind") if isinstance(error, dict) else None
    return kind != ErrorKind.CANCELLED and not retry_failed


class JSONLResume:
    """Resume state of a JSONL output. ``on_record`` is given each record that stays done (the
    job's earlier records, for the progress and the summary)."""

    def __init__(self, output: str, *, retry_failed: bool,
                 on_record: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.output = output
        self.part = output + ".resume-part"
        folder = str(Path(output).resolve().parent)
        self.done = IdSet(folder=folder)
        self.redo = IdSet(folder=folder)
        self.records = 0
        if os.path.exists(self.part):
            self._merge()  # a previous resume stopped before merging: finish its work first
        if not os.path.exists(output):
            return
        end = 0
        for offset, record in jsonl_records(output):
            end = offset
            self.records += 1
            record_id = str(record["id"])
            if _is_done(record.get("error"), retry_failed):
                self.done.add(record_id)
                if on_record is not None:
                    on_record(record)
            else:
                self.redo.add(record_id)
        if os.path.getsize(output) > end:
            with open(output, "r+b") as f:  # cut the line a crash tore
                f.truncate(end)
                f.flush()
                os.fsync(f.fileno())

    @property
    def skip(self) -> Callable[[str], bool]:
        return self.done.__contains__

    @property
    def write_path(self) -> str:
        """Where this run appends: the output itself, or the part file when records get replaced."""
        return self.part if len(self.redo) else self.output

    def finish(self) -> None:
        """Merge the part file into the output (atomically), when there is one."""
        if os.path.exists(self.part):
            self._merge()
        self.done.close()
        self.redo.close()

    def _merge(self) -> None:
        replaced = IdSet(folder=str(Path(self.output).resolve().parent))
        try:
            for _, record in jsonl_records(self.part):
                replaced.add(str(record["id"]))
            tmp = self.output + ".tmp"
            try:
                with open(tmp, "wb") as out:
                    if os.path.exists(self.output):
                        with open(self.output, "rb") as old:
                            for line in old:
                                if not line.endswith(b"\n"):
                                    break
                                if _line_id(line) not in replaced:
                                    out.write(line)
                    with open(self.part, "rb") as part:
                        for line in part:
                            if line.endswith(b"\n"):
                                out.write(line)
                    out.flush()
                    os.fsync(out.fileno())
            except OSError:
                os.unlink(tmp)  # a full disk: give its room back; the part file stays for the next resume
                raise
            os.replace(tmp, self.output)
            os.unlink(self.part)
        finally:
            replaced.close()


def _line_id(line: bytes) -> str | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return str(record.get("id")) if isinstance(record, dict) else None


class SQLiteResume:
    """Resume state of a SQLite output: ids are looked up, rows are replaced in place.
    ``on_record`` is given each row that stays done, read once at the start."""

    def __init__(self, output: str, *, retry_failed: bool,
                 on_record: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.output = output
        self.write_path = output
        self.records = 0
        self._db: Any = None
        self._retry_failed = retry_failed
        if os.path.exists(output):
            import sqlite3  # only SQLite outputs need it: kept off the CLI's start-up path

            # asked by the engine's thread (skip), closed by the caller's once the run is over
            db = sqlite3.connect(f"file:{output}?mode=ro", uri=True, check_same_thread=False)
            try:
                self.records = db.execute("SELECT count(*) FROM results").fetchone()[0]
                self._db = db
            except sqlite3.Error:
                db.close()
        if on_record is not None and self._db is not None:
            for record in read_records(output, "sqlite"):
                if _is_done(record.get("error"), retry_failed):
                    on_record(record)

    @property
    def skip(self) -> Callable[[str], bool]:
        db = self._db
        if db is None:
            return lambda _id: False
        retry_failed = self._retry_failed

        def done(record_id: str) -> bool:
            row = db.execute("SELECT error FROM results WHERE id = ?", (record_id,)).fetchone()
            if row is None:
                return False
            return _is_done(json.loads(row[0]) if row[0] else None, retry_failed)

        return done

    def finish(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
