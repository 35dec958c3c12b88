"""The fault server: raw asyncio sockets that misbehave on purpose, one script per path.

A script is a list of steps run against the connection once the request head has arrived::

    ("send", b"bytes")        write bytes
    ("sleep", seconds)        wait
    ("trickle", b"bytes", s)  write one byte every s seconds
    ("hang",)                 wait until the client gives up
    ("close",)                close the connection (FIN)
    ("reset",)                abort the connection (RST)

    with FaultServer({"/truncated": [("send", b"HTTP/1.1 200 OK\\r\\nContent-Length: 100\\r\\n\\r\\nshort"),
                                     ("close",)]}) as faults:
        faults.url + "/truncated"
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Mapping, Sequence
from typing import Any

from ._background import BackgroundServer

Step = tuple[Any, ...]

#: Scripts every fault server knows, on top of the ones it is given.
STANDARD: dict[str, list[Step]] = {
    "/garbage": [("send", b"this is not HTTP at all\r\n\r\n"), ("close",)],
    "/empty": [("close",)],
    "/reset": [("reset",)],
    "/hang": [("hang",)],
    "/truncated": [
        ("send", b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly twenty bytes...."),
        ("close",),
    ],
    "/bad-chunked": [
        ("send", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n"),
        ("close",),
    ],
    "/bad-gzip": [
        ("send", b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 12\r\n\r\nnot gzip!!!!"),
        ("close",),
    ],
    "/slow-body": [
        ("send", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"),
        ("trickle", b"abcde", 0.5),
    ],
    "/stall-body": [
        ("send", b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nsome"),
        ("hang",),
    ],
}


class FaultServer(BackgroundServer):
    """Serves ``scripts`` (path → steps) on 127.0.0.1 from a background thread."""

    def __init__(self, scripts: Mapping[str, Sequence[Step]] | None = None, host: str = "127.0.0.1"):
        super().__init__(host)
        self.scripts = {**STANDARD, **(scripts or {})}
        self.connections = 0

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1].decode("latin-1").split("?")[0]
            steps = self.scripts.get(path, [("send", b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")])
            for step in steps:
                await self._step(step, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                asyncio.CancelledError):
            pass  # the peer left, or the server is shutting down
        finally:
            if not writer.is_closing():
                writer.close()

    async def _step(self, step: Step, writer: asyncio.StreamWriter) -> None:
        action = step[0]
        if action == "send":
            writer.write(step[1])
            await writer.drain()
        elif action == "sleep":
            await asyncio.sleep(step[1])
        elif action == "trickle":
            for byte in step[1]:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(step[2])
        elif action == "hang":
            await asyncio.sleep(3600)
        elif action == "close":
            writer.close()
        elif action == "reset":
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
