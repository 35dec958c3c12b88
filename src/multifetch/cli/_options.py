"""Parsing option values the CLI takes as text."""

from __future__ import annotations

import re
from typing import Any

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


def request_body(data: str | None, binary: str | None, inputs: tuple[str, ...]) -> str | bytes | None:
    """The body ``-d`` or ``--data-binary`` gives, read as curl reads it: ``@FILE`` is FILE's
    content (``@-``: stdin), without carriage returns and newlines for ``-d``, byte for byte for
    ``--data-binary``; anything else is the body itself."""
    if data is not None and binary is not None:
        raise UsageError("give -d/--data or --data-binary, not both")
    if binary is not None:
        return _read_at(binary, "--data-binary", inputs) if binary.startswith("@") else binary
    if data is not None and data.startswith("@"):
        return _read_at(data, "-d", inputs).replace(b"\r", b"").replace(b"\n", b"")
    return data


def _read_at(value: str, flag: str, inputs: tuple[str, ...]) -> bytes:
    path = value[1:]
    if path == "-":
        if "-" in inputs:
            raise UsageError(f"{flag} @-: stdin is read as an input already")
        import sys

        return sys.stdin.buffer.read()
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise UsageError(f"{flag} {value}: {exc.strerror or exc}") from None


def fingerprint_data(data: str | bytes | None) -> Any:
    """The body of ``-d``/``--data-binary`` as a fingerprint holds it: text as it is; bytes read from
    a file (``@FILE``), which JSON cannot hold, by their SHA-256."""
    if isinstance(data, bytes):
        import hashlib

        return {"sha256": hashlib.sha256(data).hexdigest()}
    return data
