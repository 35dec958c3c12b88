"""Lines of bounded length: an input line longer than ``MAX_LINE`` is skipped in constant memory.

Reading a line whole would hold all of it, so one line without a newline (gigabytes of stdin, an
endless stream) would exhaust memory. Here a line is read up to ``MAX_LINE``; the rest of a longer
one is read in small pieces and dropped, and the line is reported as ``TooLong`` (its size and its
first bytes), so it still gets its record and the lines after it are read as usual.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

MAX_LINE = 1 << 20  #: bytes (characters, for CSV) in one input line: documented in the README
_PIECE = 1 << 16
_HEAD = 200  # of a skipped line, kept for its record


@dataclass(frozen=True, slots=True)
class TooLong:
    """A line longer than ``MAX_LINE``: its size (the newline included) and its first characters."""

    size: int
    head: str
    unit: str = "bytes"

    def message(self) -> str:
        return f"line is longer than {MAX_LINE:,} {self.unit} ({self.size:,}): skipped"


class LineTooLong(Exception):
    """Raised by ``TextLines`` for a line longer than ``MAX_LINE``; the line has been skipped."""

    def __init__(self, line: TooLong) -> None:
        super().__init__(line.message())
        self.line = line


def byte_lines(stream: IO[bytes]) -> Iterator[bytes | TooLong]:
    """Each line of ``stream`` (with its newline), or ``TooLong`` for one over ``MAX_LINE``."""
    readline = stream.readline
    while True:
        line = readline(MAX_LINE + 1)
        if len(line) <= MAX_LINE or line.endswith(b"\n"):
            if not line:
                return
            yield line
            continue
        size = len(line)
        while True:
            piece = readline(_PIECE)
            size += len(piece)
            if not piece or piece.endswith(b"\n"):
                break
        yield TooLong(size, line[:_HEAD].decode("utf-8", "replace"))


class TextLines:
    """The lines of a text stream for ``csv.reader``, counted; a line over ``MAX_LINE`` characters is
    skipped and raises ``LineTooLong`` (the reader passes it on, and reads on after it)."""

    def __init__(self, text: IO[str]) -> None:
        self._readline = text.readline
        self.count = 0  #: lines read so far: the number of the last one

    def __iter__(self) -> TextLines:
        return self

    def __next__(self) -> str:
        line = self._readline(MAX_LINE + 1)
        if not line:
            raise StopIteration
        self.count += 1
        if len(line) <= MAX_LINE or line.endswith(("\n", "\r")):
            return line
        size = len(line)
        while True:
            piece = self._readline(_PIECE)
            size += len(piece)
            if not piece or piece.endswith(("\n", "\r")):
                break
        raise LineTooLong(TooLong(size, line[:_HEAD], "characters"))
