"""httpx AsyncClient with Limits(max_connections=N) and a Semaphore; http2=True for HTTP/2 (h2)."""

import asyncio
import ssl
import sys

import httpx


async def main(urls: list[str], n: int, cafile: str | None, http: str) -> int:
    sem = asyncio.Semaphore(n)
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=cafile) if cafile else True
    async with httpx.AsyncClient(limits=limits, timeout=60, verify=verify, http2=http == "2") as client:
        async def one(url: str) -> int:
            async with sem:
                return (await client.get(url)).status_code

        codes = await asyncio.gather(*(one(u) for u in urls))
    return codes.count(200)


args = sys.argv[1:] + [""] * (4 - len(sys.argv[1:]))
print(asyncio.run(main(open(args[0]).read().split(), int(args[1]), args[2] or None, args[3] or "1.1")))
