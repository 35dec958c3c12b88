"""``requests_map``: the drop-in for ``executor.map(requests.get, urls)``, with multifetch's manners.

    >>> responses = multifetch.requests_map(urls, session=my_session, per_host=4)  # doctest: +SKIP
    >>> [r.status_code if isinstance(r, requests.Response) else repr(r) for r in responses]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from ._client import Client
from ._errors import ErrorKind, InvalidInput, SettingError
from .inputs._spec import InvalidSpec, Request, make_request
from .runners._local import LocalRun


def _spec(item: Any, position: int) -> Request | InvalidSpec:
    import requests

    try:
        if isinstance(item, str):
            return make_request(item, id=str(position))
        if isinstance(item, requests.Request):
            item = item.prepare()
        if isinstance(item, requests.PreparedRequest):
            body = item.body.encode() if isinstance(item.body, str) else item.body
            if body is not None and not isinstance(body, bytes):
                body = b"".join(c.encode() if isinstance(c, str) else c for c in body)
            headers = [(k, str(v)) for k, v in item.headers.items() if k.lower() != "content-length"]
            return make_request(str(item.url), method=str(item.method), headers=headers, data=body,
                                id=str(position))
    except InvalidInput as exc:
        return InvalidSpec(str(position), str(getattr(item, "url", item)), str(exc))
    raise TypeError(
        f"requests_map takes URLs, requests.Request or PreparedRequest, not {type(item).__name__}"
    )


def requests_map(
    requests_or_prepared: Iterable[Any], session: Any = None, **options: Any
) -> Iterator[Any]:
    """``requests.Response`` objects (or the exception raised for that item) in input order.

    Items are URLs, ``requests.Request`` or ``requests.PreparedRequest``; ``session`` is cloned for
    each worker thread. ``options`` are ``Client``'s (concurrency, per_host, rate, retries, ...).
    """
    import requests

    if options.get("since") is not None:  # its answers are requests' own Response objects, 304s as sent
        raise SettingError(("since",), "not with requests_map; use Client(transport='requests', since=...)")
    options.setdefault("bodies", "memory")
    client = Client(transport="requests", session=session, keep_response=True, **options)
    try:
        waiting: dict[int, Any] = {}
        expected = 0
        specs = (_spec(item, i) for i, item in enumerate(requests_or_prepared))
        run = client.start(specs)
        assert isinstance(run, LocalRun)  # the requests transport always runs here
        for job in run.jobs():
            native = job.native
            if native is None:  # invalid input or cancelled: never reached requests
                if job.error_kind == ErrorKind.INVALID_INPUT:
                    native = requests.exceptions.InvalidURL(job.error_message)
                else:
                    native = requests.exceptions.RequestException(job.error_message)
            waiting[job.position] = native
            while expected in waiting:
                yield waiting.pop(expected)
                expected += 1
    finally:
        client.close()
