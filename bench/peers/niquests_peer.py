"""niquests AsyncSession with pool_maxsize=N and a Semaphore."""

import asyncio
import sys

import niquests


async def main(urls: list[str], n: int) -> int:
    sem = asyncio.Semaphore(n)
    async with niquests.AsyncSession(pool_connections=4, pool_maxsize=n) as session:
        async def one(url: str) -> int:
            async with sem:
                return (await session.get(url)).status_code

        codes = await asyncio.gather(*(one(u) for u in urls))
    return codes.count(200)


print(asyncio.run(main(open(sys.argv[1]).read().split(), int(sys.argv[2]))))
