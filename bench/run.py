"""`make bench`: multifetch against wrk (the bound) on nginx at 127.0.0.1; writes bench/RESULTS.md.

Workloads (one run, same machine, same nginx):
  (a) 1 KB responses, 64 connections, 100,000 requests
  (b) 50 ms server delay, 500 connections
  (c) 200 ms server delay, 2,000 connections
Every load is bounded in count and time and goes only to 127.0.0.1.
"""

from __future__ import annotations

import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from multifetch.testing._nginx import Nginx

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
ECHO_MODULE = "/usr/lib/nginx/modules/ngx_http_echo_module.so"


@dataclass
class Workload:
    key: str
    title: str
    path: str
    connections: int
    requests: int
    delay: float  # server delay in seconds (0: none)
    target: float  # multifetch CLI ÷ reference, at least

    @property
    def bound(self) -> float | None:
        return self.connections / self.delay if self.delay else None


WORKLOADS = [
    Workload("a", "1 KB responses, 64 connections", "/1k", 64, 100_000, 0.0, 0.4),
    Workload("b", "50 ms delay, 500 connections", "/delay50", 500, 40_000, 0.05, 0.9),
    Workload("c", "200 ms delay, 2,000 connections", "/delay200", 2000, 40_000, 0.2, 0.8),
]


def nginx() -> Nginx:
    root = WORK / "nginx"
    shutil.rmtree(root, ignore_errors=True)
    (root / "www").mkdir(parents=True)
    (root / "www" / "1k").write_bytes(b"x" * 1024)
    delays = 'location /delay50 { echo_sleep 0.05; echo "ok"; } location /delay200 { echo_sleep 0.2; echo "ok"; }'
    return Nginx(root, server=delays, modules=(ECHO_MODULE,), worker_connections=10000)


def run_wrk(url: str, connections: int, seconds: int) -> float:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", url],
        capture_output=True, text=True, timeout=seconds + 60, check=True,
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match:
        raise RuntimeError(f"wrk said: {out}")
    return float(match.group(1))


