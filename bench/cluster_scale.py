"""(g) cluster runs: what the driver costs with records through it and with part folders, what a
worker costs per request (HTTP, HTTPS), and throughput against a latency-bound target as workers grow.

The driver's CPU is its own process's (``getrusage(RUSAGE_SELF)``: the Dask scheduler of ``local:N``
runs in it; the workers are other processes), read by a small wrapper around the command line.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

# the CLI in a process that reports its own CPU when the command ends
DRIVER = (
    "import resource, sys\n"
    "from multifetch.cli._group import cli\n"
    "code = 0\n"
    "try:\n"
    "    cli(sys.argv[1:], prog_name='multifetch')\n"
    "except SystemExit as end:\n"
    "    code = end.code or 0\n"
    "use = resource.getrusage(resource.RUSAGE_SELF)\n"
    "print('DRIVER_CPU', use.ru_utime + use.ru_stime, file=sys.stderr)\n"
    "sys.exit(code)\n"
)
HOSTS = 16


def _driver(args: list[str], timeout: float = 300) -> tuple[float, float, str]:
    """(wall seconds, driver CPU seconds, stderr) of one CLI run."""
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", DRIVER, *args], capture_output=True, text=True, timeout=timeout,
                          check=False)
    wall = time.monotonic() - started
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"exit {proc.returncode}: {proc.stderr[-300:]}")
    cpu = float(proc.stderr.rsplit("DRIVER_CPU", 1)[1].split()[0])
    return wall, cpu, proc.stderr


def _inputs(work: Path, base: str, path: str, n: int, files: int, tag: str) -> tuple[Path, list[str]]:
    """``n`` URLs over ``HOSTS`` names of 127.0.0.1 (``--resolve``), in ``files`` files of a folder."""
    scheme, rest = base.split("://", 1)
    port = rest.rsplit(":", 1)[1]
    names = [f"h{i}.bench.test" for i in range(HOSTS)]
    folder = work / f"in-{tag}"
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.iterdir():
        stale.unlink()
    for f in range(files):
        lines = (f"{scheme}://{names[i % HOSTS]}:{port}{path}?i={i}\n" for i in range(f, n, files))
        (folder / f"urls-{f:03d}.txt").write_text("".join(lines))
    resolve = [a for name in names for a in ("--resolve", f"{name}:{port}:127.0.0.1")]
    return folder, resolve


def _parts_run(work: Path, folder: Path, resolve: list[str], workers: int, extra: list[str]) -> dict[str, float]:
    out = work / "out-parts"
    summary = work / "summary-parts.json"
    wall, cpu, _ = _driver(["fetch", str(folder), "-o", f"{out}/", "--overwrite", "--cluster", f"local:{workers}",
                            "-q", "--summary-json", str(summary), *resolve, *extra])
    figures = json.loads(summary.read_text())
    records = figures["records"]
    return {"records": records, "ok": figures["ok"], "wall": wall, "driver_cpu": cpu, "parts": figures["parts"],
            "run_driver_cpu": figures["driver_cpu_seconds"],
            "worker_cpu": figures["worker_cpu_seconds"], "run_seconds": figures["wall_seconds"],
            "rate": records / figures["wall_seconds"]}


def driver_costs(work: Path, base: str, n: int = 10_000) -> dict[str, object]:
    """Driver CPU per 1,000 records, records through the driver (before) and part folders (after):
    each run with ``n`` and ``3 n`` inputs, the difference divided by ``2 n``, so the start-up (imports,
    the LocalCluster) is left out and what remains is what more records cost."""
    limits = ["-c", "64", "--per-host", "8"]
    before: dict[int, float] = {}
    after: dict[int, dict[str, float]] = {}
    for size in (n, 3 * n):
        folder, resolve = _inputs(work, base, "/1k", size, 8, "1k")
        one_file = work / "in-1k-one.txt"
        one_file.write_text("".join(p.read_text() for p in sorted(folder.iterdir())))
        out = work / "out-cluster.jsonl"
        out.unlink(missing_ok=True)
        _, before[size], _ = _driver(["fetch", str(one_file), "-o", str(out), "--cluster", "local:2", "-q",
                                      *resolve, *limits])
        after[size] = _parts_run(work, folder, resolve, 2, limits)
    more = 2 * n
    old = (before[3 * n] - before[n]) / more * 1000
    big = after[3 * n]
    new = big["run_driver_cpu"] / big["records"] * 1000  # the driver while the run runs (start-up left out)
    small_parts = _parts_run(work, folder, resolve, 2, [*limits, "--part-size", "100"])
    per_part = small_parts["run_driver_cpu"] / small_parts["parts"]
    worker = big["worker_cpu"] / big["records"] * 1000
    print(f"    records through the driver: {old:.4f} driver CPU s / 1,000 more records", flush=True)
    print(f"    part folder: {new:.4f} driver CPU s / 1,000 records in the run, {per_part:.4f} s / part "
          f"({small_parts['parts']} parts of 100), worker CPU {worker:.3f} s / 1,000 requests, "
          f"{big['rate']:,.0f} req/s in the run", flush=True)
    return {"records": more, "before": old, "after": new, "per_part": per_part, "worker": worker,
            "start_before": before[n], "start_after": after[n]["driver_cpu"], "n": n,
            "after_marginal": (after[3 * n]["driver_cpu"] - after[n]["driver_cpu"]) / more * 1000}


def https_worker_cost(work: Path, base: str, cafile: str, n: int = 10_000) -> dict[str, float]:
    """The certificate names 127.0.0.1 only: one host, so one lane (one worker) does the work."""
    folder = work / "in-tls"
    folder.mkdir(parents=True, exist_ok=True)
    for f in range(4):
        (folder / f"urls-{f:03d}.txt").write_text("".join(f"{base}/1k?i={i}\n" for i in range(f, n, 4)))
    run = _parts_run(work, folder, [], 2, ["-c", "64", "--per-host", "64", "--cacert", cafile])
    print(f"    HTTPS: worker CPU {run['worker_cpu'] / n * 1000:.3f} s / 1,000 requests", flush=True)
    return run


def scaling(work: Path, base: str, per_worker: int = 100, delay_path: str = "/delay200",
            counts: tuple[int, ...] = (1, 2, 4)) -> list[dict[str, float]]:
    """Each worker with the same connection budget (``per_worker``) against 200 ms answers: the
    bound grows with the workers (per_worker × N ÷ 0.2 s) while the CPU stays far from busy."""
    runs = []
    for workers in counts:
        n = 2000 * workers
        folder, resolve = _inputs(work, base, delay_path, n, 2, f"delay-{workers}")
        conns = per_worker * workers
        run = _parts_run(work, folder, resolve, workers,
                         ["-c", str(conns), "--per-host", str(conns), "--timeout", "30"])
        run["workers"], run["bound"] = workers, conns / 0.2
        runs.append(run)
        print(f"    local:{workers}: {run['rate']:,.0f} req/s (bound {run['bound']:,.0f}), driver CPU "
              f"{run['driver_cpu']:.2f} s, worker CPU {run['worker_cpu']:.2f} s in {run['run_seconds']:.1f} s",
              flush=True)
    return runs


def section(g: dict[str, object]) -> list[str]:
    c: dict = g["costs"]  # type: ignore[type-arg, assignment]
    out = ["## (g) on a Dask LocalCluster: the driver's cost, the workers', and scaling", "",
           f"1 KB answers over {HOSTS} host names (one nginx), `-c 64 --per-host 8`, `--cluster local:2`, "
           f"{c['n']:,} then {3 * c['n']:,} inputs. Driver CPU is the driver process's own (the LocalCluster's "
           "scheduler runs in it; the workers are not). Records through the driver: the difference between the "
           f"two runs over the {c['records']:,} more records (start-up left out). Part folders: the driver's CPU "
           f"from the run's start to its end (`driver_cpu_seconds`) over the {3 * c['n']:,} records (the "
           f"difference method gives {c['after_marginal']:.4f}, within the start-up's noise); per part, from a "
           "run with `--part-size 100`.", "",
           "| run | driver CPU s / 1,000 records | driver CPU s / part | worker CPU s / 1,000 requests |"
           " driver CPU s, whole run of the smaller |",
           "|---|---|---|---|---|",
           f"| records through the driver (`-o out.jsonl`) | {c['before']:.4f} | | | {c['start_before']:.2f} |",
           f"| part folder (`-o out/`, 8 input files) | {c['after']:.4f} | {c['per_part']:.4f} | {c['worker']:.3f} |"
           f" {c['start_after']:.2f} |"]
    tls = g.get("https")
    if isinstance(tls, dict):
        out.append(f"| part folder over HTTPS (TLS 1.3, one host) | | | {tls['worker_cpu'] / tls['records'] * 1000:.3f} | |")
    out += ["", "Latency-bound: 200 ms answers, each worker with 100 connections (`-c 100×N`), 2,000 requests a "
            "worker in 2 input files, 16 host names; part folders.", "",
            "| workers | req/s | bound | driver CPU s | worker CPU s | run s |", "|---|---|---|---|---|---|"]
    for r in g["scaling"]:  # type: ignore[attr-defined]
        out.append(f"| {r['workers']} | {r['rate']:,.0f} | {r['bound']:,.0f} | {r['driver_cpu']:.2f} | "
                   f"{r['worker_cpu']:.2f} | {r['run_seconds']:.1f} |")
    return [*out, ""]
