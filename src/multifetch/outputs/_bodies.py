"""Where response bodies go while they arrive: memory, a running hash, or a file under a folder.

Each writer's ``write`` is libcurl's write callback: it runs once per received chunk, so it does
the least work it can. A body is never held whole unless the caller asked for it in memory.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING

from .._errors import UsageError

if TYPE_CHECKING:
    from collections.abc import Callable
    from concurrent.futures import ThreadPoolExecutor

_FILE_BLOCK = 1 << 20  # bytes gathered before each write to a saved body, at most
_GATHERED = 64 << 20  # bytes gathered by all the bodies saved at once, at most: more bodies, smaller blocks
_MIN_BLOCK = 64 << 10
_BLOCKS_QUEUED = 16  # blocks handed to the disk threads and not yet stored, all bodies together
_DISK_THREADS = max(2, min(4, os.cpu_count() or 1))
_disk_lock = threading.Lock()
_disk_pool: ThreadPoolExecutor | None = None
_room = threading.Semaphore(_BLOCKS_QUEUED)  # bounds the memory of saved bodies, however many


def _disk() -> ThreadPoolExecutor:
    """The disk threads, shared by every saved body (started when the first block is stored)."""
    global _disk_pool
    with _disk_lock:
        if _disk_pool is None:
            from concurrent.futures import ThreadPoolExecutor  # only when bodies are saved

            _disk_pool = ThreadPoolExecutor(max_workers=_DISK_THREADS, thread_name_prefix="multifetch-disk")
        return _disk_pool


class _Chain:
    """One body's blocks, stored in order by whichever disk thread is free.

    SHA-256 and write() release the GIL, so the disk threads take the other cores while the event
    loop goes on. A body's blocks never run concurrently (the hash and the file are sequential),
    but after each block the body goes to the back of the pool's queue, so bodies take turns and
    no thread sits idle while another has a backlog.
    """

    __slots__ = ("_blocks", "_busy", "_failure", "_ready", "_store")

    def __init__(self, store: Callable[[list[bytes]], None]) -> None:
        self._store = store
        self._blocks: deque[list[bytes]] = deque()  # the first one is being stored when _busy
        self._busy = False
        self._ready = threading.Condition(threading.Lock())
        self._failure: Exception | None = None

    def put(self, block: list[bytes]) -> None:
        """Queue a block (waits while the disk threads are _BLOCKS_QUEUED behind); raise their error."""
        _room.acquire()
        with self._ready:
            if self._failure is not None:
                _room.release()
                raise self._failure
            self._blocks.append(block)
            if not self._busy:
                self._busy = True
                _disk().submit(self._store_next)

    def wait(self) -> None:
        """Return when every queued block is stored; raise a disk thread's error."""
        with self._ready:
            while self._busy:
                self._ready.wait()
            if self._failure is not None:
                raise self._failure

    def _store_next(self) -> None:  # on a disk thread
        failure = None
        try:
            self._store(self._blocks[0])
        except Exception as exc:  # handed to the event loop: OSError aborts the transfer
            failure = exc
        with self._ready:
            self._blocks.popleft()
            if failure is not None:
                self._failure = failure
                if self._blocks:
                    _room.release(len(self._blocks))
                self._blocks.clear()  # nothing after a failed block can be stored
            _room.release()
            if self._blocks:
                _disk().submit(self._store_next)
            else:
                self._busy = False
            self._ready.notify_all()


_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def safe_name(job_id: str) -> str:
    """A file name for ``job_id`` that cannot leave its folder or collide with another id's.

    Ids made only of ``[A-Za-z0-9._-]`` (up to 100, not starting with a dot) are used as they are;
    any other id becomes ``h-`` and the SHA-256 of the id, so distinct ids keep distinct names.
    """
    if _SAFE_ID.match(job_id) and not job_id.startswith("h-") and not job_id.endswith((".part", ".meta")):
        return job_id
    return "h-" + hashlib.sha256(job_id.encode("utf-8", "surrogatepass")).hexdigest()


