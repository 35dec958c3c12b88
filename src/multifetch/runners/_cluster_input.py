"""Input at scale: the driver lists the input files, the workers read and split them.

``list_inputs`` turns the command's sources (files, folders, globs, fsspec URLs of any of these)
into a sorted list of files; the driver reads nothing else. ``split_file`` runs on a worker: it
reads one file and routes each input to its lane (``LanePlan``), writing the requests of each lane
in chunks under the part folder's ``_inputs/``; the records of inputs that cannot be sent are
written there and then, as the file's ``invalid`` part. A file's split is committed last, by a
small marker listing its chunks, so a split cut short by a lost worker (or driver) is done again
whole, and gives the same chunks (the same names, the same requests).

Ids: a spec's own ``id``, else ``NAME:LINE`` — the file's name (relative to the folder or glob it
was found by) and its line number: stable for the same input, unique across files.
"""

from __future__ import annotations

import glob
import io
import json
import os
import pickle
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from .._errors import UsageError
from ..engine._job import invalid_job
from ..inputs._idset import IdSet
from ..inputs._sources import InputError, RequestDefaults, _csv_items, _line_items, _open, is_url
from ..inputs._spec import InvalidSpec, Request
from ..inputs._urls import origin_of
from ..outputs._parts import INPUTS, PartFolder
from ..report._summary import SummaryBuilder
from ._cluster_plan import LanePlan
from ._cluster_records import PART_EXTENSIONS, part_records
from ._record_maker import RecordMaker

_GLOB = frozenset("*?[")


@dataclass(frozen=True, slots=True)
class InputFile:
    """One input file: ``index`` (its place in the listing) names its chunks and parts."""

    index: int
    url: str
    name: str
    size: int = 0


@dataclass(frozen=True, slots=True)
class Chunk:
    lane: int
    name: str  # under _inputs/; its records go to the part ``part_name(name, fmt)``
    count: int


@dataclass(slots=True)
class Split:
    """What a worker made of one input file; sent back to the driver (small)."""

    index: int
    chunks: list[Chunk] = field(default_factory=list)
    invalid: int = 0
    invalid_part: str | None = None
    summary: SummaryBuilder | None = None  # of the invalid records, when this split made them

    @property
    def inputs(self) -> int:
        return self.invalid + sum(c.count for c in self.chunks)


def marker_name(index: int) -> str:
    return f"{INPUTS}/f{index:05d}.json"


def list_inputs(sources: Sequence[str]) -> list[InputFile]:
    """The files of ``sources`` in a stable order; ``InputError`` for one that names nothing."""
    found: list[tuple[str, str, int]] = []
    for source in sources:
        if source == "-" or (is_url(source) and not _is_fsspec(source)):
            raise UsageError(f"{source}: a part-folder run reads its inputs on the workers: give files, "
                             "folders or globs they can reach, not stdin or URLs")
        found.extend(_fsspec_files(source) if _is_fsspec(source) else _local_files(source))
    names = [name for _, name, _ in found]
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})[0]
        raise UsageError(f"two input files are both called {twice!r}: their ids would collide; "
                         "give the folders that hold them instead")
    return [InputFile(i, url, name, size) for i, (url, name, size) in enumerate(found)]


def _is_fsspec(source: str) -> bool:
    return "://" in source and not is_url(source)


def _local_files(source: str) -> list[tuple[str, str, int]]:
    if _GLOB.intersection(source):
        paths = sorted(p for p in glob.glob(source, recursive=True) if os.path.isfile(p))
        root = _glob_root(source)
        if not paths:
            raise InputError(f"{source}: no file matches")
        return [(os.path.abspath(p), os.path.relpath(p, root), os.path.getsize(p)) for p in paths]
    if os.path.isdir(source):
        files: list[str] = []
        for folder, dirs, names in os.walk(source):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            files.extend(os.path.join(folder, n) for n in sorted(names) if not n.startswith("."))
        if not files:
            raise InputError(f"{source}: the folder holds no input file")
        return [(os.path.abspath(p), os.path.relpath(p, source), os.path.getsize(p)) for p in files]
    if not os.path.isfile(source):
        raise InputError(f"{source}: no such file")
    return [(os.path.abspath(source), source, os.path.getsize(source))]


def _glob_root(pattern: str) -> str:
    head = []
    for piece in pattern.split(os.sep):
        if _GLOB.intersection(piece):
            break
        head.append(piece)
    return os.sep.join(head) or "."


