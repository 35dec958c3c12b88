"""Output formats: JSONL, CSV, SQLite or Parquet, as ``--format`` says or the output's extension tells."""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

from .._errors import UsageError

FORMATS = ("jsonl", "csv", "sqlite", "parquet")


def format_for(path: str | None, explicit: str | None = None) -> str:
    fmt = _named(path, explicit)
    if fmt == "parquet" and find_spec("pyarrow") is None:
        raise UsageError("a Parquet output needs pyarrow: pip install 'multifetch[parquet]'")
    return fmt


def _named(path: str | None, explicit: str | None) -> str:
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
    if ext == ".parquet":
        return "parquet"
    return "jsonl"
