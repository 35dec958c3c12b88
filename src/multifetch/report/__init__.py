"""``multifetch report``: one self-contained HTML file (inline SVG, no network) from a run's output.

Every run imports parts of this package (the summary, the host table); the report's own modules
are imported only when a report is made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._aggregate import Aggregate, aggregate
    from ._html import render

__all__ = ["Aggregate", "aggregate", "render", "write_report"]


def write_report(results_path: str, output_path: str, title: str | None = None) -> Aggregate:
    """Read ``results_path`` (JSONL, CSV, SQLite or a Parquet folder), write the HTML report to
    ``output_path``."""
    from ._aggregate import aggregate
    from ._html import render

    figures = aggregate(results_path)
    html = render(figures, title or f"multifetch report: {results_path}")
    with open(output_path, "w", encoding="utf-8") as f:
        f.write(html)
    return figures


def __getattr__(name: str) -> Any:
    if name in ("Aggregate", "aggregate"):
        from . import _aggregate

        return getattr(_aggregate, name)
    if name == "render":
        from ._html import render

        return render
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
