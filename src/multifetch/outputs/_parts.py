"""A part folder: one result set written as many part files, by many processes at once.

A cluster run's workers write their own records (``multifetch fetch --cluster ... -o results/``)::

    results/
      _manifest.json               the run: format, fingerprint, lane plan; at the end, every part
      part-f00003-l0001-c0000.jsonl  the records of one chunk of input file 3 routed to lane 1
      part-f00003-invalid.jsonl    the records of file 3's inputs that could not be sent
                                   (``.parquet`` parts instead, in a run asked for Parquet)
      _inputs/                     work in progress: the input, split into chunks by lane
      .tmp-*                       a part being written (never read; removed at the end)

**A part is complete when it has its final name**: it is written under a temporary name, fsynced
and renamed (on a local or mounted filesystem), or put as one object (on an object store, where a
put is atomic). A part's name says which input chunk it holds, so a chunk done twice (a worker lost
after it committed, its task run again) replaces its part with the same records: there is never a
duplicate record across parts, and a crash leaves no torn one.

``_manifest.json`` is written by the run's driver at the start (``"complete": false``) and at the
end (``"complete": true`` with each part's name and record count). A reader takes the manifest's
list when the run completed, else every part that has its final name (a partial result). Parts are
read by their extension (``PART_READERS``); a format that writes parts adds its reader there.

Paths are local paths or fsspec URLs (``file://``, ``s3://``, ``gs://``, ...; fsspec is imported
only for URLs).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from typing import IO, Any, cast

MANIFEST = "_manifest.json"
INPUTS = "_inputs"
PART_PREFIX = "part-"
TEMP_PREFIX = ".tmp-"
LAYOUT = "multifetch-parts"
VERSION = 1


def _jsonl_part(folder: PartFolder, name: str) -> Iterator[dict[str, Any]]:
    with folder.open(name) as lines:
        for line in lines:
            if line.endswith(b"\n"):
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict) and "id" in record:
                    yield record


def _parquet_part(folder: PartFolder, name: str) -> Iterator[dict[str, Any]]:
    import pyarrow.parquet as pq  # pyarrow: imported only when a Parquet part is read

    from ._arrow import records_from_batch

    with folder.open(name) as data:
        for batch in pq.ParquetFile(data).iter_batches(batch_size=8192):
            yield from records_from_batch(batch)


#: How each part format is read back: by the part's extension.
PART_READERS: dict[str, Callable[[PartFolder, str], Iterator[dict[str, Any]]]] = {
    ".jsonl": _jsonl_part, ".parquet": _parquet_part}


def is_url(path: str) -> bool:
    return "://" in path


class PartFolder:
    """A part folder at a local path or an fsspec URL."""

    def __init__(self, path: str) -> None:
        self.path = path.rstrip("/") or "/"
        self.local: str | None = None
        self._fs: Any = None
        if path.startswith("file://"):
            self.local = path[len("file://"):].rstrip("/") or "/"
        elif not is_url(path):
            self.local = self.path
        else:
            import fsspec  # only object stores and other remote filesystems need it

            # no listing cache (fsspec's own option, for every filesystem): other processes add parts
            # all the time, and a cached listing would hide them from ls(), exists() and open()
            self._fs, root = fsspec.core.url_to_fs(path, use_listings_cache=False)
            self._root = root.rstrip("/")

    def _full(self, name: str) -> str:
        if self.local is not None:
            return os.path.join(self.local, name)
        return f"{self._root}/{name}"

    def make(self) -> None:
        if self.local is not None:
            os.makedirs(os.path.join(self.local, INPUTS), exist_ok=True)
        else:
            self._fs.makedirs(self._full(INPUTS), exist_ok=True)

    def exists(self) -> bool:
        if self.local is not None:
            return os.path.isdir(self.local)
        return bool(self._fs.isdir(self._root))

    def names(self, under: str = "") -> list[str]:
        """The names of the files directly in the folder (or in its subfolder ``under``)."""
        if self.local is not None:
            try:
                return sorted(e.name for e in os.scandir(os.path.join(self.local, under)) if e.is_file())
            except FileNotFoundError:
                return []
        try:
            found = self._fs.ls(self._full(under) if under else self._root, detail=False)
        except FileNotFoundError:
            return []
        return sorted(str(p).rstrip("/").rsplit("/", 1)[-1] for p in found)

    def parts(self) -> list[str]:
        """Every complete part: the files with a part's final name."""
        return [n for n in self.names()
                if n.startswith(PART_PREFIX) and os.path.splitext(n)[1] in PART_READERS]

    def has(self, name: str) -> bool:
        if self.local is not None:
            return os.path.exists(os.path.join(self.local, name))
        return bool(self._fs.exists(self._full(name)))

    def open(self, name: str) -> IO[bytes]:
        if self.local is not None:
            return open(os.path.join(self.local, name), "rb", buffering=1 << 20)
        return cast(IO[bytes], self._fs.open(self._full(name), "rb"))

    def read_bytes(self, name: str) -> bytes:
        if self.local is not None:
            with open(os.path.join(self.local, name), "rb") as f:
                return f.read()
        return bytes(self._fs.cat_file(self._full(name)))

    def commit(self, name: str, data: bytes) -> None:
        """Write ``name`` whole or not at all (see the module's docstring)."""
        if self.local is None:
            self._fs.pipe_file(self._full(name), data)  # one put: atomic on an object store
            return
        folder, base = os.path.split(os.path.join(self.local, name))
        temp = os.path.join(folder, f"{TEMP_PREFIX}{uuid.uuid4().hex}-{base}")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            os.unlink(temp)
            raise
        os.close(fd)
        os.replace(temp, os.path.join(folder, base))
        dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)  # the rename itself survives a crash
        finally:
            os.close(dir_fd)

    def remove(self, name: str) -> None:
        try:
            if self.local is not None:
                os.unlink(os.path.join(self.local, name))
            else:
                self._fs.rm_file(self._full(name))
        except FileNotFoundError:
            pass

    def remove_work(self) -> None:
        """Remove what only a running run needs: temporary files and the split input."""
        for under in ("", INPUTS):
            for name in self.names(under):
                if name.startswith(TEMP_PREFIX) or under == INPUTS:
                    self.remove(f"{under}/{name}" if under else name)
        if self.local is not None:
            try:
                os.rmdir(os.path.join(self.local, INPUTS))
            except OSError:
                pass

    def clear(self) -> None:
        """Remove a previous run's manifest, parts and work (``--overwrite``); nothing else."""
        self.remove_work()
        for name in self.parts():
            self.remove(name)
        self.remove(MANIFEST)

    def manifest(self) -> dict[str, Any] | None:
        try:
            value = json.loads(self.read_bytes(MANIFEST))
        except (OSError, ValueError):
            return None
        return value if isinstance(value, dict) and value.get("layout") == LAYOUT else None

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        self.commit(MANIFEST, json.dumps({"layout": LAYOUT, "version": VERSION, **manifest},
                                         indent=1).encode())


