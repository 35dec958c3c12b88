"""Requests made of what a caller hands the API: URLs, JSON-spec mappings and ``Request`` objects,
with a client's default headers under each request's own."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ._errors import InvalidInput, UsageError
from .engine._input import NotReady
from .inputs._spec import InvalidSpec, Request, request_from_json, with_default_headers
from .inputs._urls import sendable_url

SpecLike = Request | str | Mapping[str, Any]


def coerce_specs(
    specs: Iterable[SpecLike | InvalidSpec | NotReady], headers: tuple[tuple[str, str], ...]
) -> Iterator[Request | InvalidSpec | NotReady]:
    """Each of ``specs`` as a request (or the record of why it cannot be one), lazily."""
    if isinstance(specs, str | bytes | Mapping | Request):
        specs = [specs]  # one spec, not its characters or keys
    for position, spec in enumerate(specs):
        item = spec if spec.__class__ is Request else coerce_spec(spec, position)
        if headers and isinstance(item, Request):
            item = with_default_headers(item, headers)
        yield item


def coerce_spec(spec: SpecLike | InvalidSpec | NotReady, position: int) -> Request | InvalidSpec | NotReady:
    # A string first: nearly every input is one. A tuple, not `A | B | C`, which would build a
    # union object on every call.
    if isinstance(spec, str):
        try:
            return Request(sendable_url(spec.strip()))
        except InvalidInput as exc:
            return InvalidSpec(str(position), spec, str(exc))
    if isinstance(spec, (Request, InvalidSpec, NotReady)):
        return spec
    if isinstance(spec, Mapping):
        try:
            return request_from_json(dict(spec))
        except InvalidInput as exc:
            spec_id = spec.get("id")
            name = str(spec_id) if spec_id is not None else str(position)
            return InvalidSpec(name, str(spec.get("url", "")), str(exc))
    raise UsageError(f"cannot make a request from {type(spec).__name__}: {spec!r:.80}")