class MemoryBody:
    """Keeps the body in memory (the Python API's default, as requests does)."""

    __slots__ = ("_chunks", "size")

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self._chunks.append(chunk)
        self.size += len(chunk)

    def finish(self) -> tuple[bytes | None, str | None, str | None]:
        """(content, sha256 or None when derivable, body_path)."""
        return b"".join(self._chunks), None, None

    def abort(self) -> None:
        self._chunks.clear()


class HashBody:
    """Keeps only the size and SHA-256 (the CLI's default): constant memory per transfer."""

    __slots__ = ("_hash", "size")

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self._hash.update(chunk)
        self.size += len(chunk)

    def finish(self) -> tuple[bytes | None, str | None, str | None]:
        return None, self._hash.hexdigest(), None

    def abort(self) -> None:
        pass


class FileBody:
    """Streams the body to ``<dir>/<safe name>.part`` and renames it when complete.

    The file is opened only when the first byte arrives (failed requests cost no file), with
    O_EXCL and O_NOFOLLOW so a planted symlink is never written through. The answer's validator
    (ETag or Last-Modified) is kept in ``<name>.part.meta`` while the file is partial, so that an
    interrupted download continues with ``Range`` + ``If-Range`` next time (``resume_point``); if
    the server answers with the whole body instead of 206, the file starts over.
    """

    __slots__ = ("_buffer", "_buffered", "_fd", "_final", "_hash", "_meta", "_part", "_pending", "_resumed",
                 "block", "error", "raw_headers", "size")

    def __init__(self, folder: Path, job_id: str, block: int = _FILE_BLOCK) -> None:
        name = safe_name(job_id)
        self.block = block
        self._final = folder / name
        self._part = folder / (name + ".part")
        self._meta = folder / (name + ".part.meta")
        self._hash = hashlib.sha256()
        self._fd = -1
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._pending = _Chain(self._store)  # blocks handed to the disk threads
        self._resumed = 0  # bytes already on disk from an interrupted download (206)
        self.size = 0
        self.error: OSError | None = None
        self.raw_headers: list[bytes] = []  # the transport's header lines: status and validator

    def resume_point(self) -> tuple[int, str] | None:
        """``(bytes already saved, validator)`` of an interrupted download of this id, if any."""
        try:
            validator = self._meta.read_text(encoding="utf-8").strip()
            offset = os.lstat(self._part).st_size
        except OSError:
            return None
        return (offset, validator) if offset > 0 and validator else None

    def write(self, chunk: bytes) -> int | None:
        # libcurl hands bodies over 16 KB at a time (whatever BUFFERSIZE says). They are gathered
        # into blocks, which the disk threads hash and write (see _Chain).
        self._buffer.append(chunk)
        self._buffered += len(chunk)
        self.size += len(chunk)
        if self._buffered >= self.block:
            try:
                self._hand_over()
            except OSError as exc:
                self.error = exc
                return 0  # tells libcurl to abort the transfer (CURLE_WRITE_ERROR)
        return None

    def _hand_over(self) -> None:
        """Queue the gathered block for the disk threads (waits when too many are queued)."""
        block = self._buffer
        self._buffer = []
        self._buffered = 0
        self._pending.put(block)

    def _drain(self) -> None:
        """Wait for every queued block; raise the first error."""
        self._pending.wait()

    def _store(self, chunks: list[bytes]) -> None:  # on the disk thread
        if self._fd < 0:
            self._open()
        if not chunks:
            return
        block = b"".join(chunks)
        self._hash.update(block)
        view = memoryview(block)
        while view:
            written = os.write(self._fd, view)  # apart: compiled, a call inside a slice ran twice
            view = view[written:]

    def _answer(self) -> tuple[int, str | None]:
        status, etag, modified = 0, None, None
        for raw in self.raw_headers:
            line = raw.decode("latin-1").strip()
            if line.startswith("HTTP/"):
                parts = line.split()
                status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
                etag = modified = None
            elif ":" in line:
                key, _, value = line.partition(":")
                if key.lower() == "etag":
                    etag = value.strip()
                elif key.lower() == "last-modified":
                    modified = value.strip()
        return status, etag or modified

    def _open(self) -> None:
        status, validator = self._answer()
        flags = os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC
        if status == 206 and self.resume_point() is not None:
            with open(self._part, "rb") as done:  # the hash must cover the whole body
                for block in iter(lambda: done.read(1 << 20), b""):
                    self._hash.update(block)
                    self._resumed += len(block)
            self._fd = os.open(self._part, flags | os.O_APPEND)
            return
        for stale in (self._part, self._meta):
            try:
                os.unlink(stale)  # a leftover from an interrupted run; unlink never follows links
            except FileNotFoundError:
                pass
        self._fd = os.open(self._part, flags | os.O_CREAT | os.O_EXCL, 0o644)
        if validator and not validator.startswith("W/"):
            fd = os.open(self._meta, flags | os.O_CREAT | os.O_EXCL, 0o644)
            with os.fdopen(fd, "w", encoding="utf-8") as meta:
                meta.write(validator)

    def finish(self) -> tuple[bytes | None, str | None, str | None]:
        if self.size == 0 and self._fd < 0 and self._answer()[0] == 304:
            return None, None, None  # Not Modified (--since): the file saved before stays as it is
        try:
            self._hand_over()  # the last block; an empty body still gets its (empty) file
        finally:
            self._drain()
        self.size += self._resumed
        self._resumed = 0
        os.close(self._fd)
        self._fd = -1
        os.replace(self._part, self._final)
        try:
            os.unlink(self._meta)
        except FileNotFoundError:
            pass
        return None, self._hash.hexdigest(), str(self._final)

    def abort(self) -> None:
        """An attempt failed: drop what it wrote, unless it can be continued with Range later."""
        try:
            if self._buffer and self.error is None:
                self._hand_over()  # all that arrived counts for a later Range request
            self._drain()
        except OSError:
            pass
        self._buffer = []
        self._buffered = 0
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
            if self.resume_point() is None:
                try:
                    os.unlink(self._part)
                except OSError:
                    pass


