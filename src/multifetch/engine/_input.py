"""What the engine reads: requests, invalid specs (they get their record at once), and ``NOT_READY``."""

from __future__ import annotations

from collections.abc import Iterator

from ..inputs._spec import InvalidSpec, Request


class NotReady:
    """Yielded by an input that has nothing yet but has not ended (an engine process's feed)."""


NOT_READY = NotReady()
Input = Iterator[Request | InvalidSpec | NotReady]
