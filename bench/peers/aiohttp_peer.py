"""aiohttp + uvloop: one ClientSession, TCPConnector(limit=N), a Semaphore-bounded gather.

aiohttp speaks HTTP/1.1 only; over HTTPS the connector gets an SSLContext loaded with the CA file.
"""

import asyncio
import ssl
import sys

import aiohttp
import uvloop


async def main(urls: list[str], n: int, cafile: str | None) -> int:
    sem = asyncio.Semaphore(n)
    tls = ssl.create_default_context(cafile=cafile) if cafile else True
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=n, ssl=tls)) as session:
        async def one(url: str) -> int:
            async with sem, session.get(url) as r:
                await r.read()
                return r.status

        codes = await asyncio.gather(*(one(u) for u in urls))
    return codes.count(200)


print(uvloop.run(main(open(sys.argv[1]).read().split(), int(sys.argv[2]),
                      sys.argv[3] if len(sys.argv) > 3 else None)))