BodyWriter = MemoryBody | HashBody | FileBody


def check_folder(path: str | os.PathLike[str]) -> None:
    """Refuse (``UsageError``) a bodies folder that names something other than a folder."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise UsageError(f"bodies folder {str(path)!r} exists and is not a folder")


class BodyStore:
    """Which writer each transfer gets: ``"memory"``, ``"hash"``, or a folder path.

    ``concurrency`` (transfers at once) sizes the blocks saved bodies are gathered in: 1 MB each
    up to 64 bodies at once, smaller beyond (down to 64 KB), so memory stays bounded.
    """

    def __init__(self, mode: str | os.PathLike[str], concurrency: int = 1) -> None:
        self.block = max(_MIN_BLOCK, min(_FILE_BLOCK, _GATHERED // max(1, concurrency)))
        self.folder: Path | None = None
        if mode in ("memory", "hash"):
            self.mode = str(mode)
        else:
            self.mode = "files"
            self.folder = Path(mode)
            check_folder(self.folder)
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                why = exc.strerror or exc
                raise UsageError(f"cannot make the bodies folder {str(mode)!r}: {why}") from None

    def writer(self, job_id: str) -> BodyWriter:
        if type(job_id) is not str and getattr(job_id, "engine_own", False):
            return MemoryBody()  # a request the engine makes for itself (robots.txt): read, not kept
        if self.mode == "hash":
            return HashBody()
        if self.mode == "memory":
            return MemoryBody()
        assert self.folder is not None
        return FileBody(self.folder, job_id, self.block)
