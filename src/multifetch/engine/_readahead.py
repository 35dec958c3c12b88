"""The input read ahead on a thread of its own, so a slow input never holds the engine.

The input is the caller's: a file, stdin fed by another program, a generator waiting on a database.
Read in the engine's thread, a pause there would stop every transfer in flight, and they could
time out although their servers answered. Here a daemon thread reads up to ``capacity`` items
ahead; the engine takes them without ever blocking (``NOT_READY`` when none is there yet), and the
reader wakes the engine when it brings one to an engine that found none.

An exception raised by the input (a malformed file) reaches the engine after every item read
before it, at the place it would have been raised without the thread.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

from ._input import NOT_READY, NotReady

T = TypeVar("T")


class ReadAhead(Generic[T]):
    def __init__(self, items: Iterable[T], capacity: int, wake: Callable[[], None]) -> None:
        self._source = iter(items)
        self._items: deque[T] = deque()
        self._capacity = max(2, capacity)
        self._wake = wake  # ends the engine's wait for the network
        self._cond = threading.Condition(threading.Lock())
        self._reader_waiting = False  # the reader waits for the engine to take items
        self._starved = False  # the engine found nothing and waits to be woken
        self._end = False  # the input ended (or failed): nothing more will be appended
        self._failure: BaseException | None = None
        self._closed = False
        self._thread: threading.Thread | None = None

    def __iter__(self) -> Iterator[T | NotReady]:
        return self._take()

    def close(self) -> None:
        """The engine will take nothing more: let the reader go (it may be blocked in the input)."""
        self._closed = True
        with self._cond:
            self._cond.notify()

    # -- the engine's side --------------------------------------------------------------------------

    def _take(self) -> Iterator[T | NotReady]:
        items = self._items
        popleft = items.popleft
        half = self._capacity // 2
        cond = self._cond
        if self._thread is None:
            self._thread = threading.Thread(target=self._read, name="multifetch-input", daemon=True)
            self._thread.start()
        while True:
            if items:
                item = popleft()
                if self._reader_waiting and len(items) < half:
                    with cond:
                        cond.notify()
                yield item
                continue
            # Said before looking again: an item appended after this look finds the flag set
            # and wakes the engine.
            self._starved = True
            end = self._end  # read before the items: once set, every item is in
            if items:
                self._starved = False
                continue
            if end:
                if self._failure is not None:
                    raise self._failure
                return
            yield NOT_READY

    # -- the reader's side ----------------------------------------------------------------------------

    def _read(self) -> None:
        items = self._items
        append = items.append
        capacity = self._capacity
        half = capacity // 2
        cond = self._cond
        try:
            for item in self._source:
                append(item)
                if self._starved:
                    self._starved = False
                    self._wake()
                if len(items) >= capacity:
                    with cond:
                        self._reader_waiting = True
                        while len(items) >= half and not self._closed:
                            cond.wait()
                        self._reader_waiting = False
                if self._closed:
                    return
        except BaseException as exc:  # handed to the engine, after the items read before it
            self._failure = exc
        finally:
            self._end = True
            if not self._closed:
                self._wake()
