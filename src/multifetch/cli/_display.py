"""What the CLI shows on stderr: live progress and the end-of-run summary (rich, imported lazily)."""

from __future__ import annotations

import sys
from typing import Any, Protocol

from ..observe._figures import JobProgress, done_text, duration_text
from ..observe._figures import bytes_text as _bytes
from ..observe._status_lines import StatusLines
from ..report._hosts import ms
from ..runners._run import Run
from ._terminal import safe_text

_REFRESH = 4  # a second: enough to read, too rare to cost the engine anything
LOG_EVERY = 30.0  # seconds between status lines by default, when stderr is not a terminal


class LiveProgress:
    """A rich Live display fed from ``run.statistics()`` snapshots by its own refresh thread."""

    def __init__(self, run: Run, progress: JobProgress) -> None:
        from rich.console import Console
        from rich.live import Live

        self._run = run
        self._progress = progress
        self._console = Console(stderr=True)
        self._live = Live(console=self._console, refresh_per_second=_REFRESH, transient=True,
                          get_renderable=self._render)
        self._live.start()

    def _render(self) -> Any:
        from rich.table import Table

        figures = self._progress.figures(self._run.statistics())
        stats = figures.stats
        eta = "" if figures.eta is None else f"  ETA {duration_text(figures.eta)}"
        grid = Table.grid(padding=(0, 2))
        grid.add_row(
            f"[bold]{done_text(figures)}[/] done",
            f"{figures.rate_now:,.0f} req/s now, {figures.rate:,.0f} avg",
            f"{stats.in_flight} in flight",
            f"{stats.waiting_retry} waiting to retry",
            f"{_bytes(stats.bytes)}{eta}",
        )
        if stats.waiting:
            # why requests wait, so "1 in flight" at -c 40 always comes with its reason
            reasons = " · ".join(f"{reason} {count:,}" for reason, count in
                                 sorted(stats.waiting.items(), key=lambda item: -item[1]))
            disk = f" ({stats.on_disk:,} on disk)" if stats.on_disk else ""
            grid.add_row(f"queued{disk}: {reasons}")
        if stats.errors:
            grid.add_row("errors: " + ", ".join(f"{k} {v:,}" for k, v in sorted(stats.errors.items())))
        for host in stats.slowed_hosts[:5]:
            state = "dead" if host.dead else "paused" if host.paused else "slowed down"
            grid.add_row(f"[yellow]{safe_text(host.name)}[/] {state}: "
                         f"{host.effective_limit}/{host.limit} connections"
                         + (f", {host.rate:.2f} req/s" if host.rate else ""))
        return grid

    def stop(self) -> None:
        self._live.stop()


class Shown(Protocol):
    def stop(self) -> None: ...


def make_progress(run: Run, progress: JobProgress, *, quiet: bool, forced: bool | None,
                  log_every: float | None) -> Shown | None:
    """What shows the run's progress on stderr, or None.

    A terminal gets the live display; any other stderr (a log file, a pipe, a journal) gets a plain
    status line every ``log_every`` seconds (30 by default), and so does a terminal when
    ``--log-every`` is given. ``--no-progress`` and ``-q`` show nothing.
    """
    if quiet or forced is False:
        return None
    if log_every is None and sys.stderr.isatty():
        return LiveProgress(run, progress)
    return StatusLines(run.statistics, sys.stderr, log_every or LOG_EVERY, progress)


def print_summary(figures: dict[str, Any], console: Any = None) -> None:
    """The end-of-run summary, on stderr unless another rich ``console`` is given."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console(stderr=True, highlight=False)
    lat = figures["latency"]
    head = Table.grid(padding=(0, 2))
    head.add_row("[bold]records[/]", f"{figures['records']:,}",
                 "[bold]answered[/]", f"{figures['answered']:,} ({figures['ok']:,} ok)",
                 "[bold]errors[/]", f"{figures['errors']:,}")
    head.add_row("[bold]time[/]", f"{figures['wall_seconds']:,.2f} s",
                 "[bold]throughput[/]", f"{figures['throughput'] or 0:,.0f} req/s",
                 "[bold]bytes[/]", _bytes(figures["bytes"]))
    head.add_row("[bold]latency[/]", f"p50 {ms(lat['p50'])}", f"p90 {ms(lat['p90'])}",
                 f"p99 {ms(lat['p99'])}", f"max {ms(lat['max'])}", f"retries {figures['retries']:,}")
    console.print(head)
    if figures["statuses"]:
        console.print("[bold]status codes[/]  " + "  ".join(
            f"{code}: {count:,}" for code, count in figures["statuses"].items()))
    polite = [f"{figures[key]:,} {what}" for key, what in (
        ("unchanged", "unchanged since the previous run (304)"),
        ("robots_disallowed", "disallowed by robots.txt (not requested)")) if figures.get(key)]
    if polite:
        console.print("[bold]of which[/]  " + "; ".join(polite))
    if figures["error_kinds"]:
        table = Table(title="errors", title_justify="left", show_edge=False)
        table.add_column("kind")
        table.add_column("count", justify="right")
        table.add_column("example")
        for kind, info in figures["error_kinds"].items():
            example = info["example"]
            table.add_row(kind, f"{info['count']:,}",
                          safe_text(f"{example['url'][:60]}: {example['message'][:80]}"))
        console.print(table)
    for title, key in (("slowest hosts", "slowest_hosts"), ("most failing hosts", "most_failing_hosts")):
        hosts = figures[key]
        if len(figures["slowest_hosts"]) > 1 or (key == "most_failing_hosts" and hosts):
            console.print(f"[bold]{title}[/]  " + "  ".join(
                f"{safe_text(h['host'])} (p50 {ms(h['p50'])}, {h['errors']}/{h['requests']} failed)"
                for h in hosts[:3]))
    if figures.get("proxies"):
        table = Table(title="proxies", title_justify="left", show_edge=False)
        for column in ("proxy", "records", "answered", "errors"):
            table.add_column(column, justify="left" if column == "proxy" else "right")
        for row in figures["proxies"]:
            table.add_row(safe_text(row["proxy"]), f"{row['records']:,}", f"{row['answered']:,}",
                          f"{row['errors']:,}")
        console.print(table)
    if figures.get("insecure"):
        console.print("[yellow]TLS verification was OFF (--insecure)[/]")
