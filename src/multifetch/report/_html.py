"""The report page: inline SVG charts and tables in one HTML file, with no outside resources."""

from __future__ import annotations

from html import escape

from .._version import __version__
from ._aggregate import LATENCY_EDGES, Aggregate
from ._hosts import ms

_W, _H, _PAD = 760, 220, 36
_COLORS = ["#2f6fdf", "#e0892b", "#3a9a4a", "#c6423b", "#8754c9", "#7a6a55", "#d25ba6", "#6b7a8f"]
_STATUS_COLORS = {"2xx": "#3a9a4a", "3xx": "#2f6fdf", "4xx": "#e0892b", "5xx": "#c6423b"}


def _ms(seconds: float | None) -> str:
    return ms(seconds, missing="–")


def _bars(values: list[int], labels: list[str], title: str, color: str = "#2f6fdf") -> str:
    top = max(values, default=0) or 1
    width = (_W - 2 * _PAD) / max(len(values), 1)
    parts = []
    for i, (value, label) in enumerate(zip(values, labels, strict=True)):
        height = (_H - 2 * _PAD) * value / top
        x = _PAD + i * width
        parts.append(
            f'<rect x="{x:.1f}" y="{_H - _PAD - height:.1f}" width="{max(width - 1, 0.5):.1f}" '
            f'height="{height:.1f}" fill="{color}"><title>{escape(label)}: {value:,}</title></rect>'
        )
    return _frame(title, "".join(parts), top, labels[0] if labels else "", labels[-1] if labels else "")


def _stacked(series: dict[str, list[int]], title: str, colors: dict[str, str], bucket_seconds: float) -> str:
    if not series:
        return _frame(title, "", 0, "", "", empty="nothing to show")
    n = len(next(iter(series.values())))
    totals = [sum(s[i] for s in series.values()) for i in range(n)]
    top = max(totals, default=0) or 1
    width = (_W - 2 * _PAD) / max(n, 1)
    parts = []
    for i in range(n):
        y = float(_H - _PAD)
        for j, (name, values) in enumerate(series.items()):
            if not values[i]:
                continue
            height = (_H - 2 * _PAD) * values[i] / top
            y -= height
            color = colors.get(name, _COLORS[j % len(_COLORS)])
            parts.append(
                f'<rect x="{_PAD + i * width:.1f}" y="{y:.1f}" width="{max(width - 1, 0.5):.1f}" '
                f'height="{height:.1f}" fill="{color}"><title>{escape(name)} at +{i * bucket_seconds:.1f} s: '
                f"{values[i]:,}</title></rect>"
            )
    legend = "".join(
        f'<span class="key"><i style="background:{colors.get(name, _COLORS[j % len(_COLORS)])}"></i>'
        f"{escape(name)}</span>"
        for j, name in enumerate(series)
    )
    return _frame(title, "".join(parts), top, "0 s", f"{n * bucket_seconds:,.1f} s", legend=legend)


def _frame(title: str, body: str, top: int, left: str, right: str, legend: str = "", empty: str = "") -> str:
    axis = (
        f'<line x1="{_PAD}" y1="{_H - _PAD}" x2="{_W - _PAD}" y2="{_H - _PAD}" stroke="#999"/>'
        f'<text x="{_PAD}" y="{_H - 12}" class="tick">{escape(left)}</text>'
        f'<text x="{_W - _PAD}" y="{_H - 12}" class="tick" text-anchor="end">{escape(right)}</text>'
        f'<text x="{_PAD - 4}" y="{_PAD}" class="tick" text-anchor="end">{top:,}</text>'
    )
    if empty:
        axis += f'<text x="{_W / 2}" y="{_H / 2}" text-anchor="middle" class="tick">{escape(empty)}</text>'
    return (
        f'<figure><figcaption>{escape(title)}</figcaption>'
        f'<svg class="chart" viewBox="0 0 {_W} {_H}" role="img" aria-label="{escape(title)}">'
        f"{axis}{body}</svg><div class='legend'>{legend}</div></figure>"
    )


def render(agg: Aggregate, title: str) -> str:
    labels = ["≤ 0.1 ms"] + [
        f"{LATENCY_EDGES[i - 1] * 1000:.3g}–{LATENCY_EDGES[i] * 1000:.3g} ms" for i in range(1, len(LATENCY_EDGES))
    ] + [f"> {LATENCY_EDGES[-1]:.0f} s"]
    charts = [
        _bars(agg.latency_hist, labels, "Latency of answered requests (log-spaced buckets)"),
        _bars(agg.throughput, [f"+{i * agg.bucket_seconds:.1f} s" for i in range(len(agg.throughput))],
              f"Records a bucket of {agg.bucket_seconds:.2f} s (throughput over time)", "#8754c9"),
        _stacked(agg.status_series, "Status codes over time", _STATUS_COLORS, agg.bucket_seconds),
        _stacked(agg.error_series, "Errors by kind over time", {}, agg.bucket_seconds),
    ]
    rows = "".join(
        f"<tr><td>{escape(str(h['host']))}</td><td>{h['requests']:,}</td><td>{h['errors']:,}</td>"
        f"<td>{float(h['error_rate']) * 100:.1f} %</td><td>{_ms(h['p50'])}</td><td>{_ms(h['p99'])}</td></tr>"
        for h in agg.hosts[:200]
    )
    statuses = ", ".join(f"{escape(k)}: {v:,}" for k, v in sorted(agg.statuses.items())) or "–"
    errors = ", ".join(f"{escape(k)}: {v:,}" for k, v in agg.error_kinds.most_common()) or "none"
    span = (agg.last - agg.first) if agg.first is not None and agg.last is not None else 0.0
    lat = agg.latency
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 24px auto; max-width: 820px; color: #222; }}
h1 {{ font-size: 20px; }} figure {{ margin: 18px 0; }} figcaption {{ font-weight: 600; margin-bottom: 4px; }}
svg.chart {{ width: 100%; height: auto; background: #fafafa; border: 1px solid #e3e3e3; }}
.tick {{ font-size: 11px; fill: #666; }} .legend .key {{ margin-right: 12px; font-size: 12px; }}
.legend i {{ display: inline-block; width: 10px; height: 10px; margin-right: 4px; }}
table {{ border-collapse: collapse; width: 100%; }} td, th {{ border-bottom: 1px solid #eee; padding: 3px 6px; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }} .figures td {{ text-align: left; }}
</style></head>
<body>
<h1>{escape(title)}</h1>
<table class="figures">
<tr><td>records</td><td>{agg.records:,}</td><td>answered</td><td>{agg.ok:,}</td><td>errors</td><td>{agg.errors:,}</td></tr>
<tr><td>latency p50</td><td>{_ms(lat.get('p50'))}</td><td>p90</td><td>{_ms(lat.get('p90'))}</td><td>p99</td><td>{_ms(lat.get('p99'))}</td></tr>
<tr><td>max</td><td>{_ms(lat.get('max'))}</td><td>span</td><td>{span:,.1f} s</td><td>status codes</td><td>{statuses}</td></tr>
<tr><td>error kinds</td><td colspan="5">{errors}</td></tr>
</table>
{''.join(charts)}
<h2>Hosts</h2>
<table><tr><th>host</th><th>requests</th><th>errors</th><th>error rate</th><th>p50</th><th>p99</th></tr>{rows}</table>
<p class="tick">multifetch {__version__}</p>
<script>
document.body.dataset.charts = String(document.querySelectorAll("svg.chart").length);
</script>
</body></html>
"""
