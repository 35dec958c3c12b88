"""niquests AsyncSession with pool_maxsize=N and a Semaphore; HTTP/2 unless 1.1 is asked for."""

import asyncio
import sys

import niquests


async def main(urls: list[str], n: int, cafile: str | None, http: str) -> int:
    sem = asyncio.Semaphore(n)
    # HTTP/3 is off: nginx here offers no QUIC, and niquests would only try it after an Alt-Svc anyway.
    async with niquests.AsyncSession(pool_connections=4, pool_maxsize=n, disable_http2=http == "1.1",
                                     disable_http3=True) as session:
        # The CA file goes with each request: as in requests, REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE from the
        # environment override a session's verify=.
        async def one(url: str) -> int:
            async with sem:
                return (await session.get(url, verify=cafile or True)).status_code

        codes = await asyncio.gather(*(one(u) for u in urls))
    return codes.count(200)


args = sys.argv[1:] + [""] * (4 - len(sys.argv[1:]))
print(asyncio.run(main(open(args[0]).read().split(), int(args[1]), args[2] or None, args[3] or "1.1")))
