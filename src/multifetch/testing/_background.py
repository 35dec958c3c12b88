"""An asyncio server run from a background thread (or in the foreground): the base of the test servers."""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Callable
from typing import Self


class Service:
    """Something a test starts and stops: ``start()``/``stop()``, or ``with``."""

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


class BackgroundServer(Service):
    """Subclasses implement ``_connection``; ``start()``/``stop()`` (or ``with``) run it in a thread,
    ``await serve()`` runs it in the caller's loop."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, ssl_context: ssl.SSLContext | None = None):
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self.serve(lambda _url: self._ready.set())),
            name=type(self).__name__, daemon=True,
        )
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError(f"{type(self).__name__} did not start")

    def stop(self) -> None:
        if self._loop is not None and self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
        if self._thread is not None:
            self._thread.join(10)

    async def serve(self, on_ready: Callable[[str], None] | None = None) -> None:
        """Serve until cancelled; ``on_ready(url)`` is called once listening."""
        self._loop = asyncio.get_running_loop()
        self._server = await asyncio.start_server(
            self._connection, self.host, self.port, ssl=self.ssl_context, backlog=4096, limit=1 << 20
        )
        self.port = self._server.sockets[0].getsockname()[1]
        if on_ready is not None:
            on_ready(self.url)
        async with self._server:
            try:
                await self._server.serve_forever()
            except asyncio.CancelledError:
                pass
