"""The web-mix site of workload (w): thousands of HTTPS host names on one nginx, as mixed as the web.

Every host name has its own loopback address (127.20.x.y) and answers on the same port there:

- HTTPS from a local trustme CA: a wildcard certificate for ``*.web.test``, chosen by SNI (a client that
  sends no SNI gets the default server's certificate, for ``no-sni.invalid``, and fails to verify it);
  HTTP/2 offered by ALPN on half of the hosts (their addresses listen with ``http2``), HTTP/1.1 only on
  the other half;
- each host answers after its own delay, spread from 10 to 300 ms (log-uniform, as latencies are); one
  host in 20 is slow (2 s); one in 50 throttles: it answers 429 with ``Retry-After: 1`` to a request
  that comes less than a second after the last one it took (nginx ``limit_req``, 1 r/s, no burst);
- bodies from 1 KB to 1 MB, most of them small; text (HTML, JSON) is served gzipped to clients that
  accept it (``gzip_static``: compressed once, so nginx spends no CPU on it), images are incompressible;
- 1 % of the URLs answer an error (500 or 404) and 1 % redirect (302) to a file on the same host.

The URL list gives every host the same number of requests, in a shuffled order (input lists are not
sorted by host). Everything is made from fixed seeds: two runs fetch the same URLs.
"""

from __future__ import annotations

import gzip
import math
import os
import random
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from multifetch.testing import host_names
from multifetch.testing._nginx import free_port

DOMAIN = "web.test"
SLOW_DELAY = 2.0
FASTEST, SLOWEST = 0.010, 0.300
# A throttling host takes one request a second (no burst: nginx limit_req at 1 r/s); any sooner gets 429.
# Its 20 requests come a second or two apart on average in a shuffled 40,000-request run, so clients
# that spread them get a few 429s, clients that send them together get many.
THROTTLE_RATE, RETRY_AFTER = 1, 1  # requests a second a host; seconds
ERROR_EVERY = REDIRECT_EVERY = 100  # 1 % each
ECHO_MODULE = "/usr/lib/nginx/modules/ngx_http_echo_module.so"
# TLS 1.3 only, sessions resumable (tickets and a cache), as bench/run.py's HTTPS server.
TLS = "ssl_protocols TLSv1.3; ssl_session_cache shared:webmix:20m; ssl_session_timeout 1h;"

# Body sizes and how often each is asked for: most answers are small, a few are large (mean about 30 KB).
SIZES = {1 << 10: 35, 4 << 10: 30, 16 << 10: 20, 64 << 10: 10, 256 << 10: 4, 1 << 20: 1}
# Kinds of body: extension, compressible, how often.
KINDS = (("html", True, 40), ("json", True, 20), ("jpg", False, 40))
TYPES = "types { text/html html; application/json json; image/jpeg jpg; }"


@dataclass(frozen=True)
class Host:
    name: str
    address: str
    http2: bool
    delay: float  # seconds before every answer
    kind: str  # "plain", "slow" (2 s) or "throttled" (429 with Retry-After to requests too close together)


