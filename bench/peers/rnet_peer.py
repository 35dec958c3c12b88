"""rnet (Rust: wreq + BoringSSL): one shared async Client, pool_max_idle_per_host=N and a
Semaphore-bounded gather; verify= takes the CA file, http1_only / http2_only pick the protocol (neither
for "auto": ALPN does)."""

import asyncio
import os
import sys
from pathlib import Path

import rnet


async def main(urls: list[str], n: int, cafile: str | None, http: str) -> int:
    sem = asyncio.Semaphore(n)
    # Redirects are not followed unless asked for (the other peers follow them by default).
    client = rnet.Client(pool_max_idle_per_host=n, verify=Path(cafile) if cafile else True,
                         http1_only=http == "1.1", http2_only=http == "2", allow_redirects=True, gzip=True)

    async def one(url: str) -> int:
        async with sem:
            response = await client.get(url)
            await response.bytes()
            return response.status

    codes = await asyncio.gather(*(one(u) for u in urls))
    return codes.count(200)


args = sys.argv[1:] + [""] * (4 - len(sys.argv[1:]))
print(asyncio.run(main(open(args[0]).read().split(), int(args[1]), args[2] or None, args[3] or "1.1")), flush=True)
# rnet 2.4 now and then crashes (SIGSEGV) in the interpreter's finalization after the work is done:
# leave without finalizing.
os._exit(0)
