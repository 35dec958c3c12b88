"""Who turns the engine's loop (engine/_driver.py): the consumer while it waits for results, the
engine's thread only while the consumer is away. Fake transport and clock: no sockets, no sleeps
but the consumer's own."""

from __future__ import annotations

import threading
import time
from collections import Counter

from multifetch import Limits, Request, RetryPolicy
from multifetch.engine._driver import Driver
from multifetch.engine._job import Job
from multifetch.engine._scheduler import Scheduler
from multifetch.testing import Answer, FakeTransport

ENGINE = "multifetch-engine"


class Watched(FakeTransport):
    """Counts the polls made by each thread."""

    def __init__(self) -> None:
        super().__init__(lambda request, attempt: Answer(latency=0.02))
        self.pollers: Counter[str] = Counter()
        self.order: list[str] = []  # the thread of each poll, in order

    def poll(self, timeout: float) -> list[Job]:
        name = threading.current_thread().name
        self.pollers[name] += 1
        self.order.append(name)
        return super().poll(timeout)


def driver_for(count: int, fake: Watched) -> Driver:
    requests = iter([Request(f"http://a.test/{i}") for i in range(count)])
    scheduler = Scheduler(requests, fake, limits=Limits(concurrency=8, per_host=8),
                          retry=RetryPolicy(retries=0), clock=fake.clock, wall=fake.clock.wall)
    return Driver(scheduler, fake.close)


def test_a_consumer_that_keeps_up_turns_the_loop_itself() -> None:
    fake = Watched()
    ids = [job.id for job in driver_for(2_000, fake).jobs()]
    assert sorted(ids) == sorted(set(ids)) and len(ids) == 2_000
    # Results need not cross between threads: the engine's thread turns the loop only if this
    # thread was away for more than 10 ms (a loaded machine may do that now and then, not for most).
    assert fake.pollers[threading.current_thread().name] > fake.pollers[ENGINE]
    assert fake.closed


def test_while_the_consumer_is_away_the_engine_thread_turns_the_loop() -> None:
    fake = Watched()
    ids = []
    for job in driver_for(5_000, fake).jobs():
        ids.append(job.id)
        if len(ids) <= 5:
            time.sleep(0.05)  # writing a record to a slow disk, say
    assert len(set(ids)) == 5_000
    assert fake.pollers[ENGINE] > 0
    # and the consumer, back and waiting for results, got the wheel back
    first_away = fake.order.index(ENGINE)
    assert threading.current_thread().name in fake.order[first_away:]


def test_leaving_early_aborts_and_ends_the_engine_thread() -> None:
    fake = Watched()
    jobs = driver_for(1_000, fake).jobs()
    next(jobs)
    jobs.close()
    assert fake.closed and fake.active == 0
    assert not [t for t in threading.enumerate() if t.name == ENGINE]
