"""The asyncio front: streaming, single requests, and cancellation of the consuming task."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

import multifetch
from multifetch.testing import TargetServer


def test_stream(target: TargetServer) -> None:
    async def main() -> list[multifetch.Result]:
        async with multifetch.AsyncClient(concurrency=16, per_host=16) as client:
            return [r async for r in client.stream(f"{target.url}/item/{i}" for i in range(200))]

    results = asyncio.run(main())
    assert sorted(int(r.id) for r in results) == list(range(200))
    assert all(r.status_code == 200 for r in results)


def test_loop_is_not_blocked(target: TargetServer) -> None:
    async def main() -> int:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        async with multifetch.AsyncClient(concurrency=4, per_host=4) as client:
            async for _ in client.stream([f"{target.url}/delay/0.3?i={i}" for i in range(8)]):
                pass
        task.cancel()
        return ticks

    assert asyncio.run(main()) > 30  # ~0.6 s of fetching: the loop kept ticking


def test_single_requests(target: TargetServer) -> None:
    async def main() -> tuple[multifetch.Result, ...]:
        async with multifetch.AsyncClient() as client:
            return await asyncio.gather(client.get(target.url + "/item/a"),
                                        client.post(target.url + "/echo", json={"k": 1}))

    got, posted = asyncio.run(main())
    assert got.content.startswith(b"item a")
    assert posted.json()["body"] == '{"k":1}'


def test_single_request_errors_raise() -> None:
    async def main() -> None:
        async with multifetch.AsyncClient(retries=0) as client:
            await client.get("http://127.0.0.1:1/")

    with pytest.raises(multifetch.ConnectError):
        asyncio.run(main())


def test_cancelling_the_consumer_stops_the_run(fresh_target: TargetServer) -> None:
    urls = [f"{fresh_target.url}/delay/0.2?i={i}" for i in range(1000)]

    async def consume(seen: list[multifetch.Result]) -> None:
        async with multifetch.AsyncClient(concurrency=8, per_host=8) as client:
            async for result in client.stream(urls):
                seen.append(result)

    async def main() -> list[multifetch.Result]:
        seen: list[multifetch.Result] = []
        task = asyncio.create_task(consume(seen))
        await asyncio.sleep(0.7)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return seen

    started = time.monotonic()
    seen = asyncio.run(main())
    assert 0 < len(seen) < 100
    assert time.monotonic() - started < 5
    arrived = fresh_target.stats.total
    time.sleep(0.5)
    assert fresh_target.stats.total == arrived  # nothing new was sent after the cancel
    assert not [t for t in threading.enumerate() if t.name == "multifetch-engine"]
