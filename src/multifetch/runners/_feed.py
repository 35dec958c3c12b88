"""The input as the engine-process and cluster runners read it, before any engine sees it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ..engine._input import NotReady
from ..engine._job import invalid_job
from ..engine._result import Result
from ..inputs._spec import InvalidSpec, Request


class Feed:
    """Each input's position and id; ids to ``skip`` (resume) passed over; the records of inputs
    that cannot be sent made here, in their place in the input."""

    def __init__(self, specs: Iterator[Request | InvalidSpec | NotReady],
                 skip: Callable[[str], bool] | None = None) -> None:
        self._specs = specs
        self._skip = skip
        self.read = 0  # inputs read: the next one's position
        self.exhausted = False  # the input has ended

    def take(self, records: list[tuple[int, Result]], room: int) -> tuple[int, Request] | None:
        """The next request to send, with its position; records of invalid inputs go to ``records``.

        None when the input has nothing now (or has ended: ``exhausted``), or when ``records``
        holds ``room``: the caller hands those out before reading on.
        """
        skip = self._skip
        while len(records) < room:
            item = next(self._specs, None)
            if item is None:
                self.exhausted = True
                return None
            if isinstance(item, NotReady):
                return None
            position = self.read
            self.read += 1
            if isinstance(item, InvalidSpec):
                if skip is None or not skip(item.id):
                    records.append((position, invalid_job(item, position).to_result()))
                continue
            if item.id is None:
                item = item.with_id(str(position))
            if skip is None or not skip(item.id or ""):
                return position, item
        return None
