"""The requests transport: parity with the curl engine, the user's session, and requests_map."""

from __future__ import annotations

import warnings

import pytest
import requests
from requests.adapters import HTTPAdapter

import multifetch
from multifetch import Client
from multifetch.testing import FaultServer, TargetServer, body_for

from helpers import jsonl, mf

ENGINES = ["curl", "requests"]


def one(engine: str, url: str, **options: object) -> multifetch.Result:
    options.setdefault("retries", 0)
    (result,) = list(multifetch.fetch([url], transport=engine, **options))
    return result


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("path", "status"),
    [("/bytes/100", 200), ("/status/404", 404), ("/status/500", 500), ("/redirect/2", 200), ("/gzip", 200)],
)
def test_parity_answers(target: TargetServer, engine: str, path: str, status: int) -> None:
    result = one(engine, target.url + path)
    assert result.status_code == status
    assert result.error is None
    if path == "/bytes/100":
        assert result.content == body_for(100)
    if path == "/redirect/2":
        assert result.final_url == target.url + "/redirect/0"
    if path == "/gzip":
        assert result.json()["encoding"] == "gzip"


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("where", "kind", "options"),
    [
        ("http://127.0.0.1:1/", "connect", {}),
        ("/redirect-loop", "too_many_redirects", {}),
        ("/redirect-to?url=file:///etc/passwd", "blocked", {}),
        ("/delay/3", "timeout", {"timeout": 0.5}),
        ("/bytes/100000", "body_too_large", {"max_body_size": 1000}),
        ("faults:/reset", "reset", {}),
        ("faults:/truncated", "protocol", {}),
    ],
)
def test_parity_error_kinds(
    target: TargetServer, faults: FaultServer, engine: str, where: str, kind: str, options: dict[str, object]
) -> None:
    if where.startswith("faults:"):
        url = faults.url + where.split(":", 1)[1]
    elif where.startswith("/"):
        url = target.url + where
    else:
        url = where
    result = one(engine, url, **options)
    assert result.error is not None, result
    assert result.error.kind == kind


@pytest.mark.parametrize("engine", ENGINES)
def test_parity_retries_and_retry_after(fresh_target: TargetServer, engine: str) -> None:
    with Client(transport=engine, retries=2, record_retries=True) as client:
        failing = client.get(fresh_target.url + f"/fail/2?key={engine}")
        limited = client.get(fresh_target.url + f"/retry-after/1?times=1&key={engine}")
    assert failing.status_code == 200 and failing.attempts == 3
    assert limited.status_code == 200 and limited.attempts == 2
    assert limited.retries == [{"status": 429, "error": None, "delay": 1.0}]


def test_cli_engine_requests(target: TargetServer) -> None:
    proc = mf("fetch", target.url + "/item/a", target.url + "/status/503", "--engine", "requests", "-q",
              "--retries", "0")
    records = {r["id"]: r for r in jsonl(proc.stdout)}
    assert records["1:1"]["status"] == 200 and records["2:1"]["status"] == 503


class CountingAdapter(HTTPAdapter):
    sent = 0

    def send(self, request, **kwargs):  # type: ignore[no-untyped-def]
        CountingAdapter.sent += 1
        return super().send(request, **kwargs)


def test_user_session_is_used(target: TargetServer) -> None:
    session = requests.Session()
    session.auth = ("user", "secret")
    session.headers["X-Custom"] = "yes"
    session.cookies.set("flavour", "oat", domain="127.0.0.1")
    session.mount("http://", CountingAdapter())
    CountingAdapter.sent = 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. "Connection pool is full" would fail the test
        with Client(transport="requests", session=session, concurrency=16, per_host=16) as client:
            results = list(client.stream([target.url + "/headers"] * 40))
    for result in results:
        seen = result.json()["headers"]
        assert seen["authorization"].startswith("Basic ")
        assert seen["x-custom"] == "yes"
        assert "flavour=oat" in seen["cookie"]
    assert CountingAdapter.sent == 40


def test_requests_map_order_and_exceptions(target: TargetServer) -> None:
    items = [
        target.url + "/delay/0.2",
        "http://127.0.0.1:1/",
        requests.Request("POST", target.url + "/echo", json={"a": 1}),
        requests.Request("GET", target.url + "/item/x").prepare(),
        "not a url",
    ]
    out = list(multifetch.requests_map(items, retries=0, per_host=8))
    assert isinstance(out[0], requests.Response) and out[0].text == "ok\n"
    assert isinstance(out[1], requests.ConnectionError)
    assert isinstance(out[2], requests.Response) and out[2].json()["body"] == '{"a": 1}'
    assert isinstance(out[3], requests.Response) and out[3].content.startswith(b"item x")
    assert isinstance(out[4], requests.exceptions.InvalidURL)
