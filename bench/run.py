"""`make bench`: multifetch against its peers and wrk, one run, nginx on 127.0.0.1.

Workloads (same nginx, same connection counts):
  (a) 1 KB responses, 64 connections           (b) 50 ms delay, 500 connections
  (c) 200 ms delay, 5,000 connections           (d) 20 files of 50 MB saved to disk, 8 at a time
  (e) 100,000 vs 1,000,000 inputs streamed      (f) start-up
  (h1) HTTPS 1 KB, 64 connections, HTTP/1.1     (h2) HTTPS 1 KB, 64 streams, HTTP/2
  (n) 1,000 host names via the system resolver, AAAA answered after 3 s, 256 connections, 4 a host
  (w) the web mix: 2,000 HTTPS host names via the system resolver, half HTTP/2, delays, slow and
      throttling hosts, errors, redirects, gzip; 40,000 requests (bench/webmix.py)
  (g) --cluster: driver CPU per 1,000 records (records through it / part folders), worker CPU per
      1,000 requests (HTTP, HTTPS), throughput against 200 ms answers with 1, 2, 4 workers
`python bench/run.py g` runs (g) alone and writes work/cluster.md.
`python bench/run.py w [HOSTS]` runs (w) alone (HOSTS names, 20 requests each) and writes work/webmix.md.
Every load is bounded in count and time, and goes only to 127.0.0.0/8 (the web mix's names resolve to
127.20.x.y, their DNS server is on 127.53.x.y). Writes bench/RESULTS.md.
"""

from __future__ import annotations

import json
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from multifetch.testing._nginx import Nginx

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
PEERS = HERE / "peers"
PEER_VENV = WORK / "peers-venv"
PEER_PACKAGES = ["aiohttp", "uvloop", "httpx[http2]", "niquests", "curl_cffi", "requests-futures", "grequests",
                 "requests", "pyreqwest>=0.15,<0.16", "rnet>=2.4,<2.5"]
ECHO_MODULE = "/usr/lib/nginx/modules/ngx_http_echo_module.so"
MF = str(Path(sys.executable).with_name("multifetch"))
PEER_TIMEOUT = 180


@dataclass
class Run:
    """One measured command: wall seconds, CPU seconds, peak RSS (MB), successful requests."""

    client: str
    requests: int
    ok: int = 0
    wall: float = 0.0
    cpu: float = 0.0
    rss_mb: float = 0.0
    failure: str | None = None

    @property
    def rate(self) -> float:
        return self.ok / self.wall if self.wall and not self.failure else 0.0


def measure(client: str, cmd: list[str], requests: int, count_ok: object = None, expected: int | None = None,
            timeout: float = PEER_TIMEOUT) -> Run:
    """Run ``cmd`` under GNU time; ``count_ok`` turns its stdout into the number of successes, of which
    ``expected`` (default: every request) make a run that counts."""
    run = Run(client, requests)
    with tempfile.NamedTemporaryFile("r", suffix=".time") as stats:
        # A session of its own: on time-out (or Ctrl-C) the client is killed with GNU time, not left running.
        with subprocess.Popen(["/usr/bin/time", "-f", "%e %U %S %M", "-o", stats.name, *cmd],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              start_new_session=True) as child:
            try:
                stdout, stderr = child.communicate(timeout=timeout)
            except BaseException as stop:
                os.killpg(child.pid, signal.SIGKILL)
                child.communicate()
                if not isinstance(stop, subprocess.TimeoutExpired):
                    raise
                run.failure = f"timed out after {timeout:g} s"
                return run
        proc = subprocess.CompletedProcess(child.args, child.returncode, stdout, stderr)
        fields = stats.read().split()[-4:]
    if proc.returncode != 0 or len(fields) != 4:
        run.failure = f"failed (exit {proc.returncode}): {proc.stderr.strip()[-160:]}"
        return run
    wall, user, system, rss_kb = fields
    run.wall, run.cpu, run.rss_mb = float(wall), float(user) + float(system), int(rss_kb) / 1024
    run.ok = count_ok(proc.stdout) if callable(count_ok) else int(proc.stdout.split()[-1])
    if run.ok < (requests if expected is None else expected):
        run.failure = f"only {run.ok:,} of {requests:,} succeeded"
    return run


def url_file(base: str, path: str, n: int) -> Path:
    src = WORK / f"urls{path.replace('/', '-')}-{n}-{base.rsplit(':', 1)[1]}.txt"
    if not src.exists():
        src.write_text("".join(f"{base}{path}?i={i}\n" for i in range(n)))
    return src


def records_ok(out: Path) -> int:
    return sum(1 for line in out.open() if '"status":200' in line)


def multifetch_cli(base: str, path: str, n: int, conns: int, extra: tuple[str, ...] = (),
                   label: str = "multifetch CLI (JSONL to a file)", suffix: str = ".jsonl") -> Run:
    out = WORK / f"out{suffix}"
    out.unlink(missing_ok=True)
    cmd = [MF, "fetch", str(url_file(base, path, n)), "-o", str(out), "-c", str(conns), "--per-host",
           str(conns), "-q", "--timeout", "60", *extra]

    def count(_stdout: str) -> int:
        from multifetch.outputs._records import read_records

        return sum(1 for r in read_records(str(out)) if r["status"] in (200, 206))

    return measure(label, cmd, n, count)


def multifetch_api(base: str, path: str, n: int, conns: int, processes: int = 1,
                   options: dict[str, str] | None = None) -> Run:
    more = "".join(f", {k}={v!r}" for k, v in (options or {}).items())
    code = (
        "import multifetch,sys\n"
        "urls=(line.strip() for line in open(sys.argv[1]))\n"
        f"ok=sum(r.status_code == 200 for r in multifetch.fetch(urls, concurrency={conns}, "
        f"per_host={conns}, bodies='hash', processes={processes}{more}))\n"
        "print(ok)\n"
    )
    label = "multifetch API (iterating results)" + (f", processes={processes}" if processes > 1 else "")
    return measure(label, [sys.executable, "-c", code, str(url_file(base, path, n))], n)


CLI_P2 = "multifetch CLI -P 2 (JSONL to a file)"
API_P2 = "multifetch API (iterating results), processes=2"


def peer(name: str, script: str, base: str, path: str, n: int, conns: int, extra: tuple[str, ...] = ()) -> Run:
    return measure(name, [str(PEER_VENV / "bin" / "python"), str(PEERS / script),
                          str(url_file(base, path, n)), str(conns), *extra], n)