def make_hosts(count: int, seed: int = 20) -> list[Host]:
    """``count`` hosts; the first ``k`` of them are the same mix for any ``count`` ≥ ``k`` (every 20th slow,
    every 50th throttled, HTTP/2 on alternate blocks of 20), so a client given fewer hosts sees the mix."""
    rng = random.Random(seed)
    hosts = []
    for i, name in enumerate(host_names(count, DOMAIN)):
        delay = math.exp(rng.uniform(math.log(FASTEST), math.log(SLOWEST)))
        kind = "slow" if i % 20 == 7 else "throttled" if i % 50 == 25 else "plain"
        hosts.append(Host(name, f"127.20.{i // 250}.{i % 250 + 1}", (i // 20) % 2 == 0,
                          SLOW_DELAY if kind == "slow" else round(delay, 3), kind))
    return hosts


@dataclass(frozen=True)
class Url:
    url: str
    host: Host
    outcome: str  # "file", "redirect" or "error"


def make_urls(hosts: list[Host], port: int, per_host: int, seed: int = 21) -> list[Url]:
    """``per_host`` URLs a host, shuffled; every 100th is an error, every 100th (another) a redirect."""
    rng = random.Random(seed)
    sizes, size_weights = list(SIZES), list(SIZES.values())
    kinds, kind_weights = [k[0] for k in KINDS], [k[2] for k in KINDS]
    urls = []
    for g in range(len(hosts) * per_host):
        host = hosts[g % len(hosts)]
        base = f"https://{host.name}:{port}"
        file = f"{rng.choices(sizes, size_weights)[0] >> 10}k.{rng.choices(kinds, kind_weights)[0]}"
        if g % ERROR_EVERY == 37:
            urls.append(Url(f"{base}/e/{500 if (g // ERROR_EVERY) % 2 else 404}?i={g}", host, "error"))
        elif g % REDIRECT_EVERY == 71:
            urls.append(Url(f"{base}/r/{file}?i={g}", host, "redirect"))
        else:
            urls.append(Url(f"{base}/f/{file}?i={g}", host, "file"))
    rng.shuffle(urls)
    return urls


def _held(u: Url) -> float:
    return u.host.delay * (2 if u.outcome == "redirect" else 1)


def floor_seconds(urls: list[Url], conns: int) -> float:
    """The least wall time of any client: every answer holds a transfer for its host's delay (a redirect
    twice), ``conns`` at a time. Throttling is left out (a client that does not retry is not held by it)."""
    return sum(_held(u) for u in urls) / conns


def slowest_host_seconds(urls: list[Url], per_host: int) -> float:
    """The least time of the slowest host alone, its answers ``per_host`` at a time."""
    busy: dict[str, float] = {}
    for u in urls:
        busy[u.host.name] = busy.get(u.host.name, 0.0) + _held(u)
    return max(busy.values()) / per_host


def _text(size: int, rng: random.Random, json: bool) -> bytes:
    """Words from a small vocabulary: compresses about as well as real pages do (3-4×)."""
    vocabulary = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(2, 9))) for _ in range(400)]
    ranks = [1 / (r + 1) for r in range(len(vocabulary))]  # Zipf: a few words are most of the text

    def words(k: int) -> str:
        return " ".join(rng.choices(vocabulary, ranks, k=k))

    out: list[str] = []
    length = 0
    while length < size:
        piece = (f'{{"id": {rng.randint(0, 99999)}, "name": "{words(1)}", "text": "{words(12)}"}},\n' if json
                 else f'<p class="c{rng.randint(0, 9)}">{words(rng.randint(8, 30))}</p>\n')
        out.append(piece)
        length += len(piece)
    return "".join(out).encode()[:size]


def write_files(www: Path, seed: int = 22) -> None:
    """One file a size and kind, plus ``.gz`` beside each text file for ``gzip_static``."""
    rng = random.Random(seed)
    www.mkdir(parents=True, exist_ok=True)
    for size in SIZES:
        for ext, text, _weight in KINDS:
            path = www / f"{size >> 10}k.{ext}"
            if path.exists() and path.stat().st_size == size:
                continue
            body = _text(size, rng, ext == "json") if text else rng.randbytes(size)
            path.write_bytes(body)
            if text:
                (www / f"{path.name}.gz").write_bytes(gzip.compress(body, 6, mtime=0))


