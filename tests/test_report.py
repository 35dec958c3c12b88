"""The HTML report: figures, self-containment, and a real render in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from multifetch.outputs._fields import RECORD_FIELDS
from multifetch.outputs._parquet import ParquetSink
from multifetch.report import aggregate
from multifetch.report._aggregate import LATENCY_EDGES
from multifetch.report._charts import edge_label
from multifetch.testing import TargetServer

from helpers import mf


@pytest.fixture(scope="module")
def results(target: TargetServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("report")
    src = folder / "in.txt"
    lines = [f"{target.url}/delay/0.02?i={i}" for i in range(120)]
    lines += [f"{target.url}/status/404?i={i}" for i in range(20)]
    lines += ["http://127.0.0.1:1/", "not a url"]
    src.write_text("\n".join(lines) + "\n")
    out = folder / "results.jsonl"
    assert mf("fetch", str(src), "-o", str(out), "-q", "--retries", "0").returncode == 1
    return out


def test_aggregate_figures(results: Path) -> None:
    agg = aggregate(str(results))
    assert agg.records == 142
    assert agg.statuses == {"200": 120, "404": 20}
    assert agg.error_kinds == {"connect": 1, "invalid_input": 1}
    assert sum(agg.latency_hist) == 140
    assert sum(agg.throughput) == 141  # the invalid line never started
    assert agg.latency["p50"] is not None and agg.latency["p50"] >= 0.0


def test_report_is_self_contained(results: Path, tmp_path: Path) -> None:
    html_path = tmp_path / "report.html"
    proc = mf("report", str(results), "-o", str(html_path))
    assert proc.returncode == 0, proc.stderr
    html = html_path.read_text()
    assert not re.search(r"(src|href)=\"?https?://", html)
    assert html.count('<svg class="chart') == 5


def chromium_flags(tmp_path: Path) -> list[str]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.fail("chromium is needed: run `make test` (it installs Debian's chromium)")
    return [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0"]


def test_report_renders_in_chromium(results: Path, tmp_path: Path) -> None:
    flags = chromium_flags(tmp_path)
    html_path = tmp_path / "report.html"
    assert mf("report", str(results), "-o", str(html_path)).returncode == 0
    dom = subprocess.run([*flags, "--dump-dom", html_path.as_uri()], capture_output=True, text=True,
                         timeout=120, check=True)
    assert 'data-charts="5"' in dom.stdout  # the page's script ran and found every chart
    for svg in re.findall(r'<svg class="chart.*?</svg>', dom.stdout, re.S)[:4]:
        assert "<rect" in svg  # each of the first four charts drew bars
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert console == []
    shot = tmp_path / "report.png"
    subprocess.run([*flags, f"--screenshot={shot}", "--window-size=900,1400", html_path.as_uri()],
                   capture_output=True, timeout=120, check=True)
    assert shot.stat().st_size > 10_000


def _synthetic_run(folder: Path) -> Path:
    """20,000 records in a Parquet output: latencies over 0.5 ms – 3 s, 40 × 404, 3 timeouts."""
    out = folder / "run.parquet"
    sink = ParquetSink(str(out), RECORD_FIELDS, part_seconds=3600)
    for i in range(20_000):
        status, error = (404, None) if i % 500 == 7 else (200, None)
        if i in (11, 12, 13):
            status, error = None, {"kind": "timeout", "message": "no answer in 30 s"}
        sink.write({"id": str(i), "url": f"http://h{i % 7}.test/{i}", "method": "GET", "status": status,
                    "error": error, "attempts": 1, "elapsed": 0.0005 * 1.0005 ** i, "size": 10,
                    "started_at": f"2026-01-02T03:{4 + i // 6000:02d}:{i // 100 % 60:02d}.{i % 1000:03d}Z",
                    "meta": None})
    sink.close()
    return out


def test_report_of_a_parquet_output_shows_every_boundary_and_rare_statuses_in_chromium(tmp_path: Path) -> None:
    """The rendered page (Chromium's DOM, after layout) labels every boundary between the latency
    buckets it draws, and shows the 40 × 404 among 20,000 answers with their count."""
    flags = chromium_flags(tmp_path)
    out = _synthetic_run(tmp_path)
    agg = aggregate(str(out))
    assert (agg.records, agg.answered, agg.ok, agg.errors) == (20_000, 19_997, 19_957, 3)
    assert agg.statuses["404"] == 40
    html_path = tmp_path / "report.html"
    proc = mf("report", str(out), "-o", str(html_path))
    assert proc.returncode == 0, proc.stderr
    dom = subprocess.run([*flags, "--dump-dom", html_path.as_uri()], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    histogram = re.search(r'<svg class="chart"[^>]*aria-label="Latency.*?</svg>', dom, re.S)
    assert histogram is not None
    labels = re.findall(r'class="tick edge"[^>]*>([^<]*)</text>', histogram.group(0))
    used = [i for i, n in enumerate(agg.latency_hist) if n]
    # every boundary inside the drawn range: 0.5 ms … 3 s spans 0.56 ms to 1.8 s and those between
    expected = [edge_label(LATENCY_EDGES[i]) for i in range(used[0] - 1, used[-1] + 1)]
    assert labels == expected and len(labels) >= 15, labels
    assert "0.56 ms" in labels and "1 ms" in labels and "100 ms" in labels and "1 s" in labels
    chart = re.search(r'<svg class="chart outcomes".*?</svg>', dom, re.S)
    assert chart is not None
    rows = dict(re.findall(r'class="tick outcome"[^>]*>([^<]*)</text>.*?class="tick count"[^>]*>([\d,]+) ', chart.group(0), re.S))
    assert rows == {"200": "19,957", "404": "40", "timeout (no answer)": "3"}
    widths = [float(w) for w in re.findall(r'<rect [^>]*width="([\d.]+)"', chart.group(0))]
    assert min(widths) > 40  # px, of 480: on a log scale 3 of 20,000 is a bar one sees (linear: 0.07 px)
    shot = tmp_path / "report.png"
    subprocess.run([*flags, f"--screenshot={shot}", "--window-size=900,1600", html_path.as_uri()],
                   capture_output=True, timeout=120, check=True)
    assert shot.stat().st_size > 10_000


def test_a_run_over_more_hosts_than_rows_counts_the_rest_together(monkeypatch: pytest.MonkeyPatch) -> None:
    """A row a host up to ``HOST_ROWS``, in the summary, the report and its per-process parts;
    hosts seen after count together under "(other hosts)": memory does not grow with the hosts."""
    from multifetch.report import _hosts
    from multifetch.report._summary import SummaryBuilder

    monkeypatch.setattr(_hosts, "HOST_ROWS", 100)

    def record(i: int) -> dict[str, object]:
        return {"id": str(i), "url": f"http://h{i}.test/", "status": 200 if i % 10 else None,
                "error": None if i % 10 else {"kind": "connect", "message": "refused"},
                "attempts": 1, "elapsed": 0.01 * (1 + i % 7), "size": 10}

    whole, parts = SummaryBuilder(), [SummaryBuilder(), SummaryBuilder()]
    for i in range(1000):
        whole.add(record(i))
        parts[i % 2].add(record(i))
    parts[0].absorb(parts[1])
    for summary in (whole, parts[0]):
        rows = summary.hosts.rows
        assert len(rows) == 101
        assert sum(row[0] for row in rows.values()) == summary.records == 1000
        assert sum(row[1] for row in rows.values()) == 100
    assert whole.hosts.rows[_hosts.OTHER_HOSTS][0] == 900
