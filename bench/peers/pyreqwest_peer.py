"""pyreqwest (Rust: reqwest + hyper, rustls): one async Client from ClientBuilder, reused for every
request, max_connections(N) and a Semaphore-bounded gather; the CA as an added PEM root; .http2(True)
lets ALPN choose HTTP/2 (HTTP/1.1 only is the library's default): for HTTP version 2, and "auto" (the
server decides)."""

import asyncio
import os
import sys

from pyreqwest.client import ClientBuilder


async def main(urls: list[str], n: int, cafile: str | None, http: str) -> int:
    sem = asyncio.Semaphore(n)
    builder = ClientBuilder().max_connections(n).pool_max_idle_per_host(n).http2(http in ("2", "auto"))
    if cafile:
        builder = builder.add_root_certificate_pem(open(cafile, "rb").read())
    async with builder.build() as client:
        async def one(url: str) -> int:
            async with sem:
                response = await client.get(url).build().send()
                await response.bytes()
                return response.status

        codes = await asyncio.gather(*(one(u) for u in urls))
    return codes.count(200)


args = sys.argv[1:] + [""] * (4 - len(sys.argv[1:]))
print(asyncio.run(main(open(args[0]).read().split(), int(args[1]), args[2] or None, args[3] or "1.1")), flush=True)
# pyreqwest 0.15's runtime threads now and then abort the interpreter's finalization on Python 3.11
# ("PyGILState_Release: thread state ... must be current when releasing", exit 134) after the work is
# done and the client closed: leave without finalizing.
os._exit(0)
