"""aiohttp + uvloop: one ClientSession, TCPConnector(limit=N), a Semaphore-bounded gather."""

import asyncio
import sys

import aiohttp
import uvloop


async def main(urls: list[str], n: int) -> int:
    sem = asyncio.Semaphore(n)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=n)) as session:
        async def one(url: str) -> int:
            async with sem, session.get(url) as r:
                await r.read()
                return r.status

        codes = await asyncio.gather(*(one(u) for u in urls))
    return codes.count(200)


print(uvloop.run(main(open(sys.argv[1]).read().split(), int(sys.argv[2]))))
