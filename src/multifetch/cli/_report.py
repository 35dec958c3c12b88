"""``multifetch report``: the offline HTML report of a run's output."""

from __future__ import annotations

import os

import click

from ..inputs._sources import InputError
from ..outputs._formats import format_for
from ..outputs._parts import is_part_folder, is_url


@click.command()
@click.argument("results", metavar="RESULTS")
@click.option("-o", "--output", default="report.html", show_default=True, metavar="PATH",
              help="Where to write the HTML file.")
@click.option("--title", default=None, help="The page title.")
def report(results: str, output: str, title: str | None) -> None:
    """Write a self-contained HTML report (works offline) from a JSONL, CSV, SQLite or Parquet output,
    or a cluster run's part folder.

    \b
    Examples:
      multifetch report results.jsonl -o report.html
      multifetch report results.db -o run-42.html --title "Nightly crawl"
      multifetch report results.parquet -o report.html
      multifetch report s3://bucket/run42/ -o report.html
    """
    if is_url(results):  # only a part folder is read from a URL (through fsspec)
        if not is_part_folder(results):
            raise InputError(f"{results}: no cluster run's part folder there (no manifest)")
    elif not os.path.exists(results):
        raise InputError(f"{results}: no such file")
    if os.path.isdir(results) and not is_part_folder(results) and format_for(results) != "parquet" \
            and not os.path.exists(os.path.join(results, "_multifetch.json")):
        raise InputError(f"{results}: a folder that is neither a Parquet output (name it .parquet) "
                         "nor a cluster run's part folder")
    from ..report import write_report

    figures = write_report(results, output, title)
    click.echo(f"wrote {output}: {figures.records:,} records, {len(figures.hosts):,} hosts", err=True)
