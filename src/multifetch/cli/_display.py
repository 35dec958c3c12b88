"""What the CLI shows on stderr: live progress and the end-of-run summary (rich, imported lazily)."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from ..inputs._sources import count_lines
from ..report._hosts import ms
from ..runners._run import Run
from ._terminal import safe_text

_REFRESH = 4  # a second: enough to read, too rare to cost the engine anything


class Progress:
    """A rich Live display fed from ``run.statistics()`` snapshots by its own refresh thread."""

    def __init__(self, run: Run, inputs: Sequence[str]) -> None:
        from rich.console import Console
        from rich.live import Live

        self._run = run
        self._total: int | None = None
        self._samples: list[tuple[float, int]] = []
        self._console = Console(stderr=True)
        threading.Thread(target=self._count, args=(inputs,), daemon=True).start()
        self._live = Live(console=self._console, refresh_per_second=_REFRESH, transient=True,
                          get_renderable=self._render)
        self._live.start()

    def _count(self, inputs: Sequence[str]) -> None:
        try:
            self._total = count_lines(inputs)
        except Exception:
            self._total = None

    def _render(self) -> Any:
        from rich.table import Table

        stats = self._run.statistics()
        now = time.monotonic()
        self._samples.append((now, stats.done))
        while len(self._samples) > 2 and now - self._samples[0][0] > 5.0:
            self._samples.pop(0)
        first_t, first_done = self._samples[0]
        rate_now = (stats.done - first_done) / (now - first_t) if now > first_t else 0.0
        total = self._total
        done = f"{stats.done:,}" + (f" / {total:,}" if total else "")
        eta = ""
        if total and rate_now > 0 and total > stats.done:
            eta = f"  ETA {_duration((total - stats.done) / rate_now)}"
        grid = Table.grid(padding=(0, 2))
        grid.add_row(
            f"[bold]{done}[/] done",
            f"{rate_now:,.0f} req/s now, {stats.rate:,.0f} avg",
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


def make_progress(run: Run, inputs: Sequence[str], quiet: bool, forced: bool | None) -> Progress | None:
    show = forced if forced is not None else sys.stderr.isatty()
    if quiet or not show:
        return None
    return Progress(run, inputs)


def _bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024:
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} TB"


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


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
    if figures.get("insecure"):
        console.print("[yellow]TLS verification was OFF (--insecure)[/]")
