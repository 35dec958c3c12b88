"""``multifetch report``: one self-contained HTML file (inline SVG, no network) from a run's output."""

from ._aggregate import Aggregate, aggregate
from ._html import render

__all__ = ["Aggregate", "aggregate", "render", "write_report"]


def write_report(results_path: str, output_path: str, title: str | None = None) -> Aggregate:
    """Read ``results_path`` (JSONL, CSV, SQLite or a Parquet folder), write the HTML report to
    ``output_path``."""
    figures = aggregate(results_path)
    html = render(figures, title or f"multifetch report: {results_path}")
    with open(output_path, "w", encoding="utf-8") as f:
        f.write(html)
    return figures