def _fsspec_files(source: str) -> list[tuple[str, str, int]]:
    import fsspec

    try:
        fs, path = fsspec.core.url_to_fs(source)
        protocol = source.split("://", 1)[0]
        if _GLOB.intersection(path):
            root, paths = _glob_root(path), sorted(fs.glob(path))
        elif fs.isdir(path):
            root, paths = path, sorted(fs.find(path))
        else:
            root, paths = path.rsplit("/", 1)[0], [path]
        infos = [(p, fs.info(p)) for p in paths]
    except (OSError, ValueError, ImportError) as exc:
        raise InputError(f"{source}: cannot list: {exc}") from None
    files = [(f"{protocol}://{p}", p[len(root):].lstrip("/") or p.rsplit("/", 1)[-1],
              int(info.get("size") or 0)) for p, info in infos if info.get("type") == "file"]
    if not files:
        raise InputError(f"{source}: no input file there")
    return files


def _items(source: InputFile, defaults: RequestDefaults,
           template: str | None) -> Iterator[Request | InvalidSpec]:
    prefix = f"{source.name}:"
    own_ids = IdSet()
    try:
        with _open_input(source) as stream:
            if template is not None or source.name.endswith((".csv", ".csv.gz")):
                yield from _csv_items(stream, source.name, prefix, template, defaults)
            else:
                yield from _line_items(stream, source.name, prefix, defaults, own_ids)
    finally:
        own_ids.close()


def _open_input(source: InputFile) -> IO[bytes]:
    if not _is_fsspec(source.url) or source.url.startswith("file://"):
        return _open(source.url.removeprefix("file://"), None)
    import fsspec

    raw: Any = fsspec.open(source.url, "rb", compression="infer").open()
    return io.BufferedReader(raw, 1 << 20) if not isinstance(raw, io.BufferedReader) else raw


def split_file(source: InputFile, folder_path: str, plan: LanePlan, chunk: int, defaults: RequestDefaults,
               template: str | None, maker: RecordMaker, fmt: str = "jsonl") -> Split:
    """Read ``source`` and write its requests to chunks by lane (on a worker); see the module.

    ``fmt``: the format of the part folder's parts (its ``invalid`` part is one of them)."""
    folder = PartFolder(folder_path)
    done = committed_split(folder, source.index)
    if done is not None:
        return done
    split = Split(source.index)
    waiting: dict[int, list[Request]] = {}
    made: dict[int, int] = {}  # lane -> chunks written
    invalid = part_records(maker, fmt)
    for item in _items(source, defaults, template):
        if isinstance(item, InvalidSpec):
            invalid.add(invalid_job(item, 0))
            continue
        lane = plan.lane_of(origin_of(item.url), item.id or "")
        batch = waiting.setdefault(lane, [])
        batch.append(item)
        if len(batch) >= chunk:
            split.chunks.append(_write_chunk(folder, source.index, lane, made, batch))
            waiting[lane] = []
    for lane, batch in sorted(waiting.items()):
        if batch:
            split.chunks.append(_write_chunk(folder, source.index, lane, made, batch))
    if invalid.count:
        split.invalid = invalid.count
        split.invalid_part = f"part-f{source.index:05d}-invalid{PART_EXTENSIONS[fmt]}"
        folder.commit(split.invalid_part, invalid.data())
        split.summary = invalid.summary
    marker = {"index": split.index, "invalid": split.invalid, "invalid_part": split.invalid_part,
              "chunks": [[c.lane, c.name, c.count] for c in split.chunks]}
    folder.commit(marker_name(source.index), json.dumps(marker).encode())
    return split


def _write_chunk(folder: PartFolder, index: int, lane: int, made: dict[int, int],
                 batch: list[Request]) -> Chunk:
    number = made.get(lane, 0)
    made[lane] = number + 1
    name = f"f{index:05d}-l{lane:04d}-c{number:05d}.pickle"
    folder.commit(f"{INPUTS}/{name}", pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL))
    return Chunk(lane, name, len(batch))


def committed_split(folder: PartFolder, index: int) -> Split | None:
    """The split of file ``index`` a previous run (or attempt) committed, if any."""
    try:
        marker = json.loads(folder.read_bytes(marker_name(index)))
    except (OSError, ValueError):
        return None
    return Split(index, [Chunk(int(lane), str(name), int(count)) for lane, name, count in marker["chunks"]],
                 int(marker["invalid"]), marker.get("invalid_part"))