def _config(root: Path, hosts: list[Host], port: int, cert: tuple[Path, Path], no_sni: tuple[Path, Path]) -> str:
    listens = [f"listen {h.address}:{port} ssl{' http2' if h.http2 else ''}" for h in hosts]
    # listen options other than ssl/http2 go once per address: in the default server
    defaults = [f"{line} backlog=4096 default_server" for line in listens]
    delays = "".join(f"        {h.name} {h.delay:g};\n" for h in hosts)
    throttled = "".join(f"        {h.name} $host;\n" for h in hosts if h.kind == "throttled")
    temp = "".join(f"{k}_temp_path {root}/tmp; " for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    # Every answer waits its host's delay (echo_sleep), then goes on as an internal redirect to /s/...,
    # where the file is served (with gzip_static), the redirect or the error made.
    delayed = "limit_req zone=throttle; echo_sleep $delay; echo_exec /s$uri;"
    user = "user root;" if os.geteuid() == 0 else ""  # workers must read 0700 temp folders
    return f"""{user}
load_module {ECHO_MODULE};
daemon off;
worker_processes 1;
worker_rlimit_nofile 65536;
pid {root}/nginx.pid;
error_log {root}/error.log;
events {{ worker_connections 20000; }}
http {{
    access_log off;
    {temp}
    {TYPES}
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    map_hash_max_size 8192;
    map_hash_bucket_size 128;
    map $host $delay {{
        hostnames;
        default 0.1;
{delays}    }}
    map $host $throttle {{
        hostnames;
        default "";
{throttled}    }}
    map $status $retry_after {{ 429 {RETRY_AFTER}; default ""; }}
    limit_req_zone $throttle zone=throttle:4m rate={THROTTLE_RATE}r/s;
    limit_req_status 429;
    limit_req_log_level info;
    {TLS}
    server {{
        {"; ".join(defaults)};
        ssl_certificate {no_sni[0]}; ssl_certificate_key {no_sni[1]};
        return 421;
    }}
    server {{
        {"; ".join(listens)};
        server_name *.{DOMAIN};
        ssl_certificate {cert[0]}; ssl_certificate_key {cert[1]};
        add_header Retry-After $retry_after always;
        location /f/ {{ {delayed} }}
        location /r/ {{ {delayed} }}
        location /e/ {{ {delayed} }}
        location /s/f/ {{ internal; alias {root}/www/; gzip_static on; gzip_vary on; }}
        location /s/r/ {{ internal; rewrite ^/s/r/(.*)$ /f/$1 redirect; }}
        location = /s/e/500 {{ internal; return 500; }}
        location = /s/e/404 {{ internal; return 404; }}
    }}
}}
"""


def free_port_everywhere(hosts: list[Host], tries: int = 20) -> int:
    """A port free on 127.0.0.1 and on every host's address."""
    for _ in range(tries):
        port = free_port()
        try:
            for h in hosts:
                with socket.socket() as s:
                    s.bind((h.address, port))
        except OSError:
            continue
        return port
    raise RuntimeError("no port free on every web-mix address")


@contextmanager
def site(root: Path, hosts: list[Host]) -> Iterator[tuple[int, str]]:
    """nginx serving the web mix for ``hosts``; yields the port and the CA file that verifies it."""
    import trustme

    shutil.rmtree(root / "tmp", ignore_errors=True)
    (root / "tmp").mkdir(parents=True)
    write_files(root / "www")
    ca = trustme.CA()
    cafile = root / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    pairs = []
    for name, identity in (("wildcard", f"*.{DOMAIN}"), ("no-sni", "no-sni.invalid")):
        issued = ca.issue_cert(identity)
        cert, key = root / f"{name}.pem", root / f"{name}.key"
        cert.write_bytes(b"".join(blob.bytes() for blob in issued.cert_chain_pems))
        issued.private_key_pem.write_to_path(str(key))
        pairs.append((cert, key))
    port = free_port_everywhere(hosts)
    (root / "nginx.conf").write_text(_config(root, hosts, port, pairs[0], pairs[1]))
    log = root / "error.log"
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    proc = subprocess.Popen([binary, "-c", str(root / "nginx.conf"), "-e", str(log)])
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the web-mix nginx did not start: {log.read_text()[-500:]}")
            try:
                socket.create_connection((hosts[-1].address, port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield port, str(cafile)
    finally:
        proc.terminate()
        proc.wait(10)