def curl_parallel(base: str, path: str, n: int, conns: int, extra: tuple[str, ...] = ()) -> Run:
    cfg = WORK / f"curl{path.replace('/', '-')}-{n}-{base.rsplit(':', 1)[1]}.cfg"
    if not cfg.exists():
        cfg.write_text("".join(f'url = "{base}{path}?i={i}"\noutput = "/dev/null"\n' for i in range(n)))
    cmd = ["curl", "--parallel", "--parallel-max", str(conns), "-K", str(cfg), "-s", "-w", "%{http_code}\\n", *extra]
    return measure("curl --parallel", cmd, n, lambda out: out.split().count("200"))


def wrk(url: str, conns: int, seconds: int) -> float:
    threads = min(2, conns)
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--timeout", "10s", url],
                         capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match:
        raise RuntimeError(f"wrk said: {out}")
    return float(match.group(1))


def ensure_peers() -> None:
    """The peers' venv, made anew when the package list changes.

    niquests brings urllib3-future, whose wheel replaces urllib3 in the venv at every start-up: requests
    would then run on the fork (and speak HTTP/2). Installed from source with URLLIB3_NO_OVERRIDE=1, the
    fork stays beside urllib3, so the requests peers measure requests + urllib3.
    """
    args = ["install", "-q", "--no-binary", "urllib3-future", *PEER_PACKAGES]
    stamp = PEER_VENV / "installed.txt"
    if stamp.exists() and stamp.read_text() == " ".join(args):
        return
    shutil.rmtree(PEER_VENV, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
    subprocess.run([str(PEER_VENV / "bin" / "pip"), *args], check=True,
                   env={**os.environ, "URLLIB3_NO_OVERRIDE": "1"})
    stamp.write_text(" ".join(args))


def nginx() -> Nginx:
    root = WORK / "nginx"
    (root / "www" / "files").mkdir(parents=True, exist_ok=True)
    (root / "www" / "1k").write_bytes(b"x" * 1024)
    block = os.urandom(1 << 20)
    for i in range(20):
        big = root / "www" / "files" / f"f{i}.bin"
        if not big.exists() or big.stat().st_size != 50 << 20:
            big.write_bytes(block * 50)
    delays = 'location /delay50 { echo_sleep 0.05; echo "ok"; } location /delay200 { echo_sleep 0.2; echo "ok"; }'
    return Nginx(root, server=delays, modules=(ECHO_MODULE,), worker_connections=16000)


# TLS 1.3 only; sessions cached and resumable across connections (tickets, and this cache for clients
# without them) so a client that reconnects pays an abbreviated handshake, as against a real server.
TLS_SERVER = "ssl_protocols TLSv1.3; ssl_session_cache shared:bench:10m; ssl_session_timeout 1h;"


@contextmanager
def tls_nginx(server: str = "") -> Iterator[tuple[str, str]]:
    """Debian's nginx over TLS 1.3 (``ssl http2``: ALPN offers h2 and http/1.1), serving /1k.

    The certificate is for 127.0.0.1, from a local trustme CA made for the run. Yields the base URL and the
    CA file; ``server`` adds directives to the server block.
    """
    import trustme

    root = WORK / "nginx-tls"
    (root / "www").mkdir(parents=True, exist_ok=True)
    (root / "www" / "1k").write_bytes(b"x" * 1024)
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cafile, certfile, keyfile = root / "ca.pem", root / "server.pem", root / "server.key"
    ca.cert_pem.write_to_path(str(cafile))
    certfile.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    cert.private_key_pem.write_to_path(str(keyfile))
    with Nginx(root, server=TLS_SERVER + server, tls=(str(certfile), str(keyfile))) as base:
        yield base, str(cafile)


# ---- workloads ---------------------------------------------------------------------------------

# The Python peers: name -> (label, script). Every script takes URL_FILE CONNECTIONS [CA_FILE [HTTP_VERSION]].
PEER_SCRIPTS = {"classic": ("requests.get in ThreadPoolExecutor (classic)", "classic.py"),
                "requests-futures": ("requests-futures", "requests_futures_peer.py"),
                "grequests": ("grequests", "grequests_peer.py"),
                "aiohttp": ("aiohttp + uvloop", "aiohttp_peer.py"),
                "httpx": ("httpx AsyncClient", "httpx_peer.py"),
                "niquests": ("niquests AsyncSession", "niquests_peer.py"),
                "curl_cffi": ("curl_cffi AsyncSession", "curl_cffi_peer.py"),
                "pyreqwest": ("pyreqwest (Rust: reqwest, hyper)", "pyreqwest_peer.py"),
                "rnet": ("rnet (Rust: wreq)", "rnet_peer.py")}
HTTP1_ONLY = {"classic", "requests-futures", "grequests", "aiohttp"}  # libraries with no HTTP/2


@dataclass(frozen=True)
class Tls:
    """How every client reaches the HTTPS nginx: the CA file that verifies it, the HTTP version ("1.1", "2")."""

    cafile: str
    http: str

    @property
    def flags(self) -> tuple[str, ...]:
        """multifetch's CLI and curl spell them the same way."""
        return ("--cacert", self.cafile, "--http1.1" if self.http == "1.1" else "--http2")

    @property
    def api(self) -> dict[str, str]:
        return {"cafile": self.cafile, "http_version": self.http}

    @property
    def peer(self) -> tuple[str, ...]:
        return (self.cafile, self.http)


# Workloads whose clients are CPU-bound on small answers: there, another tenant's burst on this shared
# machine moves one client's rate by a fifth (and a slow spell lasts minutes), so every client runs three
# times, in turn, and keeps its fastest run.
ROUNDS = {"a": 3, "h1": 3, "h2": 3}
NAMES_ROUNDS = 2
# (n)'s clients each leave ~1,000 idle connections that nginx closes as the client exits: the client
# after it would share the cores with that (the same CLI: 15,400 req/s after curl, 17,200 after itself).
NAMES_SETTLE = 1.0


def throughput(base: str, key: str, title: str, path: str, conns: int, n: int, bound: float | None,
               peer_counts: dict[str, int], tls: Tls | None = None) -> dict[str, object]:
    print(f"({key}) {title}", flush=True)
    wrk(base + path, conns, 2)  # a warm-up, not measured: the first client does not pay for a cold server
    rounds = [one_round(base, key, path, conns, n, peer_counts, tls) for _ in range(ROUNDS.get(key, 1))]
    runs = [max(same, key=lambda r: r.rate) for same in zip(*rounds, strict=True)]
    wrk_rps = wrk(base + path, conns, 8)
    for r in runs:
        print(f"    {r.client:45s} {r.rate:10,.0f} req/s  {r.rss_mb:7.1f} MB  {r.failure or ''}", flush=True)
    print(f"    wrk {wrk_rps:,.0f} req/s", flush=True)
    return {"key": key, "title": title, "conns": conns, "n": n, "bound": bound, "wrk": wrk_rps, "runs": runs,
            "rounds": len(rounds)}


def one_round(base: str, key: str, path: str, conns: int, n: int, peer_counts: dict[str, int],
              tls: Tls | None) -> list[Run]:
    """Every client of a throughput workload once, in the table's order."""
    flags = tls.flags if tls else ()
    api = tls.api if tls else None
    runs = [multifetch_cli(base, path, n, conns, flags), multifetch_api(base, path, n, conns, options=api),
            multifetch_cli(base, path, n, conns, ("-P", "2", *flags), label=CLI_P2),
            multifetch_api(base, path, n, conns, processes=2, options=api)]
    if key == "a":
        runs.append(multifetch_cli(base, path, n, conns, label="multifetch CLI (CSV)", suffix=".csv"))
        runs.append(multifetch_cli(base, path, n, conns, label="multifetch CLI (SQLite)", suffix=".db"))
    if "requests-engine" in peer_counts:
        m = peer_counts["requests-engine"]
        runs.append(multifetch_cli(base, path, m, conns, ("--engine", "requests", *flags),
                                   label="multifetch CLI --engine requests"))
    for name, (label, script) in PEER_SCRIPTS.items():
        if tls and tls.http == "2" and name in HTTP1_ONLY:
            label += ", HTTP/1.1 (no HTTP/2 in it)"
        if name in peer_counts:
            runs.append(peer(label, script, base, path, peer_counts[name], conns, tls.peer if tls else ()))
        else:
            runs.append(Run(label, 0, failure="not run at this connection count (one thread per connection)"))
    runs.append(curl_parallel(base, path, peer_counts.get("curl", n), conns, flags))
    return runs


HTTPS_PEERS = {"classic": 3000, "requests-futures": 3000, "grequests": 3000, "aiohttp": 30_000, "httpx": 3000,
               "niquests": 5000, "curl_cffi": 10_000, "pyreqwest": 50_000, "rnet": 30_000, "requests-engine": 5000}
HTTPS_NOTE = (
    "TLS 1.3 (nginx `ssl_protocols TLSv1.3`, `listen ... ssl http2`, session cache and tickets on); the "
    "certificate is for 127.0.0.1 from a local trustme CA, and every client verifies it with the CA file "
    "(multifetch and curl `--cacert`, the API `cafile=`, each peer its own way)."
)


def https(base: str, cafile: str, n: int = 50_000, peer_counts: dict[str, int] | None = None
          ) -> list[dict[str, object]]:
    """(h1) and (h2): 1 KB over HTTPS, 64 connections held to HTTP/1.1, then 64 streams over HTTP/2."""
    counts = HTTPS_PEERS if peer_counts is None else peer_counts
    h1 = throughput(base, "h1", "HTTPS 1 KB, 64 connections, HTTP/1.1", "/1k", 64, n, None, counts,
                    Tls(cafile, "1.1"))
    h1["note"] = HTTPS_NOTE + (
        " ALPN offers h2, so every client is held to HTTP/1.1: multifetch and curl `--http1.1`, the API "
        "`http_version='1.1'`, the peers their HTTP/1.1-only setting where they have HTTP/2. wrk speaks "
        "HTTP/1.1 over TLS.")
    h2 = throughput(base, "h2", "HTTPS 1 KB, 64 streams, HTTP/2", "/1k", 64, n, None, counts, Tls(cafile, "2"))
    h2["note"] = HTTPS_NOTE + (
        " Clients with HTTP/2 use it (multifetch and curl `--http2`, the API `http_version='2'`, httpx "
        "`http2=True`, niquests, curl_cffi `V2TLS`, pyreqwest `.http2(True)`, rnet `http2_only`): 64 requests "
        "at a time, as streams multiplexed on the connections each client opens. Peers marked HTTP/1.1 "
        "have no HTTP/2 and stay on HTTP/1.1 connections, as does the requests engine. **wrk speaks HTTP/1.1 "
        "only**: its figure here is 64 HTTP/1.1 connections over TLS, not an HTTP/2 bound.")
    return [h1, h2]


def downloads(base: str) -> dict[str, object]:
    print("(d) 20 files of 50 MB, 8 at a time", flush=True)
    urls = [f"{base}/files/f{i}.bin" for i in range(20)]
    listing = WORK / "files.txt"
    listing.write_text("\n".join(urls) + "\n")
    for big in (WORK / "nginx" / "www" / "files").iterdir():  # warm the page cache: nobody pays nginx's reads
        with big.open("rb") as f:
            while f.read(1 << 24):
                pass
    runs = []
    folder = WORK / "downloads"

    def complete(_stdout: str) -> int:
        return sum(1 for p in folder.iterdir() if p.is_file() and p.stat().st_size == 50 << 20)

    for label, make in (
        ("multifetch CLI --save-bodies", lambda d: [MF, "fetch", str(listing), "-o", str(d / "r.jsonl"), "-c", "8",
                                                    "--per-host", "8", "-q", "--save-bodies", str(d)]),
        ("curl --parallel", lambda d: ["curl", "--parallel", "--parallel-max", "8", "-s", "-w", "%{http_code}\\n",
                                       *[a for i, u in enumerate(urls) for a in (u, "-o", str(d / f"f{i}"))]]),
        ("aria2c -j 8", lambda d: ["aria2c", "-q", "-j", "8", "-d", str(d), "-i", str(listing),
                                   "--allow-overwrite=true", "--file-allocation=none"]),
    ):
        tries = []
        for _ in range(3):  # the page cache makes single runs noisy: the median of three
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            os.sync()  # the previous run's dirty pages are not this run's to write back
            tries.append(measure(label, make(folder), 20, complete))
        run = sorted(tries, key=lambda r: (r.failure is not None, r.wall))[1]
        run.rss_mb = max(t.rss_mb for t in tries)
        runs.append(run)
        print(f"    {label:45s} {run.wall:6.2f} s  {run.rss_mb:7.1f} MB  {run.failure or ''}", flush=True)
    shutil.rmtree(WORK / "downloads", ignore_errors=True)
    return {"runs": runs}


def streaming(base: str) -> dict[str, object]:
    print("(e) inputs streamed: 100,000 vs 1,000,000", flush=True)
    small = multifetch_cli(base, "/1k", 100_000, 64)
    large = multifetch_cli(base, "/1k", 1_000_000, 64)
    for r in (small, large):
        print(f"    {r.requests:>9,} inputs {r.rate:10,.0f} req/s  {r.rss_mb:7.1f} MB  {r.failure or ''}", flush=True)
    return {"small": small, "large": large}


def cluster(base: str, tls: tuple[str, str] | None = None) -> dict[str, object]:
    """(g): the driver's CPU with records through it and with part folders, a worker's CPU per
    request (HTTP; HTTPS when ``tls`` gives its base URL and CA file), and latency-bound scaling."""
    import cluster_scale

    print("(g) --cluster: driver and worker CPU, scaling with workers", flush=True)
    g: dict[str, object] = {"costs": cluster_scale.driver_costs(WORK, base),
                            "scaling": cluster_scale.scaling(WORK, base)}
    if tls is not None:
        g["https"] = cluster_scale.https_worker_cost(WORK, *tls)
    return g


# Peers as in (a), with fewer requests for the slow ones. niquests is left out: its peer script
# (pool_connections=4) hangs once a run has more hosts than pools, even with DNS answered at once.
NAMES_PEERS = (("pyreqwest", "pyreqwest_peer.py", 20_000),
               ("rnet", "rnet_peer.py", 20_000),
               ("aiohttp + uvloop", "aiohttp_peer.py", 20_000),
               ("curl_cffi AsyncSession", "curl_cffi_peer.py", 5000),
               ("httpx AsyncClient", "httpx_peer.py", 1000),
               ("requests-futures", "requests_futures_peer.py", 2000),
               ("grequests", "grequests_peer.py", 2000),
               ("requests.get in ThreadPoolExecutor (classic)", "classic.py", 2000))
# The CLI exits 1 when some records are errors (cancelled at --deadline): still a measured run.
SOME_FAILED_IS_A_RUN = '"$@"; s=$?; [ "$s" = 1 ] && exit 0; exit "$s"'


def names(base: str, n: int = 20_000, count: int = 1000, conns: int = 256, per_host: int = 4,
          aaaa_delay: float = 3.0, max_time: float = 30.0) -> dict[str, object]:
    """(n): ``count`` host names in a private /etc/hosts (IPv4 only) whose AAAA questions go to a local
    DNS server answering after ``aaaa_delay``; every client runs in that private mount namespace, so
    nothing asks the machine's DNS server. multifetch runs stop at ``max_time`` (what is left then is
    cancelled, and counted as not done)."""
    from multifetch.testing import PrivateResolver, host_names

    print(f"(n) {count:,} host names, AAAA after {aaaa_delay:g} s, {n:,} requests, {conns} connections, "
          f"{per_host} a host", flush=True)
    port = base.rsplit(":", 1)[1]
    hosts = host_names(count)
    folder = WORK / "names"
    folder.mkdir(exist_ok=True)

    def urls(m: int) -> Path:
        """``m`` URLs, as many a name as in the full run (fewer names for clients given fewer requests)."""
        src = folder / f"urls-{m}.txt"
        used = hosts[: max(1, min(count, m * count // n))]
        src.write_text("".join(f"http://{used[i % len(used)]}:{port}/1k?i={i}\n" for i in range(m)))
        return src

    # Each client's faster of NAMES_ROUNDS runs (all clients, then all again), as for (a): a run lasts
    # 2 s, and another tenant's burst moves one by a fifth. Its DNS questions and elapsed are that run's.
    best: dict[str, tuple[Run, tuple[int, int], tuple[float, float, float] | None]] = {}
    with PrivateResolver(dict.fromkeys(hosts, "127.0.0.1"), aaaa_delay=aaaa_delay) as env:

        def client(label: str, cmd: list[str], m: int, count_ok: object = None,
                   out: Path | None = None) -> None:
            env.dns.reset()
            if out is not None:
                out.unlink(missing_ok=True)
            time.sleep(NAMES_SETTLE)
            run = measure(label, env.command(*cmd), m, count_ok)
            asked = (env.dns.total("A"), env.dns.total("AAAA"))
            took = None
            if out is not None:
                lines = out.read_text().splitlines() if out.exists() else []
                done = sorted(json.loads(line)["elapsed"] for line in lines if '"status":200' in line) or [0.0]
                took = (done[len(done) // 2], done[min(len(done) - 1, int(0.99 * len(done)))], done[-1])
            if label not in best or run.rate > best[label][0].rate:
                best[label] = (run, asked, took)

        def cli(label: str, m: int, *extra: str) -> None:
            out = folder / "out.jsonl"
            cmd = [MF, "fetch", str(urls(m)), "-o", str(out), "-q", "-c", str(conns), "--per-host", str(per_host),
                   "--deadline", str(max_time), *extra]
            client(label, ["sh", "-c", SOME_FAILED_IS_A_RUN, "sh", *cmd], m, lambda _o: records_ok(out), out)

        cfg = folder / "curl.cfg"
        cfg.write_text("".join(f'url = "{u.strip()}"\noutput = "/dev/null"\n' for u in urls(n).open()))
        code = ("import multifetch,sys\n"
                "urls=(line.strip() for line in open(sys.argv[1]))\n"
                f"ok=sum(r.status_code == 200 for r in multifetch.fetch(urls, concurrency={conns}, "
                f"per_host={per_host}, bodies='hash', deadline={max_time}))\n"
                "print(ok)\n")
        for _ in range(NAMES_ROUNDS):
            cli("multifetch CLI (JSONL to a file)", n)
            cli(CLI_P2, n, "-P", "2")
            client("multifetch API (iterating results)", [sys.executable, "-c", code, str(urls(n))], n)
            cli("multifetch CLI --engine requests", 5000, "--engine", "requests")
            for label, script, m in NAMES_PEERS:
                client(label, [str(PEER_VENV / "bin" / "python"), str(PEERS / script), str(urls(m)), str(conns)], m)
            client("curl --parallel", ["curl", "--parallel", "--parallel-max", str(conns), "-K", str(cfg), "-s",
                                       "-w", "%{http_code}\\n"], n, lambda out: out.split().count("200"))
    runs = [run for run, _, _ in best.values()]
    asked = {label: dns for label, (_, dns, _) in best.items()}
    elapsed = {label: took for label, (_, _, took) in best.items() if took is not None}
    for r in runs:
        a, aaaa = asked[r.client]
        print(f"    {r.client:45s} {r.rate:10,.0f} req/s  {r.rss_mb:7.1f} MB  DNS {a:,} A {aaaa:,} AAAA  "
              f"{r.failure or ''}", flush=True)
    for label, (p50, p99, top) in elapsed.items():
        print(f"    {label}: elapsed p50 {p50:.3f} p99 {p99:.3f} max {top:.3f} s", flush=True)
    return {"n": n, "count": count, "conns": conns, "per_host": per_host, "aaaa_delay": aaaa_delay,
            "max_time": max_time, "runs": runs, "asked": asked, "elapsed": elapsed}


def names_section(nm: dict) -> list[str]:  # type: ignore[type-arg]
    runs: list[Run] = nm["runs"]
    cli = runs[0]
    curl = next(r for r in runs if r.client == "curl --parallel")
    out = [f"## (n) {nm['count']:,} host names, AAAA answered after {nm['aaaa_delay']:g} s "
           f"({nm['n']:,} × 1 KB, -c {nm['conns']} --per-host {nm['per_host']})", "",
           "The names are in a private /etc/hosts (IPv4 only); their AAAA questions go to a local DNS server "
           f"that answers after {nm['aaaa_delay']:g} s. Every client runs in that private mount namespace "
           "(`multifetch.testing.PrivateResolver`) and resolves through the system resolver. Clients given fewer "
           "requests get fewer names, as many requests a name as in the full run. multifetch runs stop at "
           f"{nm['max_time']:g} s (`--deadline`). Every client ran {NAMES_ROUNDS} times, in turn, each {NAMES_SETTLE:g} s "
           "after the one before had exited (the server closes its idle connections meanwhile), and keeps its "
           "faster run; the DNS column counts the questions that run sent. "
           "No wrk: it resolves one name once. niquests is left out: its peer script hangs once a run has more "
           "hosts than its 4 pools.", "",
           "| client | requests | req/s | peak RSS MB | CPU s / 1,000 req | DNS questions A / AAAA "
           "| multifetch CLI ÷ client |",
           "|---|---|---|---|---|---|---|"]
    for r in runs:
        a, aaaa = nm["asked"][r.client]
        if r.failure and not r.rate:
            failure = r.failure.splitlines()[-1] if r.failure.strip() else r.failure
            done = f" ({r.ok:,} in {r.wall:.0f} s)" if r.wall else ""
            out.append(f"| {r.client} | {r.requests:,} | {failure}{done} | | | {a:,} / {aaaa:,} | |")
            continue
        cpu = r.cpu / r.ok * 1000 if r.ok else 0.0
        ratio = f"{cli.rate / r.rate:.2f}" if r.rate and cli.rate else ""
        out.append(f"| {r.client} | {r.requests:,} | {r.rate:,.0f} | {r.rss_mb:.0f} | {cpu:.3f} | {a:,} / {aaaa:,} "
                   f"| {ratio} |")
    out.append("")
    for label, (p50, p99, top) in nm["elapsed"].items():
        out.append(f"{label}: `elapsed` of the successful records p50 {p50:.3f} s, p99 {p99:.3f} s, "
                   f"max {top:.3f} s.  ")
    ratio = cli.rate / curl.rate if curl.rate else 0.0
    unfinished = f"; the CLI did not finish: {cli.ok:,} of {cli.requests:,} in {cli.wall:.0f} s" if cli.failure else ""
    out += ["", f"multifetch CLI ÷ curl --parallel: **{ratio:.2f}** (target ≥ 1.0{unfinished}).", ""]
    return out


# ---- (w) the web mix ------------------------------------------------------------------------------

# The peers of (w), each with the share of the hosts it is given (the classic pattern: a tenth of them,
# 20 requests each as in the full run). All without per-host limits, as their documentation shows them.
WEBMIX_PEERS = (("aiohttp + uvloop", "aiohttp_peer.py", 1),
                ("pyreqwest (Rust: reqwest, hyper)", "pyreqwest_peer.py", 1),
                ("rnet (Rust: wreq)", "rnet_peer.py", 1),
                ("requests.get in ThreadPoolExecutor (classic)", "classic.py", 10))
WEBMIX_TIMEOUT = 240  # seconds a client may take: the slowest peers need about 100 s on a quiet machine


def webmix(count: int = 2000, per_name: int = 20, conns: int = 256, per_host: int = 4,
           max_time: float = 200.0) -> dict[str, object]:
    """(w): ``count`` HTTPS host names with ``per_name`` requests each, on the web-mix nginx
    (bench/webmix.py), resolved by the system resolver in a private mount namespace whose DNS server
    (on 127.53.x.y) knows them; AAAA questions are answered at once, empty. multifetch runs with
    ``per_host`` connections a host, curl and the peers without a per-host limit; all with ``conns``."""
    import webmix

    from multifetch.testing import PrivateResolver

    print(f"(w) web mix: {count:,} HTTPS host names, {count * per_name:,} requests, {conns} connections "
          f"(multifetch {per_host} a host)", flush=True)
    folder = WORK / "webmix"
    folder.mkdir(parents=True, exist_ok=True)
    hosts = webmix.make_hosts(count)
    runs: list[Run] = []
    asked: dict[str, tuple[int, int]] = {}
    loads: dict[str, float] = {}
    with webmix.site(folder, hosts) as (port, cafile), \
            PrivateResolver(records={h.name: [h.address] for h in hosts}, aaaa_delay=0.0) as env:
        def urls(share: int) -> tuple[Path, list[webmix.Url]]:
            """The URLs of the first count ÷ ``share`` hosts, 20 a host, and the file listing them."""
            chosen = webmix.make_urls(hosts[: count // share], port, per_name)
            src = folder / f"urls-{share}.txt"
            src.write_text("".join(u.url + "\n" for u in chosen))
            return src, chosen

        full, every = urls(1)
        # What a patient client gets 200 for: all but the errors; the throttled hosts' answers may
        # stay 429 for clients that do not retry them.
        patient = sum(u.outcome != "error" for u in every)
        at_least = sum(u.outcome != "error" and u.host.kind != "throttled" for u in every)

        def client(label: str, cmd: list[str], m: int, count_ok: object, least: int) -> None:
            env.dns.reset()
            loads[label] = os.getloadavg()[0]
            run = measure(label, env.command(*cmd), m, count_ok, least, WEBMIX_TIMEOUT)
            runs.append(run)
            asked[label] = (env.dns.total("A"), env.dns.total("AAAA"))
            print(f"    {label:45s} {run.wall:7.2f} s {run.ok:7,} × 200 {run.rss_mb:7.1f} MB {run.cpu:6.1f} CPU-s "
                  f"(load {loads[label]:.2f}) {run.failure or ''}", flush=True)

        out = folder / "out.jsonl"
        out.unlink(missing_ok=True)
        cli = [MF, "fetch", str(full), "-o", str(out), "-q", "-c", str(conns), "--per-host", str(per_host),
               "--cacert", cafile, "--deadline", str(max_time)]
        client("multifetch CLI (JSONL to a file)", ["sh", "-c", SOME_FAILED_IS_A_RUN, "sh", *cli], len(every),
               lambda _o: records_ok(out), at_least)
        code = ("import multifetch,sys\n"
                "urls=(line.strip() for line in open(sys.argv[1]))\n"
                f"ok=sum(r.status_code == 200 for r in multifetch.fetch(urls, concurrency={conns}, "
                f"per_host={per_host}, cafile={cafile!r}, bodies='hash', deadline={max_time}))\n"
                "print(ok)\n")
        client("multifetch API (iterating results)", [sys.executable, "-c", code, str(full)], len(every), None,
               at_least)
        cfg = folder / "curl.cfg"
        cfg.write_text("".join(f'url = "{u.url}"\noutput = "/dev/null"\n' for u in every))
        client("curl --parallel", ["curl", "--parallel", "--parallel-max", str(conns), "-K", str(cfg), "-s", "-L",
                                   "--compressed", "--cacert", cafile, "--max-time", "60", "-w", "%{http_code}\\n"],
               len(every), lambda o: o.split().count("200"), at_least)
        for label, script, share in WEBMIX_PEERS:
            src, chosen = urls(share)
            least = sum(u.outcome != "error" and u.host.kind != "throttled" for u in chosen)
            client(label, [str(PEER_VENV / "bin" / "python"), str(PEERS / script), str(src), str(conns), cafile,
                           "auto"], len(chosen), None, least)
    return {"count": count, "n": len(every), "conns": conns, "per_host": per_host, "max_time": max_time,
            "patient": patient, "at_least": at_least, "runs": runs, "asked": asked, "loads": loads,
            "floor": webmix.floor_seconds(every, conns), "slowest": webmix.slowest_host_seconds(every, per_host),
            "mix": {"fastest": webmix.FASTEST, "slowest": webmix.SLOWEST, "slow": webmix.SLOW_DELAY,
                    "rate": webmix.THROTTLE_RATE, "retry_after": webmix.RETRY_AFTER}}


def webmix_section(wm: dict) -> list[str]:  # type: ignore[type-arg]
    """The (w) section of RESULTS.md: wall times, the ratios the targets are set on, what the mix is."""
    runs: list[Run] = wm["runs"]
    cli = runs[0]
    curl = next(r for r in runs if r.client == "curl --parallel")
    full = [r for r in runs if r.requests == wm["n"] and not r.failure]
    python = [r for r in full if not r.client.startswith(("multifetch", "curl"))]
    fastest = min(python, key=lambda r: r.wall, default=None)
    mix = wm["mix"]
    out = [f"## (w) web mix: {wm['count']:,} HTTPS host names, {wm['n']:,} requests "
           f"(-c {wm['conns']}; multifetch --per-host {wm['per_host']})", "",
           "The names resolve through the system resolver in a private mount namespace whose resolv.conf names "
           "a local DNS server (A from the server, AAAA answered at once, empty); each name has its own "
           "127.20.x.y address. One nginx (1 worker) answers on all of them over HTTPS (TLS 1.3) with a wildcard "
           "certificate from a local CA chosen by SNI; HTTP/2 by ALPN on half of the hosts, HTTP/1.1 only on the "
           f"others. Each host answers after its own delay ({mix['fastest'] * 1000:g}–{mix['slowest'] * 1000:g} ms, "
           f"log-uniform); one host in 20 takes {mix['slow']:g} s; one in 50 takes {mix['rate']} request a second "
           f"and answers 429 with `Retry-After: {mix['retry_after']}` to any request sooner (nginx `limit_req`). Bodies "
           "of 1 KB to 1 MB (most small, about 30 KB on average), text gzipped for clients that accept it; 1 % "
           "of the URLs answer 500 or 404, 1 % redirect once. 20 requests a name, in shuffled order "
           "(bench/webmix.py).", "",
           f"multifetch runs with `-c {wm['conns']} --per-host {wm['per_host']}` (its defaults otherwise: 2 retries "
           f"of 429/5xx honouring Retry-After, `--deadline {wm['max_time']:g}`); curl (`--parallel-max "
           f"{wm['conns']} -L --compressed`) and the peers ({wm['conns']} connections) have no per-host limit "
           "and do not retry. So clients differ in the 200 answers they get: "
           f"{wm['patient']:,} for a client that waits out every 429, at least {wm['at_least']:,} for any. "
           "The classic pattern gets a tenth of the names (the same mix). req/s is the requests answered "
           "(whatever the status) ÷ wall time.", "",
           f"Least possible wall time (every answer holds a transfer for its host's delay, {wm['conns']} at a "
           f"time): {wm['floor']:.1f} s; the slowest host alone, {wm['per_host']} at a time: {wm['slowest']:.1f} s. "
           "The machine's 1-minute load average when each run started is given: the machine is shared.", "",
           "| client | requests | wall s | req/s | 200 answers | peak RSS MB | CPU s / 1,000 req "
           "| DNS questions A / AAAA | load | multifetch CLI wall ÷ client's |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        a, aaaa = wm["asked"][r.client]
        load = f"{wm['loads'][r.client]:.1f}"
        if r.failure and not r.ok:
            failure = r.failure.splitlines()[-1] if r.failure.strip() else r.failure
            out.append(f"| {r.client} | {r.requests:,} | {failure} | | | | | {a:,} / {aaaa:,} | {load} | |")
            continue
        ratio = f"{cli.wall / r.wall:.2f}" if r.requests == wm["n"] and r.wall and cli.wall else ""
        note = f" ({r.failure})" if r.failure else ""
        out.append(f"| {r.client} | {r.requests:,} | {r.wall:.2f}{note} | {r.requests / r.wall:,.0f} | {r.ok:,} "
                   f"| {r.rss_mb:.0f} | {r.cpu / r.requests * 1000:.3f} | {a:,} / {aaaa:,} | {load} | {ratio} |")

    def ratio(a: Run, b: Run | None) -> str:
        return f"{a.wall / b.wall:.2f}" if b and a.wall and b.wall and not a.failure and not b.failure else "n/a"

    peer = (f"the fastest: {fastest.client}, {fastest.wall:.2f} s" if fastest else
            "no Python peer answered every request")
    out += ["", f"Targets, same run: multifetch CLI wall ÷ curl --parallel's **{ratio(cli, curl)}** (target ≤ 0.7); "
            f"÷ the fastest Python peer's **{ratio(cli, fastest)}** (target ≤ 0.8; {peer}); "
            f"multifetch CLI peak RSS **{cli.rss_mb:.0f} MB** (target ≤ 150).", ""]
    return out


def startup(base: str) -> dict[str, object]:
    def timed(cmd: list[str], times: int) -> float:
        samples = []
        for _ in range(times):
            t = time.perf_counter()
            subprocess.run(cmd, capture_output=True, check=True)
            samples.append(time.perf_counter() - t)
        return statistics.median(samples)

    version = timed([MF, "--version"], 9)
    one = timed([MF, "fetch", base + "/1k", "-q"], 5)
    trace = subprocess.run([sys.executable, "-X", "importtime", "-m", "multifetch", "--version"],
                           capture_output=True, text=True, check=True).stderr
    heavy = sorted({m for m in ("rich", "dask", "distributed", "sqlite3", "asyncio", "requests", "multiprocessing",
                                "concurrent")
                    if re.search(rf"\|\s+{m}$", trace, re.M)})
    print(f"(f) --version {version:.3f} s, one URL {one:.3f} s, heavy imports: {heavy or 'none'}", flush=True)
    return {"version": version, "one": one, "heavy": heavy}


# ---- the report ---------------------------------------------------------------------------------

def targets(w: dict[str, object]) -> list[str]:
    """The issue's target ratios for (a), (h1) and (h2), from the same run; Python peers are every client
    that is not multifetch, curl or wrk."""
    goals = {"a": (1.0, 1.5, None), "h1": (1.0, 1.2, 1.2), "h2": (1.0, 1.2, 1.2)}
    if w["key"] not in goals:
        return []
    on_curl, on_peer, api_on_curl = goals[str(w["key"])]
    runs: list[Run] = w["runs"]  # type: ignore[assignment]
    cli, api, cli_p2, api_p2 = (r.rate for r in runs[:4])
    curl = next((r.rate for r in runs if r.client == "curl --parallel"), 0.0)
    python = [r for r in runs if r.rate and not r.client.startswith(("multifetch", "curl --parallel"))]
    fastest = max(python, key=lambda r: r.rate, default=None)

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}" if a and b else "n/a"

    parts = [f"CLI ÷ curl --parallel **{ratio(cli, curl)}** (-P 2: {ratio(cli_p2, curl)}; target ≥ {on_curl})"]
    if fastest:
        parts.append(f"CLI ÷ fastest Python peer **{ratio(cli, fastest.rate)}** (-P 2: {ratio(cli_p2, fastest.rate)}; "
                     f"target ≥ {on_peer}; the fastest: {fastest.client}, {fastest.rate:,.0f} req/s)")
    if api_on_curl:
        parts.append(f"API ÷ curl --parallel **{ratio(api, curl)}** (processes=2: {ratio(api_p2, curl)}; "
                     f"target ≥ {api_on_curl})")
    return ["Targets, one process (-P 2 / processes=2 in brackets): " + "; ".join(parts) + ".", ""]


def write_results(results: list[dict[str, object]], d: dict, e: dict, f: dict, g: dict, nm: dict | None = None,  # type: ignore[type-arg]
                  wm: dict | None = None) -> None:  # type: ignore[type-arg]
    import pycurl

    import multifetch
    from multifetch.transports import curl

    built = "its per-request modules compiled (setup.py)" if (curl.__file__ or "").endswith(".so") else "as Python"
    out = [
        "# Benchmark results",
        "",
        f"Written by `make bench` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, one run "
        f"(for (a), (h1) and (h2), each client's fastest of {ROUNDS['a']} rounds in it; for (n), of {NAMES_ROUNDS}).",
        f"Machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}; "
        f"multifetch {multifetch.__version__}, {built}; {pycurl.version.split()[0]} {pycurl.version.split()[1]}.",
        "Target: Debian's nginx (1 worker, echo module for delays) on 127.0.0.1. Client and server share the "
        "2 cores. Each peer is written the way its documentation recommends (bench/peers/) and runs from its "
        "own venv. Slow peers get fewer requests (the `requests` column) so the run stays bounded; rates are "
        "comparable, counts are not. RSS is the peak resident set of the client process (GNU time; with "
        "-P 2 the largest of its processes); CPU counts every process of the client.",
        "",
    ]
    for w in results:
        runs: list[Run] = w["runs"]  # type: ignore[assignment]
        one, api, cli_p2, api_p2 = runs[0].rate, runs[1].rate, runs[2].rate, runs[3].rate
        mf_rate = max(one, cli_p2)  # the ratio column: the faster of the two CLI runs
        bound = w["bound"]
        out += [f"## ({w['key']}) {w['title']}", "",
                *([str(w["note"]), ""] if w.get("note") else []),
                f"wrk: {w['wrk']:,.0f} req/s" + (f"; bound (connections ÷ delay): {bound:,.0f} req/s" if bound else ""),
                "", "The last column divides the faster multifetch CLI run (one process or -P 2) by each client."
                + (f" Every client ran {w['rounds']} times, in turn (all of them, round after round), and keeps its "
                   "fastest run: on this shared machine another tenant's burst moves one run by up to a fifth."
                   if w.get("rounds", 1) > 1 else "")
                + (" multifetch's request count lasts about as long as wrk's 8-second run at the bound, so both"
                   " pay the connection set-up over the same time." if w["key"] == "c" else ""),
                "", "| client | requests | req/s | peak RSS MB | CPU s / 1,000 req | multifetch CLI ÷ client |",
                "|---|---|---|---|---|---|"]
        for r in runs:
            if r.failure and not r.rate:
                out.append(f"| {r.client} | {r.requests:,} | {r.failure} | | | |")
                continue
            cpu = r.cpu / r.ok * 1000 if r.ok else 0.0
            ratio = mf_rate / r.rate if r.rate else 0.0
            out.append(f"| {r.client} | {r.requests:,} | {r.rate:,.0f} | {r.rss_mb:.0f} | {cpu:.3f} | {ratio:.2f} |")
        ref = bound or w["wrk"]
        out.append(f"| wrk (C, the practical bound) | | {w['wrk']:,.0f} | | | {mf_rate / w['wrk']:.2f} |")
        name = "bound" if bound else "wrk"
        out += ["", f"multifetch CLI ÷ {name}: **{one / ref:.2f}** one process, **{cli_p2 / ref:.2f}** with -P 2; "
                f"API ÷ {name}: **{api / ref:.2f}** one process, **{api_p2 / ref:.2f}** with processes=2.", ""]
        out += targets(w)
    out += ["## (d) 20 files of 50 MB saved to disk, 8 at a time", "",
            "Each client three times (after `sync`); the median wall time, the largest peak RSS. multifetch also "
            "computes every file's SHA-256 (about 0.5 CPU-seconds for the 1 GB here); curl and aria2c do not.", "",
            "| client | wall s | peak RSS MB | files complete |", "|---|---|---|---|"]
    for r in d["runs"]:
        out.append(f"| {r.client} | {r.wall:.2f} | {r.rss_mb:.0f} | {r.failure or r.ok} |")
    curl = next(r for r in d["runs"] if r.client.startswith("curl"))
    out += ["", f"multifetch wall ÷ curl --parallel: **{d['runs'][0].wall / curl.wall:.2f}** (target ≤ 1.1).", ""]
    small, large = e["small"], e["large"]
    out += ["## (e) inputs streamed through (CLI, 1 KB answers, 64 connections)", "",
            "| inputs | req/s | peak RSS MB |", "|---|---|---|",
            f"| 100,000 | {small.rate:,.0f} | {small.rss_mb:.0f} |",
            f"| 1,000,000 | {large.rate:,.0f} | {large.rss_mb:.0f} |", "",
            f"RSS at 1,000,000 ÷ at 100,000: **{large.rss_mb / small.rss_mb:.2f}** (target ≤ 1.15; ≤ 100 MB).", "",
            "## (f) start-up", "",
            f"`multifetch --version`: **{f['version']:.3f} s** (median of 9, target ≤ 0.15 s); "
            f"`multifetch fetch URL` of one URL: {f['one']:.3f} s (median of 5). "
            f"Heavy modules imported by `--version`: {', '.join(f['heavy']) or 'none'}.", "",
            ""]
    import cluster_scale

    out += cluster_scale.section(g)
    if nm is not None:
        out += names_section(nm)
    if wm is not None:
        out += webmix_section(wm)
    (HERE / "RESULTS.md").write_text("\n".join(out))
    print("\n".join(out))


def prepare() -> None:
    WORK.mkdir(exist_ok=True)
    for stale in [*WORK.glob("urls*.txt"), *WORK.glob("curl*.cfg")]:
        stale.unlink()  # they name the previous run's nginx port
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # wrk, curl and nginx: one fd a connection
    ensure_peers()


def webmix_alone(count: int) -> None:
    """(w) by itself, for working on it: the section goes to work/webmix.md and stdout, not RESULTS.md."""
    prepare()
    section = webmix_section(webmix(count))
    (WORK / "webmix.md").write_text("\n".join(section))
    print("\n".join(section))


def names_alone() -> None:
    """(n) by itself: the section goes to work/names.md and stdout, not RESULTS.md."""
    prepare()
    with nginx() as base:
        section = names_section(names(base))
    (WORK / "names.md").write_text("\n".join(section))
    print("\n".join(section))


def cluster_alone() -> None:
    """(g) by itself: the section goes to work/cluster.md and stdout, not RESULTS.md."""
    WORK.mkdir(exist_ok=True)
    with nginx() as base, tls_nginx() as tls:
        g = cluster(base, tls)
    import cluster_scale

    section = cluster_scale.section(g)
    (WORK / "cluster.md").write_text("\n".join(section))
    print("\n".join(section))


def main() -> None:
    prepare()
    os.sync()  # the peers' venv, when just made, is still being written back: not during (a)
    with nginx() as base:
        results = [
            throughput(base, "a", "1 KB responses, 64 connections", "/1k", 64, 100_000, None,
                       {"classic": 3000, "requests-futures": 3000, "grequests": 3000, "aiohttp": 30_000,
                        "httpx": 3000, "niquests": 5000, "curl_cffi": 10_000, "pyreqwest": 50_000,
                        "rnet": 30_000, "requests-engine": 5000}),
            throughput(base, "b", "50 ms delay, 500 connections", "/delay50", 500, 100_000, 10_000.0,
                       {"classic": 5000, "requests-futures": 5000, "grequests": 5000, "aiohttp": 20_000,
                        "httpx": 2000, "niquests": 5000, "curl_cffi": 10_000, "pyreqwest": 20_000,
                        "rnet": 20_000, "requests-engine": 10_000}),
            # 200,000 at the bound is 8 s: the length of wrk's run, so both pay the 5,000 connects once
            throughput(base, "c", "200 ms delay, 5,000 connections", "/delay200", 5000, 200_000, 25_000.0,
                       {"aiohttp": 50_000, "httpx": 2000, "niquests": 5000, "curl_cffi": 20_000,
                        "pyreqwest": 50_000, "rnet": 50_000, "curl": 50_000}),
        ]
        d = downloads(base)
        e = streaming(base)
        f = startup(base)
        nm = names(base)
        with tls_nginx() as tls:
            g = cluster(base, tls)
    with tls_nginx() as (tls_base, cafile):
        results += https(tls_base, cafile)
    wm = webmix()
    write_results(results, d, e, f, g, nm, wm)
    (WORK / "last.json").write_text(json.dumps({"done": time.time()}))


if __name__ == "__main__":
    if sys.argv[1:2] == ["w"]:
        webmix_alone(int(sys.argv[2]) if len(sys.argv) > 2 else 2000)
    elif sys.argv[1:2] == ["g"]:
        cluster_alone()
    elif sys.argv[1:2] == ["n"]:
        names_alone()
    else:
        main()
