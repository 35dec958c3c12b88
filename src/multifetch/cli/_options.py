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


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$", re.IGNORECASE)
_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str | None, option: str) -> float | None:
    """Seconds from ``30``, ``30s``, ``500ms``, ``5m``, ``1h`` (more than zero)."""
    if text is None:
        return None
    match = _DURATION.match(text)
    seconds = float(match.group(1)) * _SECONDS[(match.group(2) or "s").lower()] if match else 0.0
    if seconds <= 0:
        raise UsageError(f"bad {option} {text!r}: use a duration like 30s, 500ms, 5m")
    return seconds
