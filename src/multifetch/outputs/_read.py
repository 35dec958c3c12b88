"""``read_results``: any output (JSONL, CSV, SQLite, Parquet) read back, as records or a table.

Records come back as dicts — the record of the output contract, the same keys and values
whatever the format (a Parquet ``started_at`` is ISO text again, ``meta`` parsed JSON) — not as
``Result`` objects: an output holds the record, not the answer (no body, no headers object), and
a ``Result`` made from it would offer accessors it cannot fill.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from typing import Any

from ._formats import format_for
from ._frames import BATCH, arrow_to_pandas, need, to_arrow
from ._parts import PartFolder, is_part_folder, is_url
from ._records import read_records


class SavedResults:
    """The records of an output, read when asked, as often as asked.

    Iterating gives each record (a dict), one batch in memory at a time; ``to_arrow``,
    ``to_pandas`` and ``to_polars`` give a table with a row per record. A Parquet output is a
    folder: every complete part in it, whichever writer made it, is one result set; so is a cluster
    run's part folder, at a local path or an fsspec URL (``s3://bucket/run/``).
    """

    def __init__(self, path: str | os.PathLike[str], fmt: str | None = None) -> None:
        self.path = os.fspath(path)
        self._parts = is_part_folder(self.path)
        if self._parts:  # a cluster run's output, local or at an fsspec URL: JSONL or Parquet parts
            manifest = PartFolder(self.path).manifest() or {}
            self.format = str(manifest.get("format", "jsonl"))
            return
        if is_url(self.path) or not os.path.exists(self.path):
            raise FileNotFoundError(errno.ENOENT, "no such output (a URL: only a part folder)", self.path)
        self.format = "parquet" if fmt is None and os.path.isdir(self.path) else format_for(self.path, fmt)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return read_records(self.path, self.format)

    def to_arrow(self, batch_size: int = BATCH) -> Any:
        """A ``pyarrow.Table`` (Parquet parts are read as they are, without the records between)."""
        if self.format == "parquet" and not self._parts:
            need("pyarrow", "parquet", "reading a Parquet output")
            from ._parquet import parquet_table

            return parquet_table(self.path)
        return to_arrow(self, batch_size=batch_size)

    def to_pandas(self) -> Any:
        return arrow_to_pandas(self.to_arrow())

    def to_polars(self) -> Any:
        return need("polars", "polars", "to_polars").from_arrow(self.to_arrow())

    def __repr__(self) -> str:
        return f"<SavedResults {self.format} {self.path!r}>"


def read_results(path: str | os.PathLike[str], format: str | None = None) -> SavedResults:
    """The records of the output at ``path``: iterate for dicts, or ``.to_pandas()`` and the like.

    ``format``: ``"jsonl"``, ``"csv"``, ``"sqlite"`` or ``"parquet"`` when the name does not say
    (a folder is read as Parquet).
    """
    return SavedResults(path, format)
