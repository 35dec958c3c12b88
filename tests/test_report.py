"""The HTML report: figures, self-containment, and a real render in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from multifetch.report import aggregate
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
    assert html.count('<svg class="chart"') == 4


def test_report_renders_in_chromium(results: Path, tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.fail("chromium is needed: run `make test` (it installs Debian's chromium)")
    html_path = tmp_path / "report.html"
    assert mf("report", str(results), "-o", str(html_path)).returncode == 0
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0"]
    dom = subprocess.run([*flags, "--dump-dom", html_path.as_uri()], capture_output=True, text=True,
                         timeout=120, check=True)
    assert 'data-charts="4"' in dom.stdout  # the page's script ran and found every chart
    for svg in re.findall(r'<svg class="chart".*?</svg>', dom.stdout, re.S)[:3]:
        assert "<rect" in svg  # each of the first three charts drew bars
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert console == []
    shot = tmp_path / "report.png"
    subprocess.run([*flags, f"--screenshot={shot}", "--window-size=900,1400", html_path.as_uri()],
                   capture_output=True, timeout=120, check=True)
    assert shot.stat().st_size > 10_000
