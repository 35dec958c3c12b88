"""The report page: inline SVG charts and tables in one HTML file, with no outside resources."""

from __future__ import annotations

from html import escape

from .._version import __version__
from ._aggregate import Aggregate
from ._charts import STATUS_COLORS, bars, latency_histogram, outcomes, stacked
from ._hosts import ms


def _ms(seconds: float | None) -> str:
    return ms(seconds, missing="–")


def render(agg: Aggregate, title: str) -> str:
    charts = [
        latency_histogram(agg),
        outcomes(agg),
        bars(agg.throughput, [f"+{i * agg.bucket_seconds:.1f} s" for i in range(len(agg.throughput))],
             f"Records a bucket of {agg.bucket_seconds:.2f} s (throughput over time)", "#8754c9"),
        stacked(agg.status_series, "Status codes over time", STATUS_COLORS, agg.bucket_seconds),
        stacked(agg.error_series, "Errors by kind over time", {}, agg.bucket_seconds),
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
<tr><td>records</td><td>{agg.records:,}</td><td>answered (any status)</td><td>{agg.answered:,}</td><td>errors (no answer)</td><td>{agg.errors:,}</td></tr>
<tr><td>ok (2xx/3xx)</td><td>{agg.ok:,}</td><td>4xx/5xx</td><td>{agg.answered - agg.ok:,}</td><td></td><td></td></tr>
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
