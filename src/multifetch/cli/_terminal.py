"""Text bound for a terminal: control characters escaped so input cannot drive the terminal."""

from __future__ import annotations

import re

import click

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def safe_text(text: str) -> str:
    """``text`` with control characters (escape sequences, BEL, CR...) shown as ``\\xNN``."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def echo_note(message: str) -> None:
    """``multifetch: message`` on stderr, safe for the terminal."""
    click.echo(f"multifetch: {safe_text(message)}", err=True)
