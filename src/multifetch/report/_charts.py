"""The report's charts, as inline SVG: bars, the latency histogram, stacked series, outcomes.

Written for people reading them: the latency histogram names every bucket boundary on its axis,
and the outcomes chart draws each status code and error kind on a log scale with its count
beside it, so 40 × 404 among 20,000 answers is a bar you see and a number you read.
"""

from __future__ import annotations

import math
from html import escape

from ._aggregate import LATENCY_EDGES, Aggregate

W, H, PAD = 760, 220, 36
COLORS = ["#2f6fdf", "#e0892b", "#3a9a4a", "#c6423b", "#8754c9", "#7a6a55", "#d25ba6", "#6b7a8f"]
STATUS_COLORS = {"1xx": "#6b7a8f", "2xx": "#3a9a4a", "3xx": "#2f6fdf", "4xx": "#e0892b", "5xx": "#c6423b"}
_ERROR_COLOR = "#8754c9"
_MIN_HEIGHT = 1.5  # px: a count of one among thousands still shows


def bars(values: list[int], labels: list[str], title: str, color: str = "#2f6fdf") -> str:
    top = max(values, default=0) or 1
    width = (W - 2 * PAD) / max(len(values), 1)
    parts = []
    for i, (value, label) in enumerate(zip(values, labels, strict=True)):
        height = _height(value, top)
        parts.append(
            f'<rect x="{PAD + i * width:.1f}" y="{H - PAD - height:.1f}" width="{max(width - 1, 0.5):.1f}" '
            f'height="{height:.1f}" fill="{color}"><title>{escape(label)}: {value:,}</title></rect>'
        )
    ends = _end_labels(labels[0] if labels else "", labels[-1] if labels else "")
    return frame(title, "".join(parts), top, ends)


def _height(value: int, top: int) -> float:
    return max((H - 2 * PAD) * value / top, _MIN_HEIGHT) if value else 0.0


def edge_label(seconds: float) -> str:
    """A bucket boundary for the axis: two significant digits, in ms below a second."""
    value, unit = (seconds * 1000, "ms") if seconds < 1 else (seconds, "s")
    return f"{float(f'{value:.2g}'):g} {unit}"


def latency_histogram(agg: Aggregate) -> str:
    """The answered requests' latencies in log-spaced buckets, from the first bucket with any to
    the last; every boundary between two buckets is labelled on the axis."""
    title = "Latency of answered requests (log-spaced buckets)"
    counts = agg.latency_hist
    used = [i for i, n in enumerate(counts) if n]
    if not used:
        return frame(title, "", 0, "", empty="no answers")
    first, last = used[0], used[-1]
    shown = counts[first:last + 1]
    top = max(shown)
    left = PAD + 24  # room for the first slanted label
    width = (W - left - PAD) / len(shown)
    bottom = H - PAD
    parts = []
    for j, n in enumerate(shown):
        i = first + j
        low = "0" if i == 0 else edge_label(LATENCY_EDGES[i - 1])
        high = "∞" if i == len(LATENCY_EDGES) else edge_label(LATENCY_EDGES[i])
        height = _height(n, top)
        parts.append(
            f'<rect x="{left + j * width:.1f}" y="{bottom - height:.1f}" width="{max(width - 1, 0.5):.1f}" '
            f'height="{height:.1f}" fill="#2f6fdf"><title>{low}–{high}: {n:,}</title></rect>'
        )
    # a tick and a label at each boundary: the left edge of every shown bucket, and the right
    # edge of the last one (a bucket open at either end has no number there)
    edges = [(j, LATENCY_EDGES[first + j - 1]) for j in range(len(shown)) if first + j >= 1]
    if last < len(LATENCY_EDGES):
        edges.append((len(shown), LATENCY_EDGES[last]))
    for j, seconds in edges:
        x = left + j * width
        parts.append(
            f'<line x1="{x:.1f}" y1="{bottom}" x2="{x:.1f}" y2="{bottom + 4}" stroke="#999"/>'
            f'<text x="{x:.1f}" y="{bottom + 12}" class="tick edge" text-anchor="end" '
            f'transform="rotate(-40 {x:.1f} {bottom + 12})">{edge_label(seconds)}</text>'
        )
    return frame(title, "".join(parts), top, "", below=30)  # room for the slanted labels


