"""Output formats: JSONL, CSV or SQLite, as ``--format`` says or the output's extension tells."""

from __future__ import annotations

from pathlib import Path

from .._errors import UsageError

FORMATS = ("jsonl", "csv", "sqlite")


def format_for(path: str | None, explicit: str | None = None) -> str:
    if explicit:
        if explicit not in FORMATS:
            raise UsageError(f"unknown format {explicit!r}: use one of {', '.join(FORMATS)}")
        return explicit
    if path is None or path == "-":
        return "jsonl"
    suffixes = Path(path).suffixes
    ext = suffixes[-1].lower() if suffixes else ""
    if ext == ".csv":
        return "csv"
    if ext in (".db", ".sqlite", ".sqlite3"):
        return "sqlite"
    return "jsonl"
