"""Parsing option values the CLI takes as text."""

from __future__ import annotations

import re

from .._errors import UsageError

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE)
_FACTOR = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip() or any(c.isspace() for c in name.strip()):
        raise UsageError(f"bad header {text!r}: use 'Name: value'")
    return name.strip(), value.strip()


def parse_host_limit(text: str) -> tuple[str, int]:
    host, sep, limit = text.rpartition("=")
    if not sep or not host or not limit.isdigit() or int(limit) < 1:
        raise UsageError(f"bad --host-limit {text!r}: use HOST=N, e.g. api.example.com=32")
    return host.strip(), int(limit)


def parse_size(text: str | None) -> int | None:
    """Bytes from ``1048576``, ``10M``, ``2GiB``, ``500k``."""
    if text is None:
        return None
    match = _SIZE.match(text)
    if not match:
        raise UsageError(f"bad size {text!r}: use bytes or a suffix like 10M, 2G")
    number, unit, _ = match.groups()
    return int(float(number) * _FACTOR[unit.lower()])