def stacked(series: dict[str, list[int]], title: str, colors: dict[str, str], bucket_seconds: float) -> str:
    if not series:
        return frame(title, "", 0, "", empty="nothing to show")
    n = len(next(iter(series.values())))
    totals = [sum(s[i] for s in series.values()) for i in range(n)]
    top = max(totals, default=0) or 1
    width = (W - 2 * PAD) / max(n, 1)
    parts = []
    for i in range(n):
        y = float(H - PAD)
        for j, (name, values) in enumerate(series.items()):
            if not values[i]:
                continue
            height = _height(values[i], top)
            y -= height
            color = colors.get(name, COLORS[j % len(COLORS)])
            parts.append(
                f'<rect x="{PAD + i * width:.1f}" y="{y:.1f}" width="{max(width - 1, 0.5):.1f}" '
                f'height="{height:.1f}" fill="{color}"><title>{escape(name)} at +{i * bucket_seconds:.1f} s: '
                f"{values[i]:,}</title></rect>"
            )
    legend = "".join(
        f'<span class="key"><i style="background:{colors.get(name, COLORS[j % len(COLORS)])}"></i>'
        f"{escape(name)}</span>"
        for j, name in enumerate(series)
    )
    return frame(title, "".join(parts), top, _end_labels("0 s", f"{n * bucket_seconds:,.1f} s"), legend=legend)


def outcomes(agg: Aggregate) -> str:
    """A bar a status code and a bar an error kind, on a log scale, each with its count and share:
    a rare outcome is as readable as a common one."""
    title = "Outcomes: every status code and error kind (log scale, counts beside the bars)"
    rows = [(code, n, STATUS_COLORS.get(f"{code[:1]}xx", COLORS[0]))
            for code, n in sorted(agg.statuses.items())]
    rows += [(f"{kind} (no answer)", n, _ERROR_COLOR) for kind, n in agg.error_kinds.most_common()]
    if not rows:
        return frame(title, "", 0, "", empty="no records")
    row_height, label_width, count_width = 20, 150, 130
    height = len(rows) * row_height + 16
    scale = math.log10(max(n for _, n, _ in rows) + 1)
    room = W - label_width - count_width
    parts = []
    for k, (name, n, color) in enumerate(rows):
        y = 8 + k * row_height
        length = max(room * math.log10(n + 1) / scale, _MIN_HEIGHT)
        share = _share(n, agg.records)
        parts.append(
            f'<text x="{label_width - 8}" y="{y + 14}" class="tick outcome" text-anchor="end">{escape(name)}</text>'
            f'<rect x="{label_width}" y="{y + 3}" width="{length:.1f}" height="{row_height - 6}" fill="{color}">'
            f"<title>{escape(name)}: {n:,}</title></rect>"
            f'<text x="{label_width + length + 6:.1f}" y="{y + 14}" class="tick count">{n:,} ({share})</text>'
        )
    return (f'<figure><figcaption>{escape(title)}</figcaption>'
            f'<svg class="chart outcomes" viewBox="0 0 {W} {height}" role="img" aria-label="{escape(title)}">'
            f'{"".join(parts)}</svg></figure>')


def _share(n: int, total: int) -> str:
    percent = 100 * n / total if total else 0.0
    return f"{percent:.1f} %" if percent >= 1 else f"{percent:.2g} %"


def _end_labels(left: str, right: str) -> str:
    return (f'<text x="{PAD}" y="{H - 12}" class="tick">{escape(left)}</text>'
            f'<text x="{W - PAD}" y="{H - 12}" class="tick" text-anchor="end">{escape(right)}</text>')


def frame(title: str, body: str, top: int, labels: str, legend: str = "", empty: str = "",
          below: int = 0) -> str:
    axis = (
        f'<line x1="{PAD}" y1="{H - PAD}" x2="{W - PAD}" y2="{H - PAD}" stroke="#999"/>{labels}'
        f'<text x="{PAD - 4}" y="{PAD}" class="tick" text-anchor="end">{top:,}</text>'
    )
    if empty:
        axis += f'<text x="{W / 2}" y="{H / 2}" text-anchor="middle" class="tick">{escape(empty)}</text>'
    return (
        f'<figure><figcaption>{escape(title)}</figcaption>'
        f'<svg class="chart" viewBox="0 0 {W} {H + below}" role="img" aria-label="{escape(title)}">'
        f"{axis}{body}</svg><div class='legend'>{legend}</div></figure>"
    )
