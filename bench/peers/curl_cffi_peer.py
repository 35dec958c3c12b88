"""curl_cffi AsyncSession(max_clients=N); verify= takes the CA file, http_version= the protocol."""

import asyncio
import sys

from curl_cffi import CurlHttpVersion
from curl_cffi.requests import AsyncSession


async def main(urls: list[str], n: int, cafile: str | None, http: str) -> int:
    sem = asyncio.Semaphore(n)
    version = CurlHttpVersion.V2TLS if http == "2" else CurlHttpVersion.V1_1
    async with AsyncSession(max_clients=n, verify=cafile or True, http_version=version) as session:
        async def one(url: str) -> int:
            async with sem:
                return (await session.get(url)).status_code

        codes = await asyncio.gather(*(one(u) for u in urls))
    return codes.count(200)


args = sys.argv[1:] + [""] * (4 - len(sys.argv[1:]))
print(asyncio.run(main(open(args[0]).read().split(), int(args[1]), args[2] or None, args[3] or "1.1")))
