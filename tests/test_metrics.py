"""The Prometheus endpoint: scraped while a run goes (slow requests keep it going), its counters
adding up to the records; in one process, with engine processes (-P), on a cluster, from the API."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

import multifetch
from multifetch.testing import TargetServer

from helpers import jsonl, mf

_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str) -> Samples:
    with _DIRECT.open(url, timeout=10) as answer:
        text = answer.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def by_outcome(samples: Samples) -> Counter[tuple[str, str]]:
    """``multifetch_requests_total`` by (status, error kind)."""
    found: Counter[tuple[str, str]] = Counter()
    for (name, labels), n in samples.items():
        if name == "multifetch_requests_total" and n:
            found[dict(labels)["status"], dict(labels)["error"]] = int(n)
    return found


def outcomes_of(records: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    return Counter(("" if r["status"] is None else str(r["status"]), r["error"]["kind"] if r["error"] else "")
                   for r in records)


def slow_input(tmp_path: Path, target: TargetServer) -> tuple[Path, int]:
    """30 quick answers, a 404 and a refused connection, then two requests that take 4 seconds."""
    lines = [f"{target.url}/bytes/100?i={i}" for i in range(30)]
    lines += [f"{target.url}/status/404", "http://127.0.0.1:1/", f"{target.url}/delay/4?i=a",
              f"{target.url}/delay/4?i=b"]
    src = tmp_path / "in.txt"
    src.write_text("\n".join(lines) + "\n")
    return src, len(lines)


def metrics_url(proc: subprocess.Popen[bytes]) -> str:
    assert proc.stderr is not None
    line = proc.stderr.readline().decode()
    match = re.search(r"metrics on (http://\S+)", line)
    assert match, line
    return match.group(1)


def scrape_until(url: str, done: int, timeout: float = 30.0) -> Samples:
    """Scrapes until ``done`` requests have finished and what is in flight is said (an engine
    process says so once a second)."""
    deadline = time.monotonic() + timeout
    while True:
        samples = scrape(url)
        finished = sum(by_outcome(samples).values())
        if finished == done and value(samples, "multifetch_in_flight") == 2:
            return samples
        assert finished <= done and time.monotonic() < deadline, samples
        time.sleep(0.1)


@pytest.mark.parametrize("processes", ["1", "2"])
def test_scraped_mid_run_the_counters_add_up_to_the_records(target: TargetServer, tmp_path: Path,
                                                            processes: str) -> None:
    src, n = slow_input(tmp_path, target)
    out = tmp_path / "out.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "multifetch", "fetch", str(src), "-o", str(out),
                             "--retries", "0", "--metrics-port", "0", "-P", processes],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = metrics_url(proc)
        assert url.startswith("http://127.0.0.1:")  # loopback unless told otherwise
        mid = scrape_until(url, n - 2)
    finally:
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err  # the refused connection
    records = jsonl(out)
    assert len(records) == n
    quick = [r for r in records if "/delay/" not in r["url"]]
    assert by_outcome(mid) == outcomes_of(quick) == Counter({("200", ""): 30, ("404", ""): 1, ("", "connect"): 1})
    answered = [r for r in quick if r["error"] is None]
    assert value(mid, "multifetch_response_bytes_total") == sum(r["size"] for r in answered)
    assert value(mid, "multifetch_request_duration_seconds_count") == len(answered)
    assert value(mid, "multifetch_request_duration_seconds_bucket", le="+Inf") == len(answered)
    assert value(mid, "multifetch_request_duration_seconds_bucket", le="1.0") == len(answered)
    assert value(mid, "multifetch_retries_total") == 0
    assert value(mid, "multifetch_job_done") == n - 2
    assert value(mid, "multifetch_job_inputs") == n
    assert value(mid, "multifetch_running") == 1
    host = target.url.lower()
    assert value(mid, "multifetch_host_requests", host=host) == n - 3
    assert value(mid, "multifetch_host_errors", host="http://127.0.0.1:1") == 1
    assert b"\x1b[" not in err


def test_the_api_serves_metrics_while_the_client_is_open(target: TargetServer) -> None:
    urls = [f"{target.url}/bytes/50?i={i}" for i in range(40)] + [f"{target.url}/fail/1?key=m{time.time()}",
                                                                  f"{target.url}/status/500", "http://127.0.0.1:1/"]
    with multifetch.Client(metrics_port=0, retries=1, metrics_hosts=1) as client:
        url = client.metrics_url
        assert url is not None
        results = list(client.stream(urls))
        one = client.get(f"{target.url}/bytes/7")
        samples = scrape(url)
    records = [r.to_record() for r in [*results, one]]
    assert by_outcome(samples) == outcomes_of(records)
    assert value(samples, "multifetch_retries_total") == sum(r["attempts"] - 1 for r in records) >= 2
    assert value(samples, "multifetch_response_bytes_total") == sum(r["size"] for r in records)
    assert value(samples, "multifetch_request_duration_seconds_count") == len(records) - 1  # answered
    assert value(samples, "multifetch_in_flight") == 0 and value(samples, "multifetch_running") == 0
    assert len([k for k in samples if k[0] == "multifetch_host_requests"]) == 1  # capped to the top host
    assert client.metrics_url is None
    with pytest.raises(urllib.error.URLError, match="refused"):  # closed with the client
        scrape(url)


def test_a_port_in_use_is_refused_before_anything_runs(target: TargetServer, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(multifetch.UsageError, match="metrics_port: cannot listen"):
            multifetch.Client(metrics_port=port)
        proc = mf("fetch", f"{target.url}/bytes/1", "-o", str(tmp_path / "o.jsonl"), "--metrics-port", str(port))
    assert proc.returncode == 2
    assert proc.stderr.decode().startswith(f"multifetch: error: --metrics-port: cannot listen on 127.0.0.1:{port}")
    assert proc.stderr.count(b"\n") == 1 and not (tmp_path / "o.jsonl").exists()


def test_on_a_cluster_the_driver_counts_the_records(target: TargetServer) -> None:
    pytest.importorskip("distributed")
    urls = [f"{target.url}/bytes/10?i={i}" for i in range(25)] + [f"{target.url}/status/503"]
    with multifetch.Client(cluster="local:1", metrics_port=0, retries=0) as client:
        assert client.metrics_url is not None
        records = [r.to_record() for r in client.stream(urls)]
        samples = scrape(client.metrics_url)
    assert by_outcome(samples) == outcomes_of(records) == Counter({("200", ""): 25, ("503", ""): 1})
    assert value(samples, "multifetch_request_duration_seconds_count") == 26


def test_the_summary_json_and_the_metrics_use_one_vocabulary(target: TargetServer, tmp_path: Path) -> None:
    """What the run's summary says at the end, the metrics said last: records and statuses agree."""
    src = tmp_path / "in.txt"
    src.write_text("".join(f"{target.url}/bytes/10?i={i}\n" for i in range(20)) + f"{target.url}/delay/3\n")
    proc = subprocess.Popen([sys.executable, "-m", "multifetch", "fetch", str(src), "-o", str(tmp_path / "o.jsonl"),
                             "--metrics-port", "0", "--summary-json", str(tmp_path / "s.json")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = metrics_url(proc)
        deadline = time.monotonic() + 30
        while sum(by_outcome(samples := scrape(url)).values()) < 20:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        proc.communicate(timeout=60)
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["statuses"] == {"200": 21}
    assert by_outcome(samples) == Counter({("200", ""): 20})
    assert value(samples, "multifetch_job_done") == summary["records"] - 1


def test_per_host_figures_keep_a_bounded_number_of_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hosts past ``HOST_ROWS`` count together under "(other hosts)": a crawl of a million hosts
    keeps ten thousand rows, and every record is still counted."""
    from multifetch.observe import _metrics
    from multifetch.report import _hosts

    monkeypatch.setattr(_hosts, "HOST_ROWS", 10)
    counts = _metrics.RecordCounts()
    for i in range(50):
        counts.add(200, None, 1, 5, 0.01, f"http://h{i}.test")
    assert len(counts.hosts) == 11
    assert counts.hosts[_hosts.OTHER_HOSTS][0] == 40
    assert sum(row[0] for row in counts.hosts.values()) == 50
