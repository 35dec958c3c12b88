"""httpx AsyncClient with Limits(max_connections=N) and a Semaphore."""

import asyncio
import sys

import httpx


async def main(urls: list[str], n: int) -> int:
    sem = asyncio.Semaphore(n)
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        async def one(url: str) -> int:
            async with sem:
                return (await client.get(url)).status_code

        codes = await asyncio.gather(*(one(u) for u in urls))
    return codes.count(200)


print(asyncio.run(main(open(sys.argv[1]).read().split(), int(sys.argv[2]))))