def is_part_output(output: str | None, fmt: str | None = None) -> bool:
    """Whether ``-o`` names a part folder (with ``--cluster``): a path ending in ``/``, an fsspec
    URL, or a part folder of an earlier run; an existing folder too, unless it is a Parquet output
    (it holds that output's marker file, or it is asked for as Parquet without the ``/``: a
    ``NAME.parquet`` folder the driver writes, as without ``--cluster``)."""
    if output is None or output == "-":
        return False
    if is_url(output):
        return True
    if os.path.exists(os.path.join(output, "_multifetch.json")):
        return False
    if output.endswith("/") or os.path.exists(os.path.join(output, MANIFEST)):
        return True
    parquet = fmt == "parquet" or output.lower().endswith(".parquet")
    return os.path.isdir(output) and not parquet


def is_part_folder(path: str) -> bool:
    """Whether ``path`` is a part folder (a folder with a manifest)."""
    if not is_url(path) and not os.path.isdir(path):
        return False
    try:
        return PartFolder(path).manifest() is not None
    except (OSError, ValueError, ImportError):
        return False


def read_part_folder(path: str) -> Iterator[dict[str, Any]]:
    """Every record of the part folder ``path``, part after part, as one result set.

    The parts the manifest lists when the run completed; otherwise every complete part.
    """
    folder = PartFolder(path)
    manifest = folder.manifest()
    if manifest is None:
        raise FileNotFoundError(f"{path}: not a part folder (no {MANIFEST})")
    listed = manifest.get("parts")
    if manifest.get("complete") and isinstance(listed, list):
        names = [str(p["name"]) for p in listed]
    else:
        names = folder.parts()
    for name in names:
        reader = PART_READERS.get(os.path.splitext(name)[1])
        if reader is not None:
            yield from reader(folder, name)
