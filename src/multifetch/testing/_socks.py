"""A minimal SOCKS5 proxy (RFC 1928, no authentication, CONNECT only) for proxy tests."""

from __future__ import annotations

import asyncio
import socket
import struct

from ._background import BackgroundServer


class Socks5Proxy(BackgroundServer):
    """``with Socks5Proxy() as proxy:`` relays CONNECTs on ``proxy.url``; ``connects`` counts them."""

    def __init__(self) -> None:
        super().__init__()
        self.connects = 0

    @property
    def url(self) -> str:
        return f"socks5h://{self.host}:{self.port}"

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            _version, methods = await reader.readexactly(2)
            await reader.readexactly(methods)
            writer.write(b"\x05\x00")  # no authentication
            _ver, command, _rsv, kind = await reader.readexactly(4)
            if kind == 1:
                host = socket.inet_ntoa(await reader.readexactly(4))
            elif kind == 3:
                host = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
            else:
                host = socket.inet_ntop(socket.AF_INET6, await reader.readexactly(16))
            (port,) = struct.unpack("!H", await reader.readexactly(2))
            if command != 1:
                writer.write(b"\x05\x07\x00\x01" + bytes(6))
                return
            if host.endswith(".test") or host.endswith(".invalid"):
                host = "127.0.0.1"  # names of the tests' make-believe hosts resolve here
            try:
                up_reader, up_writer = await asyncio.open_connection(host, port)
            except OSError:
                writer.write(b"\x05\x05\x00\x01" + bytes(6))  # connection refused
                return
            self.connects += 1
            writer.write(b"\x05\x00\x00\x01" + bytes(6))
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()
