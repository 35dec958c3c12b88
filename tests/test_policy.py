"""Pure policy units: retry decisions and token buckets with a fake clock (no sleeping)."""

from __future__ import annotations

import random

import pytest

from multifetch import Limits, RetryPolicy, TokenBucket, UsageError, parse_rate
from multifetch.engine._policy import parse_retry_after


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("text", "per_second"),
    [("50/s", 50.0), ("3000/m", 50.0), ("7200/h", 2.0), ("10/5s", 2.0), ("2.5", 2.5), (4, 4.0)],
)
def test_parse_rate(text: str | int, per_second: float) -> None:
    assert parse_rate(text) == pytest.approx(per_second)


@pytest.mark.parametrize("bad", ["", "fast", "0/s", "-1/s", "5/y"])
def test_parse_rate_rejects(bad: str) -> None:
    with pytest.raises(UsageError):
        parse_rate(bad)


def test_bucket_never_exceeds_the_rate_in_any_second() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=10, clock=clock)
    granted = []
    while clock.now < 5.0:
        wait = bucket.try_acquire()
        if wait == 0.0:
            granted.append(clock.now)
        else:
            clock.now += wait
    for start in granted:
        in_window = [t for t in granted if start <= t < start + 1.0]
        assert len(in_window) <= 10
    assert len(granted) == 50


def test_bucket_burst_is_opt_in() -> None:
    clock = FakeClock()
    assert TokenBucket(rate=5, clock=clock).try_acquire() == 0.0
    plain = TokenBucket(rate=5, clock=clock)
    assert [plain.try_acquire() == 0.0 for _ in range(3)] == [True, False, False]
    bursty = TokenBucket(rate=5, burst=3, clock=clock)
    assert [bursty.try_acquire() == 0.0 for _ in range(4)] == [True, True, True, False]


def test_bucket_rate_change() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=10, clock=clock)
    bucket.try_acquire()
    bucket.set_rate(1)
    clock.now = 0.2  # the token taken at 0.0 was due again at 0.1
    assert bucket.try_acquire() == 0.0
    assert bucket.try_acquire() == pytest.approx(1.0)  # now one a second


def test_retry_statuses_and_methods() -> None:
    policy = RetryPolicy(retries=2)
    assert policy.delay(attempt=1, method="GET", status=503) is not None
    assert policy.delay(attempt=1, method="GET", status=404) is None
    assert policy.delay(attempt=1, method="POST", status=503) is None
    assert policy.delay(attempt=1, method="POST", status=503, idempotency_key=True) is not None
    assert RetryPolicy(retry_non_idempotent=True).delay(attempt=1, method="PATCH", status=500) is not None
    assert policy.delay(attempt=3, method="GET", status=503) is None  # 1 + 2 retries used
    assert policy.delay(attempt=1, method="GET", error_kind="connect") is not None
    assert policy.delay(attempt=1, method="GET", error_kind="tls") is None
    assert policy.delay(attempt=1, method="GET", error_kind="invalid_input") is None


def test_backoff_is_full_jitter_and_capped() -> None:
    policy = RetryPolicy(retries=20, backoff=1.0, backoff_max=8.0)
    rng = random.Random(1)
    for attempt in range(1, 15):
        delays = [policy.delay(attempt=attempt, method="GET", status=500, rng=rng) for _ in range(200)]
        ceiling = min(8.0, 2 ** (attempt - 1))
        assert all(d is not None and 0.0 <= d <= ceiling for d in delays)
        assert max(d for d in delays if d is not None) > ceiling * 0.8  # the whole range is used


def test_retry_after_both_forms() -> None:
    policy = RetryPolicy(retry_after_max=60)
    assert policy.delay(attempt=1, method="GET", status=429, retry_after="7") == 7.0
    now = 1_700_000_000.0
    date = "Tue, 14 Nov 2023 22:13:40 GMT"  # now + 20 s
    assert policy.delay(attempt=1, method="GET", status=503, retry_after=date, now=now) == pytest.approx(20.0)
    assert policy.delay(attempt=1, method="GET", status=429, retry_after="3600") == 60.0
    assert parse_retry_after("soon") is None


def test_limits_host_overrides() -> None:
    limits = Limits(per_host=4, host_limits={"api.example.com": 32, "https://b.example:8443": 2})
    assert limits.limit_for("https://api.example.com") == 32
    assert limits.limit_for("http://api.example.com:8080") == 32
    assert limits.limit_for("https://b.example:8443") == 2
    assert limits.limit_for("https://other.example") == 4
    with pytest.raises(UsageError):
        Limits(concurrency=0)
