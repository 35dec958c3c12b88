"""``multifetch report``: the offline HTML report of a run's output."""

from __future__ import annotations

import os

import click

from ..inputs._sources import InputError
from ..outputs._parts import is_part_folder


@click.command()
@click.argument("results", metavar="RESULTS")
@click.option("-o", "--output", default="report.html", show_default=True, metavar="PATH",
              help="Where to write the HTML file.")
@click.option("--title", default=None, help="The page title.")
def report(results: str, output: str, title: str | None) -> None:
    """Write a self-contained HTML report (works offline) from a JSONL, CSV or SQLite output, or a
    cluster run's part folder.

    \b
    Examples:
      multifetch report results.jsonl -o report.html
      multifetch report results.db -o run-42.html --title "Nightly crawl"
    """
    if not (os.path.isfile(results) or is_part_folder(results)):
        raise InputError(f"{results}: no such file (or part folder)")
    from ..report import write_report

    figures = write_report(results, output, title)
    click.echo(f"wrote {output}: {figures.records:,} records, {len(figures.hosts):,} hosts", err=True)
