"""``AsyncClient``: multifetch for asyncio applications.

The engine runs on its own threads; results reach the event loop through a bounded
``asyncio.Queue`` (so a slow consumer holds back the reading of input, never a transfer in flight,
and never the loop), and the loop is never blocked. Cancelling the consuming task stops the run:
no new requests, transfers aborted.

    async with multifetch.AsyncClient(concurrency=100) as client:
        async for result in client.stream(urls):
            ...
        page = await client.get("https://example.org/")
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import AsyncIterator, Iterable
from typing import Any

from ._client import Client
from ._coerce import SpecLike
from .engine._result import Result

_DONE = object()


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class AsyncClient:
    """Takes ``Client``'s options. Use it with ``async with``."""

    def __init__(self, **options: Any) -> None:
        # settings checked now, where the caller can see the error; each stream has a client of its own
        self._model = Client(**options)
        self._idle: list[Client] = []
        self._closed = False

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for client in idle:
            client.close()
        self._model.close()

    async def stream(self, specs: Iterable[SpecLike], *, buffer: int = 256) -> AsyncIterator[Result]:
        """Results as they complete. ``specs`` is a plain iterable, read lazily by the engine."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue(maxsize=buffer)
        stop = threading.Event()
        client = self._model.twin()
        run = client.start(specs)

        def hand_over(item: object) -> bool:
            """Put ``item`` on the loop's queue, waiting for room; False once the consumer left."""
            future = asyncio.run_coroutine_threadsafe(queue.put(item), loop)
            while True:
                try:
                    future.result(timeout=0.2)
                    return True
                except concurrent.futures.TimeoutError:
                    if stop.is_set():
                        future.cancel()
                        return False

        def engine() -> None:
            try:
                for result in run.results():
                    if stop.is_set() or not hand_over(result):
                        return
                hand_over(_DONE)
            except BaseException as exc:
                hand_over(_Failure(exc))
            finally:
                client.close()

        thread = threading.Thread(target=engine, name="multifetch-engine", daemon=True)
        thread.start()
        try:
            while True:
                item = await queue.get()
                if item is _DONE:
                    return
                if isinstance(item, _Failure):
                    raise item.exc
                assert isinstance(item, Result)
                yield item
        finally:
            stop.set()
            run.stop(0)  # the engine thread sees it on its next wake-up (at most 0.5 s)
            await asyncio.to_thread(thread.join, 10)

    async def request(self, method: str, url: str, **kwargs: Any) -> Result:
        """One request, run off the loop; raises like ``Client.request``."""
        client = self._idle.pop() if self._idle else self._model.twin()
        try:
            return await asyncio.to_thread(client.request, method, url, **kwargs)
        finally:
            if self._closed:
                client.close()
            else:
                self._idle.append(client)  # keeps its connections alive for the next call

    async def get(self, url: str, **kwargs: Any) -> Result:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> Result:
        return await self.request("POST", url, **kwargs)