def run_cli(base: str, w: Workload, suffix: str = ".jsonl", extra: tuple[str, ...] = (),
            requests: int | None = None) -> tuple[float, float]:
    """req/s of `multifetch fetch` writing to a file, and its CPU seconds per 1,000 requests."""
    n = requests or w.requests
    src = WORK / f"urls-{w.key}-{n}.txt"
    if not src.exists():
        src.write_text("".join(f"{base}{w.path}?i={i}\n" for i in range(n)))
    out = WORK / f"out-{w.key}{suffix}"
    out.unlink(missing_ok=True)
    mf = str(Path(sys.executable).with_name("multifetch"))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(
        [mf, "fetch", str(src), "-o", str(out), "-c", str(w.connections), "--per-host",
         str(w.connections), "-q", "--timeout", "30", *extra],
        check=False, timeout=600,
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    from multifetch.sinks._read import read_records

    records = ok = 0
    for record in read_records(str(out)):
        records += 1
        ok += record["status"] == 200
    if records != n or ok != n:
        raise RuntimeError(f"workload {w.key}{suffix}: {records} records, {ok} ok of {n}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return n / wall, cpu / n * 1000


def run_classic(base: str, w: Workload, n: int) -> float:
    """req/s of requests.get in a ThreadPoolExecutor: the pattern most people start from."""
    code = (
        "import requests, time\n"
        "from concurrent.futures import ThreadPoolExecutor\n"
        f"urls=['{base}{w.path}?i='+str(i) for i in range({n})]\n"
        "t=time.perf_counter()\n"
        f"with ThreadPoolExecutor(max_workers={w.connections}) as pool:\n"
        "    codes=[r.status_code for r in pool.map(requests.get, urls)]\n"
        f"assert codes.count(200) == {n}\n"
        "print(len(codes)/(time.perf_counter()-t))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=900, check=True)
    return float(out.stdout.strip())


def run_api(base: str, w: Workload) -> float:
    """req/s of the Python API iterating results (hash mode, no output file)."""
    code = (
        "import multifetch,sys,time\n"
        f"urls=('{base}{w.path}?i='+str(i) for i in range({w.requests}))\n"
        "t=time.perf_counter(); n=0\n"
        f"for r in multifetch.fetch(urls, concurrency={w.connections}, per_host={w.connections}, "
        "bodies='hash'):\n"
        "    n += r.status_code == 200\n"
        f"assert n == {w.requests}, n\n"
        "print(n/(time.perf_counter()-t))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=True)
    return float(out.stdout.strip())


def main() -> None:
    WORK.mkdir(exist_ok=True)
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # wrk and nginx need one fd per connection
    rows = []
    sinks: list[tuple[Workload, float, float, float]] = []
    peers: list[tuple[Workload, float, float, float]] = []
    with nginx() as base:
        for w in WORKLOADS:
            wrk_rps = run_wrk(base + w.path, w.connections, 8 if w.delay else 10)
            cli_rps, cpu_per_1k = run_cli(base, w)
            api_rps = run_api(base, w)
            reference = w.bound or wrk_rps
            rows.append((w, wrk_rps, cli_rps, api_rps, cpu_per_1k, reference))
            print(f"({w.key}) wrk {wrk_rps:,.0f}  cli {cli_rps:,.0f}  api {api_rps:,.0f}  "
                  f"cpu/1k {cpu_per_1k:.3f}s  ref {reference:,.0f}", flush=True)
            if w.key == "a":
                csv_rps, _ = run_cli(base, w, ".csv")
                db_rps, _ = run_cli(base, w, ".db")
                sinks.append((w, cli_rps, csv_rps, db_rps))
                print(f"    csv {csv_rps:,.0f}  sqlite {db_rps:,.0f}", flush=True)
            if w.key in ("a", "b"):
                n = 5_000 if w.key == "a" else 10_000
                classic = run_classic(base, w, n)
                engine, _ = run_cli(base, w, "-req.jsonl", ("--engine", "requests"), requests=n)
                peers.append((w, cli_rps, engine, classic))
                print(f"    classic {classic:,.0f}  requests engine {engine:,.0f}", flush=True)
    write_results(rows, sinks, peers)


def write_results(
    rows: list[tuple[Workload, float, float, float, float, float]],
    sinks: list[tuple[Workload, float, float, float]],
    peers: list[tuple[Workload, float, float, float]],
) -> None:
    import pycurl

    import multifetch

    lines = [
        "# Benchmark results",
        "",
        f"Written by `make bench` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        f"Machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, "
        f"multifetch {multifetch.__version__}, {pycurl.version}.",
        "Target: nginx (Debian, echo module for delays, 1 worker) on 127.0.0.1; wrk -t2 is the bound "
        "for (a); for (b) and (c) the bound is connections ÷ delay.",
        "multifetch CLI: `multifetch fetch URLS -o out.jsonl -c N --per-host N -q` (JSONL to a file, "
        "every record checked). API: `for r in multifetch.fetch(urls, bodies='hash')`.",
        "",
        "| workload | wrk req/s | bound req/s | multifetch CLI req/s | CLI ÷ reference | target | "
        "API req/s | API ÷ reference | CPU s / 1,000 req (CLI) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for w, wrk_rps, cli_rps, api_rps, cpu, reference in rows:
        ratio = cli_rps / reference
        verdict = "met" if ratio >= w.target else "MISSED"
        bound = f"{w.bound:,.0f}" if w.bound else "(wrk)"
        lines.append(
            f"| ({w.key}) {w.title}, {w.requests:,} requests | {wrk_rps:,.0f} | {bound} | {cli_rps:,.0f} | "
            f"{ratio:.2f} | ≥ {w.target} ({verdict}) | {api_rps:,.0f} | {api_rps / reference:.2f} | {cpu:.3f} |"
        )
    lines += [
        "",
        "## Sinks (workload a, same run)",
        "",
        "| output | req/s | ÷ JSONL | target |",
        "|---|---|---|---|",
    ]
    for _w, jsonl_rps, csv_rps, db_rps in sinks:
        lines.append(f"| JSONL file | {jsonl_rps:,.0f} | 1.00 | |")
        for name, rps in (("CSV file", csv_rps), ("SQLite (WAL, batched)", db_rps)):
            verdict = "met" if rps >= 0.85 * jsonl_rps else "MISSED"
            lines.append(f"| {name} | {rps:,.0f} | {rps / jsonl_rps:.2f} | ≥ 0.85 ({verdict}) |")
    lines += [
        "",
        "## Against the classic pattern (same run)",
        "",
        "`requests.get` in a `ThreadPoolExecutor(max_workers=N)`, N = the workload's connections; "
        "the requests engine is `multifetch fetch --engine requests` (JSONL to a file).",
        "",
        "| workload | classic req/s | requests engine req/s | ÷ classic (target ≥ 1.5) | libcurl CLI req/s | ÷ classic |",
        "|---|---|---|---|---|---|",
    ]
    for w, cli_rps, engine, classic in peers:
        verdict = "met" if engine >= 1.5 * classic else "MISSED"
        lines.append(f"| ({w.key}) {w.title} | {classic:,.0f} | {engine:,.0f} | {engine / classic:.2f} ({verdict}) | "
                     f"{cli_rps:,.0f} | {cli_rps / classic:.1f} |")
    lines.append("")
    (HERE / "RESULTS.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
